"""Nearest-neighbour search: PairIndex on hand-made vectors, FAISS equality, RelBERT.most_similar."""

import subprocess
import sys

import numpy as np
import pytest

from relemb.neighbors import Neighbor, PairIndex, RelationModel, check_compatible, model_metadata, most_similar

PAIRS = [("baker", "bread"), ("brewer", "beer"), ("cat", "dog"), ("hot", "cold"), ("barista", "coffee")]
# hand-made 3-d "relation vectors": makers of food and drink point along x, the rest elsewhere
VECTORS = np.array(
    [
        [1.0, 0.2, 0.0],  # baker:bread
        [1.0, 0.1, 0.1],  # brewer:beer
        [0.0, 1.0, 0.0],  # cat:dog
        [0.0, 0.0, 1.0],  # hot:cold
        [1.0, 0.1, 0.08],  # barista:coffee
    ]
)


def cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_search_ranks_by_cosine_and_excludes_query():
    index = PairIndex(PAIRS, VECTORS)
    hits = index.search(VECTORS[4], k=2, exclude=("barista", "coffee"))
    assert [h.pair for h in hits] == [("brewer", "beer"), ("baker", "bread")]
    assert hits[0].score == pytest.approx(cosine(VECTORS[4], VECTORS[1]), abs=1e-6)
    assert hits[0].score > hits[1].score
    pair, score = hits[1]  # unpacks as (pair, score)
    assert isinstance(hits[0], Neighbor) and pair == ("baker", "bread") and isinstance(score, float)
    # without exclusion the query itself comes first with score 1
    first = index.search(VECTORS[4], k=1)[0]
    assert first.pair == ("barista", "coffee") and first.score == pytest.approx(1.0, abs=1e-6)


def test_k_larger_than_index_returns_everything_sorted():
    index = PairIndex(PAIRS, VECTORS)
    hits = index.search(np.array([0.0, 1.0, 0.0]), k=50)
    assert len(hits) == len(PAIRS)
    assert hits[0].pair == ("cat", "dog")
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len(index.search(VECTORS[0], k=50, exclude=("baker", "bread"))) == len(PAIRS) - 1


def test_batch_queries_match_single_queries():
    index = PairIndex(PAIRS, VECTORS)
    batch = index.search(VECTORS, k=3, exclude=PAIRS)
    for row, (vector, pair) in enumerate(zip(VECTORS, PAIRS)):
        assert batch[row] == index.search(vector, k=3, exclude=pair)
        assert pair not in [h.pair for h in batch[row]]


def test_ties_keep_index_order_and_argpartition_path():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 8))
    vectors[10] = vectors[20] = vectors[30] = vectors[5]  # four identical rows
    pairs = [(f"h{i}", f"t{i}") for i in range(300)]
    index = PairIndex(pairs, vectors)
    hits = index.search(vectors[5], k=3)
    assert [h.pair for h in hits] == [("h5", "t5"), ("h10", "t10"), ("h20", "t20")]
    # top-k through argpartition equals a full sort
    query = rng.normal(size=8)
    expected = np.argsort(-(index.embeddings @ (query / np.linalg.norm(query))), kind="stable")[:7]
    assert [h.pair for h in index.search(query, k=7)] == [pairs[i] for i in expected]


