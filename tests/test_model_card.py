import re

import numpy as np

from relemb import RelBERT
from relemb.checkpoint import RelBERTConfig
from relemb.model_card import build_model_card


def test_card_metadata_and_fields():
    config = RelBERTConfig(
        template="<subj> is the <mask> of <obj>",
        pooling="mask",
        base_model="roberta-large",
        training={"loss": "nce", "datasets": ["relbert/semeval2012_relational_similarity"]},
        results={"u2_test_accuracy": 0.61},
    )
    card = build_model_card(config, "me/relation-model", 1024)
    assert card.startswith("---\n")
    assert "library_name: sentence-transformers" in card
    assert "relbert/semeval2012_relational_similarity" in card
    assert "custom template" in card and "`mask`" in card
    assert "| u2_test_accuracy | 0.61 |" in card
    assert 'RelBERT.from_pretrained("me/relation-model")' in card


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
