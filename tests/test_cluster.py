"""relemb.cluster: embedding a pair file with Ray Data (local Ray, 2 actors) equals one process; shards back to a
PairIndex (pyarrow only). The Ray tests skip where ray is not installed (extra ``relemb[ray]``)."""

from __future__ import annotations

import csv
import random
import subprocess
import sys

import numpy as np
import pytest

from relemb._compat import is_installed
from relemb.neighbors import SHARD_METADATA_FILE, PairIndex, read_embedding_shards, shard_files
from relemb.testing import WORDS


def tiny_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` pairs of words the tiny tokenizer knows, some repeated (order and duplicates must survive)."""
    words = sorted(set(WORDS.split()) - {"a", "b", "c", "d"})
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        head, tail = rng.sample(words, 2)
        pairs.append((head, tail))
    pairs[10] = pairs[3]  # a duplicate
    return pairs


def write_csv(path, pairs) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "head", "tail"])
        writer.writerows((i, head, tail) for i, (head, tail) in enumerate(pairs))


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'relemb[ray]')")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()


def test_relemb_and_model_do_not_import_ray():
    code = "import sys, relemb, relemb.model, relemb.neighbors; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_ray_embedding_equals_one_process(local_ray, tiny_bert_path, tmp_path):
    from relemb import RelBERT
    from relemb.cluster import embed_dataset, read_pair_dataset

    pairs = tiny_pairs(300)
    write_csv(tmp_path / "pairs.csv", pairs)
    dataset = read_pair_dataset(tmp_path / "pairs.csv").repartition(6)  # several blocks for the 2 actors
    # 2 actors of half a CPU each: one of the 2 CPUs stays free for the read and write tasks
    out = embed_dataset(
        dataset,
        tiny_bert_path,
        tmp_path / "shards",
        concurrency=2,
        num_cpus=0.5,
        rows_per_batch=40,
        load_kwargs={"device": "cpu"},
    )
    assert len(shard_files(out)) > 1
    got, vectors, metadata = read_embedding_shards(out)
    assert got == pairs  # order and duplicates kept
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    expected = model.get_embedding(pairs)
    assert vectors.dtype == np.float32 and vectors.shape == expected.shape
    np.testing.assert_allclose(vectors, expected, atol=1e-6, rtol=0)
    assert metadata["template"] == model.template and metadata["dim"] == model.embedding_dim
    # other input columns travel with the rows
    import pyarrow.parquet as pq

    ids = [i for file in shard_files(out) for i in pq.read_table(file, columns=["id"]).column("id").to_pylist()]
    assert ids == list(range(len(pairs)))

    # the index built from the shards answers like one built in memory, and knows its model
    index = PairIndex.from_shards(out)
    reference = PairIndex(pairs, expected)
    query = model.get_embedding(("puppy", "dog"))
    hits, expected_hits = index.search(query, k=5), reference.search(query, k=5)
    assert [h.pair for h in hits] == [h.pair for h in expected_hits]
    assert [h.score for h in hits] == pytest.approx([h.score for h in expected_hits], abs=1e-6)
    assert len(index) == len(set(pairs))
    assert model.most_similar(("puppy", "dog"), index, k=3) == model.most_similar(("puppy", "dog"), reference, k=3)


def test_ray_reads_tsv_pair_files(local_ray, tmp_path):
    from relemb.cluster import read_pair_dataset

    (tmp_path / "pairs.tsv").write_text("head\ttail\nbaker\tbread\nice cream\tcold\n", encoding="utf-8")
    rows = read_pair_dataset(tmp_path / "pairs.tsv").take_all()
    assert [(row["head"], row["tail"]) for row in rows] == [("baker", "bread"), ("ice cream", "cold")]
    with pytest.raises(ValueError, match="cannot tell the format"):
        read_pair_dataset(tmp_path / "pairs.dat")


def test_index_from_shards_without_ray(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    pairs = tiny_pairs(50)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    for part, rows in enumerate((slice(0, 20), slice(20, 50))):
        column = pa.FixedSizeListArray.from_arrays(pa.array(vectors[rows].reshape(-1)), 8)
        table = pa.table(
            {"head": [h for h, _ in pairs[rows]], "tail": [t for _, t in pairs[rows]], "embedding": column}
        )
        pq.write_table(table, tmp_path / f"part-{part:03d}.parquet")
    (tmp_path / SHARD_METADATA_FILE).write_text('{"pooling": "mask", "dim": 8}', encoding="utf-8")
    got, matrix, metadata = read_embedding_shards(tmp_path)
    assert got == pairs and metadata == {"pooling": "mask", "dim": 8}
    np.testing.assert_array_equal(matrix, vectors)
    index = PairIndex.from_shards(tmp_path)
    assert index.metadata["pooling"] == "mask" and len(index) == len(set(pairs))
    assert index.search(vectors[0], k=1)[0].pair == pairs[0]
    # one shard file on its own
    assert read_embedding_shards(tmp_path / "part-000.parquet")[0] == pairs[:20]
    if is_installed("faiss"):
        faiss_index = PairIndex.from_shards(tmp_path, backend="faiss")
        assert [h.pair for h in faiss_index.search(vectors[5], k=4)] == [h.pair for h in index.search(vectors[5], k=4)]


def test_shards_of_different_widths_are_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    for part, width in enumerate((4, 8)):
        column = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(width, np.float32)), width)
        pq.write_table(
            pa.table({"head": ["a"], "tail": [f"b{part}"], "embedding": column}), tmp_path / f"{part}.parquet"
        )
    with pytest.raises(ValueError, match="different sizes"):
        read_embedding_shards(tmp_path)
    with pytest.raises(FileNotFoundError, match="no embedding shards"):
        PairIndex.from_shards(tmp_path / "missing")