def test_duplicates_are_dropped_and_rows_normalized():
    index = PairIndex([*PAIRS, ("cat", "dog")], np.vstack([VECTORS, [[5.0, 5.0, 5.0]]]))
    assert len(index) == len(PAIRS)
    assert ("cat", "dog") in index and ("dog", "cat") not in index
    np.testing.assert_allclose(np.linalg.norm(index.embeddings, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(index.embeddings[2], [0.0, 1.0, 0.0])  # the first occurrence is kept


def test_empty_index():
    index = PairIndex([], np.zeros((0, 3)))
    assert len(index) == 0 and index.search(np.ones(3), k=5) == []


@pytest.mark.parametrize(
    "pairs, vectors, message",
    [
        (PAIRS, VECTORS[:3], "5 pairs but 3 embedding rows"),
        (PAIRS, VECTORS[0], r"\(n, d\) matrix"),
        (PAIRS, np.where(VECTORS == 0, np.nan, VECTORS), "NaN"),
        ([("a", "b"), ("c",)], VECTORS[:2], "index 1"),
    ],
)
def test_bad_index_input(pairs, vectors, message):
    with pytest.raises((ValueError, TypeError), match=message):
        PairIndex(pairs, vectors)


def test_bad_search_input():
    index = PairIndex(PAIRS, VECTORS)
    with pytest.raises(ValueError, match="dimension 3"):
        index.search(np.ones(4))
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            index.search(VECTORS[0], k=k)
    with pytest.raises(ValueError, match="2 entries for 5 queries"):
        index.search(VECTORS, exclude=[PAIRS[0], PAIRS[1]])
    with pytest.raises(ValueError, match="unknown index backend"):
        PairIndex(PAIRS, VECTORS, backend="annoy")


def test_save_load_round_trip(tmp_path):
    index = PairIndex(PAIRS, VECTORS, metadata={"template": "t", "pooling": "mask"})
    path = index.save(tmp_path / "sub" / "index.npz")
    loaded = PairIndex.load(path)
    assert loaded.pairs == index.pairs and loaded.metadata == {"template": "t", "pooling": "mask"}
    np.testing.assert_array_equal(loaded.embeddings, index.embeddings)
    assert loaded.search(VECTORS[4], k=3) == index.search(VECTORS[4], k=3)
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["index.npz"]


def test_save_load_errors(tmp_path):
    index = PairIndex(PAIRS, VECTORS)
    with pytest.raises(ValueError, match=r"\.npz"):
        index.save(tmp_path / "index.npy")
    with pytest.raises(FileNotFoundError, match="no PairIndex file"):
        PairIndex.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.ones(3))
    with pytest.raises(ValueError, match="not a PairIndex file"):
        PairIndex.load(tmp_path / "other.npz")


def test_faiss_backend_matches_exact():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    pairs = [(f"h{i}", f"t{i}") for i in range(500)]
    exact = PairIndex(pairs, vectors)
    fast = PairIndex(pairs, vectors, backend="faiss")
    queries = rng.normal(size=(6, 16))
    for got, expected in zip(
        fast.search(queries, k=10, exclude=[pairs[0]] * 6), exact.search(queries, k=10, exclude=[pairs[0]] * 6)
    ):
        assert [h.pair for h in got] == [h.pair for h in expected]
        np.testing.assert_allclose([h.score for h in got], [h.score for h in expected], atol=1e-5)


def test_faiss_missing_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # as if faiss were not installed
    with pytest.raises(ImportError, match=r"relemb\[faiss\]"):
        PairIndex(PAIRS, VECTORS, backend="faiss")
    with pytest.raises(ImportError, match=r"^the 'faiss' index backend needs faiss-cpu \(module faiss\)"):
        PairIndex(PAIRS, VECTORS, backend="faiss")


def test_neighbors_imports_neither_torch_nor_the_model():
    code = "import sys, relemb.neighbors; print('torch' in sys.modules, 'relemb.model' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_save_refuses_a_folder_and_replaces_atomically(tmp_path):
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        PairIndex(PAIRS, VECTORS).save(tmp_path / "dir.npz")
    target = tmp_path / "index.npz"
    PairIndex(PAIRS, VECTORS).save(target)
    PairIndex(PAIRS[:2], VECTORS[:2]).save(target)  # an existing index is replaced
    assert len(PairIndex.load(target)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.npz", "index.npz"]


# ---------------------------------------------------------------------- with a model
CANDIDATES = [("baker", "bread"), ("brewer", "beer"), ("cat", "dog"), ("hot", "cold"), ("teacher", "school")]


def test_most_similar_matches_manual_cosine(tiny_model):
    query = ("barista", "coffee")
    hits = tiny_model.most_similar(query, [*CANDIDATES, query], k=3)
    vectors = tiny_model.get_embedding([query, *CANDIDATES])
    scores = [cosine(vectors[0], v) for v in vectors[1:]]
    order = np.argsort(scores)[::-1][:3]
    assert [h.pair for h in hits] == [CANDIDATES[i] for i in order]
    np.testing.assert_allclose([h.score for h in hits], [scores[i] for i in order], atol=1e-5)
    assert query not in [h.pair for h in hits]
    assert tiny_model.most_similar(query, [*CANDIDATES, query], k=1, exclude_query=False)[0].pair == query


def test_model_satisfies_the_protocol(tiny_model):
    assert isinstance(tiny_model, RelationModel)


def test_from_model_dtype_and_deprecated_precision(tiny_model):
    exact = PairIndex.from_model(tiny_model, CANDIDATES)
    fast = PairIndex.from_model(tiny_model, CANDIDATES, dtype="bfloat16")
    assert fast.pairs == exact.pairs and 0 < np.abs(fast.embeddings - exact.embeddings).max() < 0.1
    with pytest.warns(DeprecationWarning, match="precision= is deprecated .* use dtype="):
        old = PairIndex.from_model(tiny_model, CANDIDATES, precision="bfloat16")
    np.testing.assert_array_equal(old.embeddings, fast.embeddings)
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        PairIndex.from_model(tiny_model, CANDIDATES, dtype="int8")


def test_most_similar_with_prebuilt_index(tiny_model, tmp_path):
    index = PairIndex.from_model(tiny_model, CANDIDATES)
    assert index.metadata == model_metadata(tiny_model)
    loaded = PairIndex.load(index.save(tmp_path / "c.npz"))
    direct = tiny_model.most_similar(("barista", "coffee"), CANDIDATES, k=10)
    from_index = most_similar(tiny_model, ("barista", "coffee"), loaded, k=10)
    assert [h.pair for h in from_index] == [h.pair for h in direct] and len(direct) == len(CANDIDATES)
    np.testing.assert_allclose([h.score for h in from_index], [h.score for h in direct], atol=1e-5)


def test_most_similar_refuses_incompatible_index_and_bad_query(tiny_model):
    other = PairIndex(
        CANDIDATES, np.ones((5, tiny_model.embedding_dim)), metadata={"template": "<subj> x <mask> <obj>"}
    )
    with pytest.raises(ValueError, match="template"):
        tiny_model.most_similar(("barista", "coffee"), other)
    with pytest.raises(ValueError, match="dimensional"):
        check_compatible(PairIndex(CANDIDATES, np.ones((5, 3))), tiny_model)
    with pytest.raises(TypeError, match="one \\(head, tail\\) pair"):
        tiny_model.most_similar([("a", "b"), ("c", "d")], CANDIDATES)
    with pytest.raises(ValueError, match="index 1"):
        tiny_model.most_similar(("a", "b"), [("c", "d"), ("e", "")])


@pytest.mark.slow
def test_minilm_barista_coffee(minilm_path):
    from relemb import RelBERT

    model = RelBERT.from_pretrained("minilm", device="cpu")
    candidates = [("baker", "bread"), ("brewer", "beer"), ("tokyo", "japan"), ("puppy", "dog"), ("hot", "cold")]
    hits = model.most_similar(("barista", "coffee"), candidates, k=2)
    assert len(hits) == 2 and hits[0].score >= hits[1].score
    assert {h.pair for h in hits} <= set(candidates)
