"""Model cards for relation models: Hub metadata plus a usage snippet that works for word pairs.

sentence-transformers' own card runs ``encode`` on sentences, which a pair model refuses, so relemb
writes its own card (metadata through ``huggingface_hub.ModelCardData``).
"""

from __future__ import annotations

from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from relemb.checkpoint import RelBERTConfig
from relemb.prompts import template_id

USAGE_SNIPPET = """\
```python
from relemb import RelBERT

model = RelBERT.from_pretrained("{model_id}")
vector = model.get_embedding(("Tokyo", "Japan"))               # shape ({dim},)
matrix = model.get_embedding([("Paris", "France"), ("puppy", "dog")])  # shape (2, {dim})
```

The checkpoint is also a sentence-transformers model (relemb must be installed; its modules are
checked by relemb, so only pass `trust_remote_code=True` for checkpoints you trust):

```python
from sentence_transformers import SentenceTransformer

encoder = SentenceTransformer("{model_id}", trust_remote_code=True)
embeddings = encoder.encode([("Tokyo", "Japan"), ("Paris", "France")])
```"""


def _results_table(results: dict[str, Any]) -> str:
    rows = []
    for name, value in results.items():
        if isinstance(value, (int, float)):
            rows.append(f"| {name} | {value:.4g} |")
    if not rows:
        return ""
    return "| metric | value |\n|---|---|\n" + "\n".join(rows)


def build_model_card(config: RelBERTConfig, model_id: str, embedding_dim: int) -> str:
    """Markdown (with YAML metadata) describing a relation model saved with ``config``.

    >>> card = build_model_card(RelBERTConfig(template="<subj> is the <mask> of <obj>"), "me/model", 8)
    >>> "RelBERT.from_pretrained(\\"me/model\\")" in card
    True
    """
    tags = ["relemb", "relbert", "relation-embedding", "sentence-transformers", "feature-extraction"]
    datasets = config.training.get("datasets") or []
    metadata = ModelCardData(
        library_name="sentence-transformers",
        tags=tags,
        base_model=config.base_model if config.base_model and "/" in str(config.base_model) else None,
        datasets=list(datasets) or None,
        pipeline_tag="feature-extraction",
    )
    tid = template_id(config.template)
    template_line = f"manual template `{tid}`" if tid else "custom template"
    lines = [
        "# Relation embedding model (relemb)",
        "",
        "A [RelBERT](https://aclanthology.org/2021.emnlp-main.712/)-style relation embedding model built with "
        "relemb: a word pair goes in, a vector describing the relation between the two words comes out.",
        "",
        f"- base model: `{config.base_model or 'unknown'}`",
        f"- prompt: {template_line}: `{config.template}`",
        f"- pooling: `{config.pooling}`",
        f"- max length: {config.max_length} tokens",
        f"- embedding dimension: {embedding_dim}",
        f"- relemb version: {config.relemb_version}",
    ]
    if config.training:
        lines += ["", "## Training", ""]
        lines += [f"- {key}: `{value}`" for key, value in config.training.items()]
    else:
        lines += [
            "",
            "## Training",
            "",
            "Not fine-tuned by relemb (the encoder's pretrained weights with a relation prompt).",
        ]
    table = _results_table(config.results)
    if table:
        lines += ["", "## Results", "", table]
    lines += ["", "## Usage", "", USAGE_SNIPPET.format(model_id=model_id, dim=embedding_dim)]
    body = "\n".join(lines) + "\n"
    return str(ModelCard(f"---\n{metadata.to_yaml()}\n---\n\n{body}"))
