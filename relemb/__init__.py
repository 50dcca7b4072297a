"""relemb: relation embeddings (RelBERT) native to sentence-transformers.

>>> from relemb import RelBERT                     # doctest: +SKIP
>>> model = RelBERT.from_pretrained("minilm")
>>> model.get_embedding(("camera", "photographer")).shape
(384,)

Heavy imports (torch, sentence-transformers) happen on first use of a name, so ``import relemb``,
``import relemb.data`` and ``relemb --help`` stay fast:

>>> import relemb
>>> sorted(name for name in relemb.__all__ if name.startswith("Relation"))
['RelationNCELoss', 'RelationPooling', 'RelationTrainingArguments', 'RelationTransformer', 'RelationTripletLoss']
"""

from __future__ import annotations

from relemb._compat import lazy_exports

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first use).
_LAZY = {
    # the model and its parts
    "RelBERT": "relemb.model",
    "RelBERTConfig": "relemb.checkpoint",
    "RelationTransformer": "relemb.modules",
    "RelationPooling": "relemb.modules",
    "POOLING_MODES": "relemb.choices",
    "TEMPLATES": "relemb.prompts",
    "DEFAULT_TEMPLATE_ID": "relemb.prompts",
    # search
    "PairIndex": "relemb.neighbors",
    "Neighbor": "relemb.neighbors",
    # training, as sentence-transformers and SetFit export their trainer
    "train": "relemb.training",
    "TrainResult": "relemb.training",
    "ModelArguments": "relemb.train_config",
    "DataArguments": "relemb.train_config",
    "LossArguments": "relemb.train_config",
    "RelationTrainingArguments": "relemb.training",
    "PromptLearningArguments": "relemb.prompt_learning.config",
    "RelationNCELoss": "relemb.losses",
    "RelationTripletLoss": "relemb.losses",
    # evaluation and results
    "AnalogyEvaluator": "relemb.evaluation.evaluators",
    "RunResult": "relemb.results",
}

__all__ = [*_LAZY, "__version__"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
