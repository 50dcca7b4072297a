"""Head statistics, head distances and heads as relation classifiers (relemb.attention.heads)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from relemb.attention import heads as H
from relemb.attention.encode import AttentionEncoder, AttentionInput, EncodedInput, word_groups
from relemb.attention.heads import (
    HEAD_DIRECTIONS,
    STATISTICS,
    HeadStatistics,
    analyze_heads,
    head_distances,
    head_distances_for,
    head_relation_accuracy,
    head_statistics_for,
    is_punctuation,
    mds_map,
    word_level_attention,
)
from relemb.attention.plots import plot_head_map, plot_head_statistics, plot_relation_heads

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_item(
    tokens: list[str],
    attentions: np.ndarray,
    head: list[int],
    tail: list[int],
    *,
    mask: list[int] = (),
    word_ids: list[int | None] | None = None,
) -> EncodedInput:
    """A synthetic encoded input: ``tokens`` framed by the caller, special tokens spelled [CLS]/[SEP]/<s>/</s>."""
    specials = [i for i, t in enumerate(tokens) if t in {"[CLS]", "[SEP]", "<s>", "</s>"}]
    if word_ids is None:
        word_ids, word = [], 0
        for i in range(len(tokens)):
            if i in specials:
                word_ids.append(None)
            else:
                word_ids.append(word)
                word += 1
    attentions = np.asarray(attentions, dtype=np.float32)
    if attentions.ndim == 2:
        attentions = attentions[None, None]
    return EncodedInput(
        input=AttentionInput.from_sentence("head tail", "head", "tail"),
        tokens=list(tokens),
        attentions=attentions,
        head_positions=np.asarray(head, dtype=np.int64),
        tail_positions=np.asarray(tail, dtype=np.int64),
        mask_positions=np.asarray(list(mask), dtype=np.int64),
        special_positions=np.asarray(specials, dtype=np.int64),
        word_ids=list(word_ids),
    )


def one_hot_rows(targets: list[int], n: int) -> np.ndarray:
    a = np.zeros((len(targets), n))
    a[np.arange(len(targets)), targets] = 1.0
    return a


TOKENS = ["[CLS]", "the", "cat", ",", "dog", "[SEP]"]  # T = 6; head "cat" (2), tail "dog" (4)


# ------------------------------------------------------------------------------------ statistics
def test_previous_next_and_special_heads():
    previous = one_hot_rows([0, 0, 1, 2, 3, 4], 6)  # the first token has no previous: attends to itself
    following = one_hot_rows([1, 2, 3, 4, 5, 5], 6)
    special = np.tile([0.5, 0, 0, 0, 0, 0.5], (6, 1))
    item = make_item(TOKENS, np.stack([previous, following, special])[None], head=[2], tail=[4])
    stats = head_statistics_for(item)
    assert set(stats) == set(STATISTICS)
    assert all(v.shape == (1, 3) for v in stats.values())
    np.testing.assert_allclose(stats["previous"][0], [1.0, 0.0, 0.5 / 5])  # the special head: row 1 -> [CLS]
    np.testing.assert_allclose(stats["next"][0], [0.0, 1.0, 0.5 / 5])  # row 4 -> [SEP]
    np.testing.assert_allclose(stats["special"][0], [2 / 6, 1 / 6 + 1 / 6, 1.0])  # rows 0 and 5 look at CLS/SEP
    assert stats["punctuation"][0, 2] == 0 and stats["head"][0, 2] == 0 and stats["tail"][0, 2] == 0
    np.testing.assert_allclose(stats["punctuation"][0, :2], [1 / 6, 1 / 6])  # token 3 is ","
    np.testing.assert_allclose(stats["entropy"][0], [0.0, 0.0, math.log(2)], atol=1e-6)
    assert np.isnan(stats["mask"]).all()


def test_uniform_attention_entropy_and_masses():
    t = 6
    tokens = ["[CLS]", "paris", "is", "[MASK]", "france", "[SEP]"]
    item = make_item(tokens, np.full((2, 3, t, t), 1 / t), [1], [4], mask=[3])
    stats = head_statistics_for(item)
    np.testing.assert_allclose(stats["entropy"], math.log(t), rtol=1e-6)
    np.testing.assert_allclose(stats["special"], 2 / t, rtol=1e-6)
    for name in ("head", "tail", "mask", "previous", "next"):
        np.testing.assert_allclose(stats[name], 1 / t, rtol=1e-6)
    np.testing.assert_allclose(stats["punctuation"], 0.0)


def test_punctuation_tokens():
    assert is_punctuation(",") and is_punctuation("Ġ.") and is_punctuation("##-") and is_punctuation("▁:")
    assert is_punctuation("’") and is_punctuation("...")
    assert not any(is_punctuation(t) for t in ("Ġ", "##", "cat", "Ġcat", "[SEP]", "</s>", "<s>", "+", "a."))


def test_head_statistics_stream_and_mask_average():
    to_mask = np.tile(one_hot_rows([2] * 5, 5), (1, 2, 1, 1))
    with_mask = make_item(["[CLS]", "a", "[MASK]", "b", "[SEP]"], to_mask, [1], [3], mask=[2])
    without = make_item(["[CLS]", "a", "b", "[SEP]"], np.tile(one_hot_rows([0] * 4, 4), (1, 2, 1, 1)), [1], [2])
    stats = HeadStatistics.from_items([with_mask, without])
    assert stats.n_inputs == 2 and (stats.n_layers, stats.n_heads) == (1, 2)
    np.testing.assert_allclose(stats.mean("mask"), 1.0)  # only the input with a mask counts
    np.testing.assert_allclose(stats["special"], 0.5)  # 0 and 1, each input weighs the same
    single = head_statistics_for(without)
    for name in ("previous", "entropy", "head"):
        np.testing.assert_allclose(stats.mean(name), (head_statistics_for(with_mask)[name] + single[name]) / 2)
    assert stats.top_heads("special", k=1)[0][:2] == (0, 0)
    assert len(stats.top_heads("mask", k=5)) == 2
    data = stats.to_dict()
    json.dumps(data, allow_nan=False)
    assert set(data["statistics"]) == set(STATISTICS)
    only_plain = HeadStatistics.from_items([without])
    assert only_plain.to_dict()["statistics"]["mask"] == [[None, None]]
    with pytest.raises(ValueError):
        stats.update(make_item(["[CLS]", "a", "b", "[SEP]"], np.full((2, 2, 4, 4), 0.25), [1], [2]))
    with pytest.raises(KeyError):
        stats.mean("nope")


# ------------------------------------------------------------------------------------ word level
def test_word_level_attention_sums_attended_and_averages_attending():
    # [CLS] play ##ing dog [SEP]: "playing" is one word of two sub-tokens
    a = np.array(
        [
            [0.2, 0.3, 0.1, 0.3, 0.1],
            [0.0, 0.6, 0.2, 0.2, 0.0],
            [0.4, 0.0, 0.0, 0.4, 0.2],
            [0.1, 0.1, 0.1, 0.6, 0.1],
            [0.5, 0.0, 0.0, 0.0, 0.5],
        ]
    )
    words, groups = word_level_attention(np.stack([a, a.T / a.T.sum(-1, keepdims=True)])[None], [None, 0, 0, 1, None])
    assert groups == [(0,), (1, 2), (3,), (4,)]
    assert words.shape == (1, 2, 4, 4)
    first = words[0, 0]
    np.testing.assert_allclose(first[0], [0.2, 0.4, 0.3, 0.1])  # attended: play + ##ing summed
    np.testing.assert_allclose(first[1], [0.2, 0.4, 0.3, 0.1])  # attending: mean of the two sub-token rows
    np.testing.assert_allclose(first[3], [0.5, 0.0, 0.0, 0.5])
    np.testing.assert_allclose(words.sum(-1), 1.0)
    # special tokens that share no word: every None is a word of its own
    _, groups = word_level_attention(np.full((3, 3), 1 / 3), [None, None, 0])
    assert groups == [(0,), (1,), (2,)]
    with pytest.raises(ValueError):
        word_level_attention(np.full((3, 3), 1 / 3), [None, 0])


def test_word_level_attention_groups_consecutive_tokens_only():
    # two texts numbered from 0 each ([CLS] a b [SEP] a [SEP]): the two "word 0" are different words
    ids = [None, 0, 1, None, 0, None]
    words, groups = word_level_attention(np.full((6, 6), 1 / 6), ids)
    assert groups == word_groups(ids) == [(0,), (1,), (2,), (3,), (4,), (5,)]
    np.testing.assert_allclose(words, 1 / 6)
    _, groups = word_level_attention(np.full((5, 5), 0.2), [None, 4, 4, 4, None])
    assert groups == [(0,), (1, 2, 3), (4,)]


# ------------------------------------------------------------------------------------- distances
def test_js_distances_zero_on_diagonal_symmetric_and_match_scipy():
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(0)
    a = rng.dirichlet(np.ones(5), size=(2, 3, 5))  # (L=2, H=3, T=5, T=5)
    a[1, 2] = a[0, 0]  # head 5 copies head 0
    item = make_item(["[CLS]", "a", "b", "c", "[SEP]"], a, [1], [3])
    d = head_distances_for(item)
    assert d.shape == (6, 6)
    np.testing.assert_allclose(np.diag(d), 0.0)
    np.testing.assert_allclose(d, d.T)
    assert d[0, 5] == pytest.approx(0.0, abs=1e-6)
    off = d[~np.eye(6, dtype=bool)]
    assert (off[off > 1e-6]).size == 28  # all other pairs differ
    p = a.reshape(6, 5, 5)
    for i, j in [(0, 1), (2, 4), (3, 5)]:
        expected = sum(jensenshannon(p[i, t], p[j, t]) ** 2 for t in range(5))  # natural log
        assert d[i, j] == pytest.approx(expected, rel=1e-5)


def test_js_distances_chunked_and_averaged(monkeypatch):
    rng = np.random.default_rng(1)
    tokens = ["[CLS]", "x", "y", "[SEP]"]
    items = [make_item(tokens, rng.dirichlet(np.ones(4), size=(3, 2, 4)), [1], [2]) for _ in range(3)]
    full = [head_distances_for(item) for item in items]
    monkeypatch.setattr(H, "_DISTANCE_CHUNK_ELEMENTS", 1)  # one head per chunk
    np.testing.assert_allclose(head_distances_for(items[0]), full[0], atol=1e-12)
    np.testing.assert_allclose(head_distances(iter(items)), np.mean(full, axis=0), atol=1e-12)


def test_mds_map_preserves_distances_without_warnings():
    points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [3.0, 4.0]])
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mapped = mds_map(d, seed=0)
    assert mapped.shape == (4, 2)
    np.testing.assert_allclose(np.linalg.norm(mapped[:, None] - mapped[None], axis=-1), d, atol=1e-2)
    np.testing.assert_allclose(mds_map(d, seed=0), mapped)
    assert mds_map(np.zeros((1, 1))).shape == (1, 2)
    with pytest.raises(ValueError):
        mds_map(np.ones((2, 3)))


# --------------------------------------------------------------------------- relation classifiers
def test_relation_accuracy_hits_misses_and_relations():
    # [CLS] the cat , dog [SEP]: head "cat" (2), tail "dog" (4)
    good = np.tile([0.0, 0.0, 0.0, 0.0, 0.0, 1.0], (6, 1))
    good[4] = [0.05, 0.05, 0.2, 0.05, 0.05, 0.6]  # from the tail: [SEP] first (ignored), then the head word
    good[2] = [0.0, 0.5, 0.0, 0.0, 0.5, 0.0]  # from the head: a tie between "the" and "dog": the earlier wins
    bad = np.tile(np.full(6, 1 / 6), (6, 1))
    bad[4] = [0.0, 0.5, 0.2, 0.0, 0.3, 0.0]  # attends to "the" most; itself excluded
    bad[2] = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    item = make_item(TOKENS, np.stack([good, bad])[None], head=[2], tail=[4])
    swapped = make_item(TOKENS, np.stack([bad, good])[None], head=[2], tail=[4])
    result = head_relation_accuracy([item, item, swapped], ["hyper", "hyper", "mero"])
    np.testing.assert_allclose(result.accuracy("tail_to_head"), [[2 / 3, 1 / 3]])
    np.testing.assert_allclose(result.accuracy("tail_to_head", "hyper"), [[1.0, 0.0]])
    np.testing.assert_allclose(result.accuracy("tail_to_head", "mero"), [[0.0, 1.0]])
    np.testing.assert_allclose(result.accuracy("head_to_tail", "hyper"), [[0.0, 1.0]])
    assert result.best_head("tail_to_head", "hyper") == (0, 0, 1.0)
    assert result.best_head("tail_to_head", "mero") == (0, 1, 1.0)
    assert result.relations == ["hyper", "mero"]
    assert result.n_inputs("tail_to_head", "hyper") == 2
    # the head word is two regular words before the tail ("cat" , "dog"): offset -2; the other way +2
    assert result.baseline("tail_to_head") == (-2, 1.0)
    assert result.baseline("head_to_tail", "mero") == (2, 1.0)
    assert math.isnan(result.accuracy(relation="unseen")[0, 0])
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["tail_to_head"]["per_relation"]["mero"]["best_head"] == {"layer": 0, "head": 1, "accuracy": 1.0}
    with pytest.raises(ValueError):
        head_relation_accuracy([item, item], ["hyper"])
    assert HEAD_DIRECTIONS == ("tail_to_head", "head_to_tail") and set(data) == set(HEAD_DIRECTIONS)
    with pytest.raises(ValueError, match="unknown direction 'forward'; choose one of tail_to_head, head_to_tail"):
        result.accuracy("forward")


def test_relation_accuracy_at_word_level_and_repeated_tail():
    # [CLS] sun ##flower is a plant [SEP] plant: tail "plant" twice, head "sunflower" in two sub-tokens
    tokens = ["[CLS]", "sun", "##flower", "is", "a", "plant", "[SEP]"]
    word_ids = [None, 0, 0, 1, 2, 3, None]
    a = np.full((7, 7), 0.0)
    a[:, 6] = 1.0
    a[5] = [0.0, 0.15, 0.15, 0.25, 0.05, 0.4, 0.0]  # "is" 0.25 beats each sub-token, but the word sums to 0.3
    item = make_item(tokens, a, head=[1, 2], tail=[5], word_ids=word_ids)
    result = head_relation_accuracy([item])
    assert result.accuracy()[0, 0] == 1.0
    assert result.baseline() == (-3, 1.0)
    token_level = a.copy()
    token_level[5] = [0.0, 0.1, 0.1, 0.25, 0.15, 0.4, 0.0]  # sum 0.2 < 0.25: "is" wins
    token_item = make_item(tokens, token_level, [1, 2], [5], word_ids=word_ids)
    assert head_relation_accuracy([token_item]).accuracy()[0, 0] == 0.0


# --------------------------------------------------------------------------------------- end to end
PAIRS = [("camera", "photographer"), ("puppy", "dog"), ("paris", "france"), ("wheel", "car"), ("oak", "tree")]
RELATIONS = ["agent", "young", "capital", "part", "hyper"]


@pytest.fixture(scope="module", params=["bert", "roberta"])
def tiny_encoder(request, tiny_bert_path, tiny_roberta_path) -> AttentionEncoder:
    path = tiny_bert_path if request.param == "bert" else tiny_roberta_path
    return AttentionEncoder.from_pretrained(path, device="cpu")


@pytest.fixture(scope="module")
def tiny_report(tiny_encoder):
    return analyze_heads(tiny_encoder, tiny_encoder.inputs_from_pairs(PAIRS), relations=RELATIONS, batch_size=3)


def test_analyze_heads_on_tiny_encoders(tiny_encoder, tiny_report):
    report = tiny_report
    shape = (tiny_encoder.n_layers, tiny_encoder.n_heads)
    assert (report.n_layers, report.n_heads) == shape and report.n_inputs == len(PAIRS)
    for name in STATISTICS:
        values = report.statistics.mean(name)
        assert values.shape == shape and np.isfinite(values).all(), name
        if name == "entropy":
            assert (values >= 0).all() and (values <= math.log(tiny_encoder.max_length)).all()
        else:
            assert ((values >= -1e-6) & (values <= 1 + 1e-6)).all(), name
    n = shape[0] * shape[1]
    assert report.distances.shape == (n, n) and report.mds.shape == (n, 2)
    np.testing.assert_allclose(report.distances, report.distances.T)
    accuracy = report.relation_accuracy.accuracy()
    assert accuracy.shape == shape and ((accuracy >= 0) & (accuracy <= 1)).all()
    assert report.relation_accuracy.relations == RELATIONS
    offset, baseline = report.relation_accuracy.baseline()
    assert offset is not None and baseline == 1.0  # one template: the head is always at the same offset
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["n_inputs"] == len(PAIRS)

    one = analyze_heads(tiny_encoder, tiny_encoder.inputs_from_pairs(PAIRS), relations=RELATIONS, batch_size=1)
    for name in STATISTICS:
        np.testing.assert_allclose(one.statistics.mean(name), report.statistics.mean(name), atol=1e-5)
    np.testing.assert_allclose(one.distances, report.distances, atol=1e-4)
    np.testing.assert_array_equal(one.relation_accuracy.accuracy(), accuracy)


def test_sentences_have_no_mask_statistic(tiny_encoder):
    sentences = [
        AttentionInput.from_sentence("the puppy is a young dog .", "puppy", "dog"),
        AttentionInput.from_sentence("paris , in france", "paris", "france"),
    ]
    report = analyze_heads(tiny_encoder, sentences, batch_size=2, distances=False)
    assert np.isnan(report.statistics.mean("mask")).all()
    assert (report.statistics.mean("punctuation") > 0).all()
    assert report.distances is None and report.mds is None
    assert report.to_dict()["statistics"]["mask"][0][0] is None
    with pytest.raises(ValueError, match="distances=True"):
        plot_head_map(report, "unused.png")


@pytest.fixture(scope="module")
def bert_report(tiny_bert_path):
    encoder = AttentionEncoder.from_pretrained(tiny_bert_path, device="cpu")
    return analyze_heads(encoder, encoder.inputs_from_pairs(PAIRS), relations=RELATIONS)


def test_plots_and_json_written_atomically(bert_report, tmp_path):
    tiny_report = bert_report
    folder = tmp_path / "new" / "figures"
    written = [
        plot_head_statistics(tiny_report, folder / "stats.png"),
        plot_head_map(tiny_report, folder / "map.png", color_by="previous"),
        plot_relation_heads(tiny_report, folder / "relations.png"),
        plot_relation_heads(tiny_report, folder / "back.png", direction="head_to_tail"),
    ]
    for path in written:
        assert path.read_bytes()[:8] == PNG_MAGIC
    saved = tiny_report.save(folder / "report.json")
    text = saved.read_text(encoding="utf-8")
    assert text.endswith("\n") and "NaN" not in text
    assert json.loads(text) == json.loads(json.dumps(tiny_report.to_dict(), allow_nan=False))
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["back.png", "map.png", "relations.png", "report.json", "stats.png"]  # no temporary files
    with pytest.raises(IsADirectoryError):
        plot_head_statistics(tiny_report, folder)
    with pytest.raises(ValueError):
        plot_head_statistics(tiny_report, folder / "stats.pdf")
    with pytest.raises(ValueError):
        plot_head_map(tiny_report, folder / "bad.png", color_by="nope")


def test_failed_plot_leaves_nothing(bert_report, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    target = tmp_path / "stats.png"
    target.write_bytes(b"old")
    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_relation_heads(bert_report, target)
    assert [p.name for p in tmp_path.iterdir()] == ["stats.png"] and target.read_bytes() == b"old"
