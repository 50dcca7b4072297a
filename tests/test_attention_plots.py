"""relemb.attention.plots: every figure of the attention studies, drawn without pyplot, written atomically.

The reports come from the real analyses (analyze_heads, probe_relations, trace) run on a fake encoder that
yields seeded synthetic attention over whitespace tokens, so no model (and no torch) is needed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from relemb.attention.encode import AttentionEncoder, AttentionInput, EncodedInput
from relemb.attention.heads import analyze_heads
from relemb.attention.plots import (
    plot_dendrogram,
    plot_head_map,
    plot_head_statistics,
    plot_importance,
    plot_layer_scores,
    plot_relation_heads,
    plot_token_scores,
)
from relemb.attention.probes import probe_relations
from relemb.attention.tracing import trace
from relemb.data import LexicalPair

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEMPLATE = "<subj> is the <mask> of <obj>"


class FakeEncoder(AttentionEncoder):
    """An AttentionEncoder without a model: whitespace tokens framed by [CLS]/[SEP], seeded random attention."""

    n_layers = 2
    n_heads = 3
    hidden_size = 4

    def __init__(self, seed: int = 0, name: str = "fake") -> None:  # no model, no tokenizer
        self.seed, self.name, self.template, self.max_length = seed, name, TEMPLATE, 64

    def random_control(self, seed: int = 0) -> FakeEncoder:
        return FakeEncoder(seed + 1000, f"{self.name} (random init)")

    def inputs_from_pairs(self, pairs, template=None):
        return [AttentionInput.from_pair(head, tail, template or TEMPLATE, "[MASK]") for head, tail in pairs]

    def encode(self, inputs, *, batch_size=32, output_hidden_states=False, show_progress_bar=False):
        for item in inputs:
            yield self._fake(item, output_hidden_states)

    def _fake(self, item: AttentionInput, hidden: bool) -> EncodedInput:
        words, offsets, position = [], [(0, 0)], 0
        for word in item.text.split():
            start = item.text.index(word, position)
            words.append(word)
            offsets.append((start, start + len(word)))
            position = start + len(word)
        tokens = ["[CLS]", *words, "[SEP]"]
        offsets.append((0, 0))

        def covered(spans):
            return np.asarray(
                [i for i, (a, b) in enumerate(offsets) if b > a and any(a < e and b > s for s, e in spans)], dtype=int
            )

        n = len(tokens)
        rng = np.random.default_rng([self.seed, sum(map(ord, item.text))])
        weights = rng.random((self.n_layers, self.n_heads, n, n))
        return EncodedInput(
            input=item,
            tokens=tokens,
            attentions=(weights / weights.sum(-1, keepdims=True)).astype(np.float32),
            head_positions=covered(item.head),
            tail_positions=covered(item.tail),
            mask_positions=covered(item.mask),
            special_positions=np.array([0, n - 1]),
            word_ids=[None, *range(len(words)), None],
            hidden_states=rng.random((self.n_layers + 1, n, self.hidden_size)).astype(np.float32) if hidden else None,
            offsets=np.asarray(offsets),
        )


RELATIONS = {
    "capital": [("tokyo", "japan"), ("paris", "france"), ("rome", "italy"), ("oslo", "norway")],
    "young": [("puppy", "dog"), ("kitten", "cat"), ("calf", "cow"), ("foal", "horse")],
    "material": [("wood", "table"), ("glass", "window"), ("wool", "sweater"), ("gold", "ring")],
    "random": [("pen", "cow"), ("oak", "spain"), ("ring", "cat"), ("clay", "japan")],
}


def toy_splits() -> dict[str, list[LexicalPair]]:
    records = [LexicalPair(h, t, relation) for relation, pairs in RELATIONS.items() for h, t in pairs]
    return {"train": records * 2, "test": records}


def draw_everything(folder: Path) -> list[Path]:
    """Every plot function of relemb.attention.plots on real reports of the fake encoder."""
    encoder = FakeEncoder()
    pairs = [pair for values in RELATIONS.values() for pair in values]
    labels = [relation for relation, values in RELATIONS.items() for _ in values]
    heads = analyze_heads(encoder, encoder.inputs_from_pairs(pairs), relations=labels)
    probes = probe_relations(encoder, toy_splits(), name="toy")
    scores = trace(encoder, encoder.inputs_from_pairs(pairs[:2]))
    return [
        plot_head_statistics(heads, folder / "head_statistics.png"),
        plot_head_map(heads, folder / "head_map.png", color_by="mask"),
        plot_relation_heads(heads, folder / "relation_heads.png", direction="head_to_tail"),
        plot_importance(probes, folder / "importance.png"),
        plot_importance(probes, folder / "importance_overall.png", task="binary", by="overall"),
        plot_layer_scores(probes, folder / "layers.png", metric="accuracy"),
        plot_dendrogram(probes, folder / "dendrogram.png"),
        plot_token_scores(scores, folder / "scores.png", title="fake"),
        plot_token_scores(scores[0], folder / "layers_trace.png", layers=True),
    ]


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_every_plot_writes_a_png_and_nothing_else(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    folder = tmp_path / "new" / "figures"
    written = draw_everything(folder)
    for path in written:
        assert path.parent == folder and path.read_bytes()[:8] == PNG_MAGIC, path
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)  # no temporary files
    assert plt.get_fignums() == before == []  # no figure was registered with pyplot


def test_plots_need_no_pyplot(tmp_path, monkeypatch):
    """Every figure is drawn with pyplot made unimportable (``import matplotlib.pyplot`` raises)."""
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError):
        import matplotlib.pyplot  # noqa: F401
    written = draw_everything(tmp_path)
    assert len(written) == 9 and all(path.read_bytes()[:8] == PNG_MAGIC for path in written)


def test_paths_and_choices_are_checked_before_drawing(tmp_path):
    encoder = FakeEncoder()
    heads = analyze_heads(encoder, encoder.inputs_from_pairs(RELATIONS["young"]), distances=False)
    with pytest.raises(IsADirectoryError):
        plot_head_statistics(heads, tmp_path)
    with pytest.raises(ValueError, match=r"\.png"):
        plot_relation_heads(heads, tmp_path / "relations.svg")
    with pytest.raises(ValueError, match="unknown direction 'both'; choose one of tail_to_head, head_to_tail"):
        plot_relation_heads(heads, tmp_path / "relations.png", direction="both")
    with pytest.raises(ValueError, match="unknown statistic 'nope'"):
        plot_head_statistics(heads, tmp_path / "stats.png", statistics=["special", "nope"])
    with pytest.raises(ValueError, match="distances=True"):
        plot_head_map(heads, tmp_path / "map.png")
    probes = probe_relations(encoder, toy_splits(), control=False, hidden_states=False, name="toy")
    with pytest.raises(ValueError, match="unknown probe metric 'f1'"):
        plot_layer_scores(probes, tmp_path / "layers.png", metric="f1")
    with pytest.raises(ValueError, match="hidden-state"):
        plot_layer_scores(probes, tmp_path / "layers.png")
    with pytest.raises(ValueError, match="importance view"):
        plot_importance(probes, tmp_path / "importance.png", by="layer")
    with pytest.raises(ValueError, match="no 'ternary' task"):
        plot_importance(probes, tmp_path / "importance.png", task="ternary")
    with pytest.raises(ValueError, match="no token scores"):
        plot_token_scores([], tmp_path / "scores.png")
    assert list(tmp_path.iterdir()) == []


def test_reports_of_the_fake_encoder_are_json(tmp_path):
    encoder = FakeEncoder()
    pairs = RELATIONS["capital"] + RELATIONS["young"]
    heads = analyze_heads(encoder, encoder.inputs_from_pairs(pairs), relations=["capital"] * 4 + ["young"] * 4)
    saved = json.loads(heads.save(tmp_path / "heads.json").read_text(encoding="utf-8"))
    assert saved["n_inputs"] == 8 and set(saved["relation_heads"]) == {"tail_to_head", "head_to_tail"}
    assert len(saved["mds"]) == encoder.n_layers * encoder.n_heads
    probes = probe_relations(encoder, toy_splits(), control=False, hidden_states=False, name="toy")
    text = probes.save(tmp_path / "probes.json").read_text(encoding="utf-8")
    assert text.endswith("}\n") and json.loads(text)["tasks"]["multiclass"]["classes"] == [
        "capital",
        "material",
        "young",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heads.json", "probes.json"]
