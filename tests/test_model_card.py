import re

import numpy as np
import yaml

from relemb import RelBERT
from relemb.checkpoint import RelBERTConfig
from relemb.model_card import build_model_card

RESULTS = {
    "semeval2012_validation_accuracy": 0.5,
    "semeval2012_validation_accuracy_ci_low": 0.4,
    "semeval2012_validation_accuracy_ci_high": 0.6,
    "semeval2012_validation_n": 79,
    "validation_mean_accuracy": 0.5,
    "u2_test_accuracy": 0.61,
    "u2_test_accuracy_ci_low": 0.55,
    "u2_test_accuracy_ci_high": 0.67,
    "u2_test_n": 228,
    "untrained_u2_test_accuracy": 0.4,
    "untrained_u2_test_accuracy_ci_low": 0.34,
    "untrained_u2_test_accuracy_ci_high": 0.46,
    "history": [
        {"step": 10, "epoch": 1.0, "loss": 2.5, "scores": {"semeval2012": 0.45}},
        {"step": 20, "epoch": 2.0, "loss": 1.25, "scores": {"semeval2012": 0.5}},
    ],
    "best_step": 20,
    "training_curve": "training_curve.png",
}
COMMAND = "relemb-train --base_model roberta-large --data semeval2012 --test_datasets u2 --output_dir runs/x"


def trained_config(**overrides) -> RelBERTConfig:
    values = dict(
        template="<subj> is the <mask> of <obj>",
        pooling="mask",
        base_model="roberta-large",
        training={
            "loss": "nce",
            "datasets": ["relbert/semeval2012_relational_similarity", "relbert/analogy_questions"],
            "command": COMMAND,
        },
        results=RESULTS,
    )
    values.update(overrides)
    return RelBERTConfig(**values)


def metadata_of(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_card_metadata_follows_the_hub_conventions():
    card = build_model_card(trained_config(), "me/relation-model", 1024)
    metadata = metadata_of(card)
    assert {
        "base_model",
        "datasets",
        "license",
        "tags",
        "library_name",
        "pipeline_tag",
        "metrics",
        "model-index",
    } <= set(metadata)
    assert metadata["base_model"] == "roberta-large" and metadata["license"] == "mit"
    assert metadata["library_name"] == "sentence-transformers" and metadata["pipeline_tag"] == "feature-extraction"
    assert "relbert/semeval2012_relational_similarity" in metadata["datasets"] and "relemb" in metadata["tags"]
    (index,) = metadata["model-index"]
    assert index["name"] == "me/relation-model"
    (result,) = index["results"]  # the test set (validation scores only stand in when there is none)
    assert result["dataset"] == {"name": "u2", "type": "relbert/analogy_questions", "config": "u2", "split": "test"}
    assert result["metrics"] == [{"type": "accuracy", "value": 0.61, "name": "Accuracy"}]


def test_card_compares_with_the_untrained_base_and_shows_the_recipe_and_curve():
    card = build_model_card(trained_config(), "me/relation-model", 1024)
    lines = [" ".join(line.split()) for line in card.splitlines()]
    assert "| u2 | test | 228 | 61.0 | 55.0-67.0 | 40.0 | 34.0-46.0 |" in lines
    assert "| semeval2012 | validation | 79 | 50.0 | 40.0-60.0 | | |" in lines
    assert not [line for line in lines if line.startswith("| mean |")]  # one validation set: no separate mean
    assert "custom template" in card and "`mask`" in card
    assert f"```bash\n{COMMAND}\n```" in card  # the command line that reproduces it
    assert "![Training loss and selection scores per evaluation](training_curve.png)" in card
    assert "| 2 | 20 | 1.2500 | 50.0 | ✓ |" in lines and "| 1 | 10 | 2.5000 | 45.0 | |" in lines
    assert "ushio-etal-2021-distilling" in card and "Distilling Relation Embeddings" in card
    assert 'RelBERT.from_pretrained("me/relation-model")' in card


def test_card_of_a_model_relemb_did_not_train():
    card = build_model_card(RelBERTConfig(template="<subj> is the <mask> of <obj>", base_model="/tmp/local"), "m", 8)
    metadata = metadata_of(card)
    # a local base model is no Hub id; no scores: no model-index and no results table
    assert "base_model" not in metadata and "model-index" not in metadata and metadata["license"] == "unknown"
    assert "Not fine-tuned by relemb" in card and "## Results" not in card and "## Citation" in card
    # scores without the untrained base: no comparison columns
    only = {k: v for k, v in RESULTS.items() if not k.startswith("untrained_")}
    card = build_model_card(trained_config(results=only), "m", 8)
    assert "untrained base" not in card and "| u2 | test | 228 | 61.0 | 55.0-67.0 |" in " ".join(card.split())


def test_card_usage_snippet_runs(tmp_path, tiny_model):
    out = tmp_path / "model"
    tiny_model.save_pretrained(out)
    card = (out / "README.md").read_text()
    snippets = re.findall(r"```python\n(.*?)```", card, flags=re.S)
    assert len(snippets) == 2
    for snippet in snippets:
        namespace = {}
        exec(snippet, namespace)  # the documented usage works as written
    assert namespace["embeddings"].shape == (2, tiny_model.embedding_dim)
    reloaded = RelBERT.from_pretrained(out, device="cpu")
    np.testing.assert_allclose(namespace["embeddings"][0], reloaded.get_embedding(("Tokyo", "Japan")), atol=1e-6)
