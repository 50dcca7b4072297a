"""relemb.evaluation.plot: projections, dataset kinds, a real PNG with one colour per relation."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from relemb.data import DatasetNotFoundError, load_labelled_pairs
from relemb.evaluation.plot import plot_relation_space, project_2d


class ClusterModel:
    def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
        rng = np.random.default_rng(0)
        centres = {"a": [5.0, 0.0, 0.0], "b": [0.0, 5.0, 0.0], "c": [0.0, 0.0, 5.0]}
        return np.array([np.array(centres[h[0]]) + rng.normal(scale=0.1, size=3) for h, _ in pairs], dtype=np.float32)


LABELLED = [
    ((f"{k}{i}", f"x{i}"), {"a": "hypernym", "b": "meronym", "c": "random"}[k]) for k in "abc" for i in range(8)
]


def _png_colours(path):
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return image


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_shapes_and_separation(method):
    points = project_2d(ClusterModel().get_embedding([p for p, _ in LABELLED]), method)
    assert points.shape == (24, 2)
    groups = [points[i * 8 : (i + 1) * 8].mean(axis=0) for i in range(3)]
    spread = max(np.linalg.norm(points[i * 8 : (i + 1) * 8] - groups[i], axis=1).max() for i in range(3))
    gaps = min(np.linalg.norm(groups[i] - groups[j]) for i in range(3) for j in range(i + 1, 3))
    assert gaps > spread  # the three clusters stay apart


def test_projection_errors():
    with pytest.raises(ValueError, match="projection"):
        project_2d(np.eye(4), "mds")
    with pytest.raises(ValueError, match="at least 3"):
        project_2d(np.eye(2)[:2], "pca")


def test_plot_writes_a_png_with_legend(tmp_path):
    out = tmp_path / "sub" / "space.png"
    result = plot_relation_space(ClusterModel(), LABELLED, out, method="pca")
    assert out.is_file() and result.n_pairs == 24 and result.n_relations == 3
    image = _png_colours(out)
    # tab10's first three colours (blue, orange, green) appear in the image
    rgb = (image[..., :3] * 255).round().astype(int).reshape(-1, 3)
    present = {tuple(c) for c in np.unique(rgb, axis=0)}
    for colour in [(31, 119, 180), (255, 127, 14), (44, 160, 44)]:
        assert any(sum(abs(a - b) for a, b in zip(colour, c)) < 12 for c in present)
    assert not list(tmp_path.glob("sub/.*"))  # no temporary file left
    assert result.path == str(out)


def test_plot_uses_no_pyplot(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import matplotlib.pyplot raises
    result = plot_relation_space(ClusterModel(), LABELLED, tmp_path / "space.png", method="pca")
    assert (tmp_path / "space.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and result.n_relations == 3
    monkeypatch.undo()
    assert plt.get_fignums() == before == []  # no figure registered with pyplot


def test_plot_checks_pairs_and_paths(tmp_path):
    with pytest.raises(ValueError, match="bad pair at index 1"):
        plot_relation_space(
            ClusterModel(), [(("a1", "x"), "r"), (("a2", ""), "r"), (("b1", "y"), "s")], tmp_path / "x.png"
        )
    with pytest.raises(TypeError, match="item at index 0 is not a \\(head, tail\\) pair"):
        plot_relation_space(ClusterModel(), [(("a1",), "r")] * 3, tmp_path / "x.png")
    with pytest.raises(IsADirectoryError):
        plot_relation_space(ClusterModel(), LABELLED, tmp_path)
    with pytest.raises(ValueError, match="unknown projection 'mds'; choose one of tsne, pca, umap"):
        plot_relation_space(ClusterModel(), LABELLED, tmp_path / "x.png", method="mds")
    assert list(tmp_path.iterdir()) == []


def test_plot_subsamples_and_reads_files(tmp_path):
    path = tmp_path / "pairs.jsonl"
    rows = [{"head": h, "tail": t, "relation": r} for (h, t), r in LABELLED]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = plot_relation_space(ClusterModel(), str(path), tmp_path / "p.png", method="pca", max_pairs=10)
    assert result.n_pairs == 10


def test_relation_similarity_labels():
    labelled = load_labelled_pairs("starter", "train")
    assert labelled and all(isinstance(label, str) for _, label in labelled)
    by_type = load_labelled_pairs("starter", "train", level="relation")
    assert len({label for _, label in by_type}) >= len({label for _, label in labelled})


def test_plot_bad_input(tmp_path):
    with pytest.raises(ValueError, match=".png"):
        plot_relation_space(ClusterModel(), LABELLED, tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="at least 3"):
        plot_relation_space(ClusterModel(), LABELLED[:2], tmp_path / "x.png")
    with pytest.raises(DatasetNotFoundError):
        plot_relation_space(ClusterModel(), "NoSuchData", tmp_path / "x.png", data_dir=tmp_path)
    with pytest.raises(ValueError, match="level"):
        load_labelled_pairs("starter", level="grandparent")
    assert not (tmp_path / "x.png").exists()
