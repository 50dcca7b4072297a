"""Model cards for relation models, in the Hub conventions of sentence-transformers' cards: YAML metadata
(``base_model``, ``datasets``, ``license``, ``tags``, ``library_name``, ``pipeline_tag``, ``metrics`` and the
scores in ``model-index`` form, through ``huggingface_hub.ModelCardData``), the results against the untrained
base model with their 95% intervals, the training recipe as the command line that reproduces it, the learning
curve with the per-evaluation scores, a usage snippet that works for word pairs, and the citation.

sentence-transformers' own card runs ``encode`` on sentences, which a pair model refuses, so relemb writes its
own. Everything comes from the model's :class:`~relemb.checkpoint.RelBERTConfig`: ``training`` is the recipe
(``command`` the command line), ``results`` the scores ``relemb.training.train`` stores there, flat:
``<set>_accuracy`` (validation sets, ``validation_mean_accuracy`` their mean), ``<name>_test_accuracy``, each
with ``_ci_low``/``_ci_high`` and ``_n``; ``untrained_<name>_test_accuracy`` (the base model before training);
``history`` (one row per evaluation: ``step``, ``epoch``, ``loss`` and ``scores`` by set name, as
:meth:`relemb.training_curve.Evaluation.to_dict` writes it), ``best_step`` and ``training_curve`` (the
figure's file name, next to the card).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from relemb._io import markdown_table
from relemb.checkpoint import RelBERTConfig
from relemb.data.names import ANALOGY_DATASETS, ANALOGY_REPO, SEMEVAL_REPO
from relemb.prompts import template_id

__all__ = [
    "CITATION",
    "UNTRAINED_PREFIX",
    "USAGE_SNIPPET",
    "build_model_card",
    "card_figures",
    "card_metadata",
]

#: The prefix of the untrained base model's scores in ``config.results``.
UNTRAINED_PREFIX = "untrained_"
#: The mean over the validation sets (``validation_mean_accuracy``).
_MEAN = "validation_mean"


def _is_plain_file_name(name: Any) -> bool:
    """A non-empty file name without folders: a figure next to the card."""
    return isinstance(name, str) and bool(name) and os.path.basename(name) == name


def _relation_space_plots(results: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The relation-space plots of ``config.results`` (``relemb-eval plot --add-to-card``): entries
    ``{"file", "dataset", "split", "method"}`` whose file lies next to the card."""
    plots = results.get("relation_space") or []
    return [item for item in plots if isinstance(item, Mapping) and _is_plain_file_name(item.get("file"))]


def card_figures(config: RelBERTConfig) -> list[str]:
    """The file names of the figures the model card of ``config`` links, next to the card: the learning curve
    (``results["training_curve"]``) and the relation-space plots (``results["relation_space"]``).

    >>> card_figures(RelBERTConfig(results={"training_curve": "training_curve.png",
    ...                                     "relation_space": [{"file": "relation_space_BLESS.png"}]}))
    ['training_curve.png', 'relation_space_BLESS.png']
    >>> card_figures(RelBERTConfig(results={"training_curve": "../elsewhere.png"}))
    []
    """
    results = config.results or {}
    curve = results.get("training_curve")
    return ([curve] if _is_plain_file_name(curve) else []) + [item["file"] for item in _relation_space_plots(results)]


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

#: RelBERT (Ushio, Camacho-Collados and Schockaert, EMNLP 2021), as the ACL Anthology gives it.
CITATION = """\
```bibtex
@inproceedings{ushio-etal-2021-distilling,
    title = "Distilling Relation Embeddings from Pretrained Language Models",
    author = "Ushio, Asahi  and
      Camacho-Collados, Jose  and
      Schockaert, Steven",
    booktitle = "Proceedings of the 2021 Conference on Empirical Methods in Natural Language Processing",
    month = nov,
    year = "2021",
    address = "Online and Punta Cana, Dominican Republic",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2021.emnlp-main.712",
    doi = "10.18653/v1/2021.emnlp-main.712",
    pages = "9044--9062",
}
```"""

