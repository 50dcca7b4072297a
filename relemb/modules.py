"""The two sentence-transformers modules that make an encoder a relation model.

``RelationTransformer`` is an input module: it turns ``(head, tail)`` pairs into prompt text with its
template, tokenizes them with dynamic padding and refuses any input whose mask token was truncated away.
``RelationPooling`` pools the token embeddings at the mask (``mask``), over all tokens (``average``) or
over all tokens but the mask (``average_no_mask``); always means, never sums.

Both are saved in the checkpoint (``modules.json`` names them) and restored on load.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from sentence_transformers.base.modules import Module, Transformer

from relemb._compat import no_unpadding_kwargs
from relemb.checkpoint import CONFIG_VERSION
from relemb.choices import DEFAULT_POOLING, check_pooling_mode
from relemb.pairs import check_pairs
from relemb.prompts import render_prompt, resolve_template, validate_template

if TYPE_CHECKING:
    from sentence_transformers.base.modules.transformer import ProcessingKwargs
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)


class MaskTruncatedError(ValueError):
    """The prompt of a pair is longer than ``max_length`` and truncation removed its mask token."""


class RelationTransformer(Transformer):
    """A :class:`~sentence_transformers.base.modules.Transformer` whose inputs are word pairs.

    Args:
        model_name_or_path: a transformers encoder checkpoint (Hub id or local folder).
        template: a template id (``a``-``e``) or a template string with ``<subj>``, ``<obj>``, ``<mask>``.
        max_seq_length: truncation length in tokens (RelBERT uses 64).
        **kwargs: passed to ``Transformer`` (``model_kwargs``, ``processor_kwargs``, ``backend`` ...).

    Example::

        module = RelationTransformer("path/to/encoder", template="d", max_seq_length=64)
        features = module.preprocess([("Tokyo", "Japan")])
    """

    config_keys: list[str] = [*Transformer.config_keys, "template"]
    #: Key of the saved module config that records the relemb checkpoint format (:data:`CONFIG_VERSION`). It is
    #: a marker, not an option: :meth:`get_config_dict` writes it, :meth:`load_config` checks and removes it.
    VERSION_KEY = "relemb_config_version"

    def __init__(self, model_name_or_path: str, *, template: str | None = None, **kwargs: Any) -> None:
        self.template = resolve_template(template)
        # Pooling needs the padded (batch, seq, dim) layout; flash-attention unpadding would flatten it.
        kwargs.update(no_unpadding_kwargs())
        super().__init__(model_name_or_path, **kwargs)
        if self.tokenizer is None or self.tokenizer.mask_token is None:
            raise ValueError(
                f"the tokenizer of {model_name_or_path!r} has no mask token; relation prompts need one "
                "(BERT's [MASK], RoBERTa's <mask>)"
            )

    def _text_tokenizer(self) -> PreTrainedTokenizerBase:
        tokenizer = self.tokenizer
        assert tokenizer is not None, "__init__ refuses a model without a tokenizer"
        return tokenizer

    @property
    def mask_token(self) -> str:
        return self._text_tokenizer().mask_token

    @property
    def mask_token_id(self) -> int:
        return self._text_tokenizer().mask_token_id

    def set_template(self, template: str) -> None:
        """Replace the template (an id or a template string)."""
        self.template = resolve_template(template)

    def render(self, pairs: Sequence[Sequence[str]], template: str | None = None) -> list[str]:
        """The prompt texts of ``pairs``; raises ``TypeError``/``ValueError`` naming a bad item and its index."""
        template = self.template if template is None else validate_template(template)
        pairs = check_pairs(pairs, mask_token=self.mask_token)
        return [render_prompt(template, head, tail, self.mask_token) for head, tail in pairs]

    def preprocess(
        self,
        inputs: Sequence[Any],
        prompt: str | None = None,
        processing_kwargs: ProcessingKwargs | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Render pairs into prompts and tokenize them, padded to the longest in the batch.

        ``prompt``, when given (e.g. a named prompt from the model's ``prompts``), is used as the template;
        ``processing_kwargs`` and ``kwargs`` go to ``Transformer.preprocess``.
        """
        if not inputs:
            return {}
        texts = self.render(inputs, template=prompt)
        features = super().preprocess(texts, processing_kwargs=processing_kwargs, **kwargs)
        input_ids = features["input_ids"]
        n_masks = (input_ids == self.mask_token_id).sum(dim=1)
        if not bool((n_masks == 1).all()):
            index = int(torch.nonzero(n_masks != 1)[0, 0])
            limit = self.max_seq_length
            raise MaskTruncatedError(
                f"the prompt of pair {index} {tuple(inputs[index])!r} does not keep exactly one mask token "
                f"after tokenization ({int(n_masks[index])} found; max_length={limit}): the words are too long "
                "for the template; shorten them or raise max_length"
            )
        return features

    def get_config_dict(self) -> dict[str, Any]:
        """The module config saved in ``sentence_bert_config.json``: sentence-transformers' keys, the template,
        and the format marker :attr:`VERSION_KEY`."""
        config = super().get_config_dict()
        config["template"] = self.template
        config[self.VERSION_KEY] = CONFIG_VERSION
        return config

    @classmethod
    def load_config(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The saved module config as ``__init__`` arguments: the format marker :attr:`VERSION_KEY` is removed
        (a newer one is logged), so checkpoints of every relemb version load.

        >>> RelationTransformer.VERSION_KEY in RelationTransformer.load_config("./no/such/checkpoint")
        False
        """
        config = super().load_config(*args, **kwargs)
        version = config.pop(cls.VERSION_KEY, None)
        if isinstance(version, int) and version > CONFIG_VERSION:
            logger.warning(
                "this checkpoint's RelationTransformer config has %s %s, newer than this relemb's %s: "
                "loading the options it knows",
                cls.VERSION_KEY,
                version,
                CONFIG_VERSION,
            )
        return config

    def __repr__(self) -> str:
        return f"RelationTransformer(template={self.template!r}, architecture={self.model.__class__.__name__})"


class RelationPooling(Module):
    """Pool token embeddings into a relation embedding.

    Modes: ``mask`` (the hidden state at the mask token), ``average`` (mean over non-pad tokens) and
    ``average_no_mask`` (mean over non-pad tokens except the mask).

    Args:
        embedding_dimension: the encoder's hidden size.
        mask_token_id: the id of the tokenizer's mask token.
        pooling_mode: one of :data:`POOLING_MODES`.
    """

    config_keys: list[str] = ["embedding_dimension", "mask_token_id", "pooling_mode"]
    config_file_name: str = "config.json"

    def __init__(self, embedding_dimension: int, mask_token_id: int, pooling_mode: str = DEFAULT_POOLING) -> None:
        super().__init__()
        self.embedding_dimension = int(embedding_dimension)
        self.mask_token_id = int(mask_token_id)
        self.pooling_mode = check_pooling_mode(pooling_mode)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        token_embeddings = features["token_embeddings"]
        attention_mask = features["attention_mask"].to(token_embeddings.dtype)
        is_mask = features["input_ids"] == self.mask_token_id
        features["sentence_embedding"] = pool(token_embeddings, attention_mask, is_mask, self.pooling_mode)
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.embedding_dimension

    def get_embedding_dimension(self) -> int:
        return self.embedding_dimension

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        os.makedirs(output_path, exist_ok=True)
        self.save_config(output_path)

    def __repr__(self) -> str:
        return f"RelationPooling(pooling_mode={self.pooling_mode!r}, dim={self.embedding_dimension})"


def pool(
    token_embeddings: torch.Tensor, attention_mask: torch.Tensor, is_mask: torch.Tensor, mode: str
) -> torch.Tensor:
    """Pool ``(batch, seq, dim)`` token embeddings; ``is_mask`` marks the mask token of each row.

    >>> emb = torch.tensor([[[1.0], [2.0], [6.0], [0.0]]])
    >>> am = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    >>> ism = torch.tensor([[False, True, False, False]])
    >>> [pool(emb, am, ism, m).item() for m in ("mask", "average", "average_no_mask")]
    [2.0, 3.0, 3.5]
    """
    if mode == "mask":
        weights = is_mask.to(token_embeddings.dtype)
    elif mode == "average":
        weights = attention_mask
    elif mode == "average_no_mask":
        weights = attention_mask * (~is_mask).to(token_embeddings.dtype)
    else:
        check_pooling_mode(mode)
    weights = weights.unsqueeze(-1)
    total = (token_embeddings * weights).sum(dim=1)
    return total / weights.sum(dim=1).clamp(min=1e-9)
