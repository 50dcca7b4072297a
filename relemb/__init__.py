"""relemb: relation embeddings (RelBERT) native to sentence-transformers.

>>> from relemb import RelBERT                     # doctest: +SKIP
>>> model = RelBERT.from_pretrained("minilm")
>>> model.get_embedding(("camera", "photographer")).shape
(384,)
"""

__version__ = "0.1.0"

from relemb.model import RelBERT  # noqa: E402
from relemb.modules import POOLING_MODES, RelationPooling, RelationTransformer  # noqa: E402
from relemb.prompts import DEFAULT_TEMPLATE_ID, TEMPLATES  # noqa: E402

__all__ = [
    "RelBERT",
    "RelationTransformer",
    "RelationPooling",
    "POOLING_MODES",
    "TEMPLATES",
    "DEFAULT_TEMPLATE_ID",
    "__version__",
]