_TAGS = ["relemb", "relbert", "relation-embedding", "sentence-transformers", "feature-extraction"]
#: Licences of the usual base models (a fine-tuned model keeps its base model's licence); others: ``unknown``.
_LICENSES = {
    "sentence-transformers/all-minilm-l6-v2": "apache-2.0",
    "roberta-large": "mit",
    "roberta-base": "mit",
    "facebookai/roberta-large": "mit",
    "facebookai/roberta-base": "mit",
    "bert-base-uncased": "apache-2.0",
    "bert-large-uncased": "apache-2.0",
    "google-bert/bert-base-uncased": "apache-2.0",
    "google-bert/bert-large-uncased": "apache-2.0",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _hub_id(name: str | None) -> str | None:
    """``name`` when it is a Hub model id (``owner/name`` or a legacy bare name), not a local path."""
    if not name or name.startswith((".", "~", "/")) or os.path.exists(name) or not _HUB_ID.match(name):
        return None
    return name


def _label(name: str, split: str) -> str:
    """How the results table names a set: validation sets without their ``_validation`` suffix."""
    if split == "test":
        return name
    return "mean" if name == _MEAN else name.removesuffix("_validation")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _interval(results: Mapping[str, Any], key: str) -> tuple[float, float] | None:
    low, high = _number(results.get(f"{key}_ci_low")), _number(results.get(f"{key}_ci_high"))
    return None if low is None or high is None else (low, high)


def _score_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The accuracies of ``results``: one dict per dataset and split (name, split, key, value, interval, n,
    and the untrained base model's value and interval when known), validation sets first."""
    rows = []
    for key, value in results.items():
        number = _number(value)
        if number is None or not key.endswith("_accuracy") or key.startswith(UNTRAINED_PREFIX):
            continue
        if key.endswith("_test_accuracy"):
            name, split = key[: -len("_test_accuracy")], "test"
        else:
            name, split = key[: -len("_accuracy")], "validation"
        untrained_key = f"{UNTRAINED_PREFIX}{key}"
        n = _number(results.get(f"{key[: -len('_accuracy')]}_n"))
        rows.append(
            {
                "name": name,
                "label": _label(name, split),
                "split": split,
                "value": number,
                "interval": _interval(results, key),
                "n": None if n is None else int(n),
                "untrained": _number(results.get(untrained_key)),
                "untrained_interval": _interval(results, untrained_key),
            }
        )
    if sum(row["split"] == "validation" for row in rows) == 2:  # one set: its mean is itself
        rows = [row for row in rows if row["name"] != _MEAN]
    rows.sort(key=lambda row: (row["split"] != "validation", row["name"] == _MEAN))
    return rows


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _interval_text(interval: tuple[float, float] | None) -> str:
    return "" if interval is None else f"{_percent(interval[0])}-{_percent(interval[1])}"


def _results_table(results: Mapping[str, Any]) -> str:
    """The accuracy table (percent, 95% CI), with the untrained base model's columns when known."""
    rows = _score_rows(results)
    if not rows:
        return ""
    compare = any(row["untrained"] is not None for row in rows)
    headers = ["dataset", "split", "n", "accuracy", "95% CI"] + (["untrained base", "95% CI "] if compare else [])
    table = []
    for row in rows:
        cells = [row["label"], row["split"], row["n"] or "", _percent(row["value"]), _interval_text(row["interval"])]
        if compare:
            cells += [_percent(row["untrained"]), _interval_text(row["untrained_interval"])]
        table.append(cells)
    return markdown_table(headers, table)


def _dataset_of(name: str, split: str) -> tuple[str, str | None]:
    """``(dataset type, config)`` of a score's dataset for ``model-index``: the Hub repo where it lives."""
    if split == "test" or name.endswith("_validation"):
        base = name[: -len("_validation")] if split == "validation" else name
        if base.lower() in ANALOGY_DATASETS:
            return ANALOGY_REPO, base.lower()
        if base == "semeval2012":
            return SEMEVAL_REPO, None
        return base, None
    return name, None


def _eval_results(results: Mapping[str, Any]) -> list[EvalResult]:
    """The test scores in ``model-index`` form (the validation scores when there is no test set)."""
    rows = _score_rows(results)
    chosen = [row for row in rows if row["split"] == "test"] or [r for r in rows if r["name"] != _MEAN]
    found = []
    for row in chosen:
        dataset_type, config = _dataset_of(row["name"], row["split"])
        found.append(
            EvalResult(
                task_type="feature-extraction",
                task_name="Relation analogy questions",
                dataset_type=dataset_type,
                dataset_name=row["label"],
                dataset_config=config,
                dataset_split=row["split"],
                metric_type="accuracy",
                metric_name="Accuracy",
                metric_value=round(row["value"], 4),
            )
        )
    return found


def card_metadata(config: RelBERTConfig, model_id: str) -> ModelCardData:
    """The card's YAML metadata: base model (when it is a Hub id), datasets, licence (the base model's when
    known, else ``unknown``), tags, library, pipeline tag and the scores in ``model-index`` form.

    >>> data = card_metadata(RelBERTConfig(base_model="roberta-large", results={"u2_test_accuracy": 0.61}), "me/m")
    >>> data.base_model, data.license, [(r.dataset_type, r.dataset_config, r.metric_value) for r in data.eval_results]
    ('roberta-large', 'mit', [('relbert/analogy_questions', 'u2', 0.61)])
    """
    base_model = _hub_id(config.base_model)
    results = config.results or {}
    evals = _eval_results(results)
    return ModelCardData(
        model_name=model_id if evals else None,
        base_model=base_model,
        datasets=list(config.training.get("datasets") or []) or None,
        license=_LICENSES.get((base_model or "").lower(), "unknown"),
        library_name="sentence-transformers",
        pipeline_tag="feature-extraction",
        tags=list(_TAGS),
        metrics=["accuracy"] if evals else None,
        eval_results=evals or None,
    )


def _relation_space_section(results: Mapping[str, Any]) -> list[str]:
    """The relation-space plots (``relemb-eval plot --add-to-card``), one figure each."""
    plots = _relation_space_plots(results)
    if not plots:
        return []
    lines = [
        "",
        "## Relation space",
        "",
        "The relation embeddings of labelled pairs projected to 2-D, coloured by relation.",
        "",
    ]
    for item in plots:
        caption = f"{item.get('dataset', '')} ({item.get('split', '')}), {str(item.get('method', '')).upper()}"
        lines += [f"![{caption}]({item['file']})", ""]
    return lines[:-1]


def _history_section(results: Mapping[str, Any]) -> list[str]:
    """The learning curve (figure) and the per-evaluation scores, the chosen evaluation marked."""
    rows = [row for row in results.get("history") or [] if isinstance(row, Mapping)]
    figure = results.get("training_curve")
    if not rows and not figure:
        return []
    lines = ["", "### Learning curve", ""]
    if figure:
        lines += [f"![Training loss and selection scores per evaluation]({figure})", ""]
    if rows:
        best = results.get("best_step")
        names = list(dict.fromkeys(name for row in rows for name in row.get("scores") or {}))
        headers = ["epoch", "step", "training loss", *(f"{name} (%)" for name in names), "chosen"]
        table = []
        for row in rows:
            scores, epoch, loss = row.get("scores") or {}, _number(row.get("epoch")), _number(row.get("loss"))
            cells: list[Any] = ["" if epoch is None else f"{epoch:g}", row.get("step", "")]
            cells.append("" if loss is None else f"{loss:.4f}")
            cells += [_percent(_number(scores.get(name))) for name in names]
            cells.append("✓" if best is not None and row.get("step") == best else "")
            table.append(cells)
        lines += [
            "The selection scores (accuracy on the model-selection questions) after each evaluation; the chosen "
            "checkpoint became this model.",
            "",
            markdown_table(headers, table),
        ]
    return lines


def _training_section(config: RelBERTConfig) -> list[str]:
    if not config.training:
        return [
            "",
            "## Training",
            "",
            "Not fine-tuned by relemb (the encoder's pretrained weights with a relation prompt).",
        ]
    lines = ["", "## Training", ""]
    command = config.training.get("command")
    if command:
        lines += ["Reproduce it with:", "", "```bash", str(command), "```", ""]
    lines += ["Recipe:", ""]
    lines += [f"- {key}: `{value}`" for key, value in config.training.items() if key != "command"]
    return lines + _history_section(config.results or {})


def build_model_card(config: RelBERTConfig, model_id: str, embedding_dim: int) -> str:
    """Markdown (with YAML metadata) describing a relation model saved with ``config``.

    >>> card = build_model_card(RelBERTConfig(template="<subj> is the <mask> of <obj>"), "me/model", 8)
    >>> "RelBERT.from_pretrained(\\"me/model\\")" in card and "ushio-etal-2021-distilling" in card
    True
    """
    metadata = card_metadata(config, model_id)
    tid = template_id(config.template)
    template_line = f"manual template `{tid}`" if tid else "custom template"
    lines = [
        f"# {model_id}: a relation embedding model (relemb)",
        "",
        "A [RelBERT](https://aclanthology.org/2021.emnlp-main.712/)-style relation embedding model built with "
        "relemb: a word pair goes in, a vector describing the relation between the two words comes out.",
        "",
        "## Model details",
        "",
        f"- base model: `{config.base_model or 'unknown'}`",
        f"- prompt: {template_line}: `{config.template}`",
        f"- pooling: `{config.pooling}`",
        f"- max length: {config.max_length} tokens",
        f"- embedding dimension: {embedding_dim}",
        f"- relemb version: {config.relemb_version}",
    ]
    table = _results_table(config.results or {})
    if table:
        untrained = any(key.startswith(UNTRAINED_PREFIX) for key in config.results)
        lines += [
            "",
            "## Results",
            "",
            "Analogy accuracy in percent, with 95% bootstrap intervals over the questions"
            + (
                "; the untrained base is the base model with the same prompt, before fine-tuning, on the same "
                "questions."
                if untrained
                else "."
            ),
            "",
            table,
        ]
    lines += _training_section(config)
    lines += _relation_space_section(config.results or {})
    lines += ["", "## Usage", "", USAGE_SNIPPET.format(model_id=model_id, dim=embedding_dim)]
    lines += ["", "## Citation", "", "If you use this model, please cite RelBERT:", "", CITATION]
    body = "\n".join(lines) + "\n"
    return str(ModelCard(f"---\n{metadata.to_yaml()}\n---\n\n{body}"))
