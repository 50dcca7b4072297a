"""Relation losses for ``SentenceTransformerTrainer``: RelBERT's InfoNCE (2023) and triplet (EMNLP 2021).

Both read rows labelled ``[relation, polarity, pair]`` (:func:`relemb.samplers.encode_label`) in
batches of whole relations (:class:`relemb.samplers.RelationBatchSampler`). For an anchor (a
positive pair of relation ``r``):

- positives are the *other* positives of ``r`` (never the anchor itself: the reference's ``i = j``
  self-pairs are left out);
- negatives are ``r``'s own negatives and, with negative augmentation, the positives of the other
  relations in the batch (gathered from every process under DDP);
- a row is never a negative of ``r`` when its word pair is also a positive of ``r`` (SemEval-2012
  lists a few pairs under several relations): no false negatives, whatever the batch.

Why custom losses: ``MultipleNegativesRankingLoss`` (scale 20 = temperature 0.05) has one positive
per anchor and treats every other in-batch row as a negative, which makes same-relation rows false
negatives; ``TripletLoss`` takes fixed ``(anchor, positive, negative)`` columns. The classification
term reuses ``SoftmaxLoss``'s head and its ``[u; v; |u - v|]`` features.

>>> import torch
>>> from relemb.samplers import encode_label
>>> emb = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> labels = torch.tensor([encode_label(0, True, 0), encode_label(0, True, 1),
...                        encode_label(1, True, 2), encode_label(1, True, 3)])
>>> round(relation_nce(emb, labels, temperature=0.05).item(), 4)
0.0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from sentence_transformers.sentence_transformer.losses import SoftmaxLoss
from torch import Tensor, nn

from relemb.choices import LOSSES
from relemb.samplers import decode_labels

__all__ = [
    "LOSSES",
    "RelationNCELoss",
    "RelationTripletLoss",
    "relation_masks",
    "relation_nce",
    "relation_triplet",
]


# --------------------------------------------------------------------------------------------- masks
def relation_masks(
    labels: Tensor,
    anchor_rows: Tensor | None = None,
    *,
    negative_augmentation: bool = True,
    groups: Tensor | None = None,
    own_negatives: bool = True,
    cross_negatives: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """Which rows are positives and negatives of which anchors.

    Args:
        labels: ``(n, 3)`` labels of all candidate rows (after any gathering across devices); rows
            whose relation is negative are padding and never used.
        anchor_rows: indices (into ``labels``) of the rows that may act as anchors; default all.
        negative_augmentation: positives of other groups are negatives.
        groups: ``(n_relations,)`` map from relation index to a coarser group (the parent class);
            default: each relation is its own group.
        own_negatives: the group's own negative rows are negatives (RelBERT's relation-level step).
        cross_negatives: the negative rows of other groups are negatives too (as the hard negatives of
            every row are in sentence-transformers' ``MultipleNegativesRankingLoss``).

    Returns:
        ``(is_anchor, positive, negative)``: ``(m,)`` which anchor rows are positives (real anchors),
        and two ``(m, n)`` boolean masks.

    >>> from relemb.samplers import encode_label
    >>> labels = torch.tensor([encode_label(0, True, 0), encode_label(0, True, 1), encode_label(0, False, 2),
    ...                        encode_label(1, True, 3)])
    >>> is_anchor, positive, negative = relation_masks(labels)
    >>> is_anchor.tolist(), positive[0].tolist(), negative[0].tolist()
    ([True, True, False, True], [False, True, False, False], [False, False, True, True])
    """
    relation, is_positive, pair = decode_labels(labels)
    valid = relation >= 0
    group = relation.clamp(min=0)
    if groups is not None:
        group = groups.to(relation.device)[group]
    n = labels.shape[0]
    if anchor_rows is None:
        anchor_rows = torch.arange(n, device=labels.device)
    a_group = group[anchor_rows]
    is_anchor = is_positive[anchor_rows] & valid[anchor_rows]
    same_group = a_group[:, None] == group[None, :]
    candidate_positive = is_positive & valid
    not_self = torch.ones(len(anchor_rows), n, dtype=torch.bool, device=labels.device)
    not_self[torch.arange(len(anchor_rows), device=labels.device), anchor_rows] = False
    same_pair_as_anchor = pair[anchor_rows][:, None] == pair[None, :]
    positive = same_group & candidate_positive[None, :] & not_self & ~same_pair_as_anchor
    negative = torch.zeros_like(positive)
    if own_negatives:
        negative |= same_group & (~is_positive & valid)[None, :]
    if negative_augmentation:
        negative |= ~same_group & candidate_positive[None, :]
    if cross_negatives:
        negative |= ~same_group & (~is_positive & valid)[None, :]
    # no false negatives: a row whose word pair is a positive of the anchor's group is never a negative
    group_positive_rows = (same_group & candidate_positive[None, :]).float()  # (m, n)
    same_pair = (pair[:, None] == pair[None, :]).float()  # (n, n)
    conflict = (group_positive_rows @ same_pair) > 0
    negative &= ~conflict & valid[None, :]
    positive &= valid[None, :] & is_anchor[:, None]
    negative &= is_anchor[:, None]
    return is_anchor, positive, negative


# ------------------------------------------------------------------------------------------ InfoNCE
def relation_nce(
    embeddings: Tensor,
    labels: Tensor,
    temperature: float = 0.05,
    *,
    loob: bool = False,
    negative_augmentation: bool = True,
    anchor_rows: Tensor | None = None,
    groups: Tensor | None = None,
    own_negatives: bool = True,
    cross_negatives: bool = False,
) -> Tensor:
    """RelBERT's InfoNCE over cosine similarity, averaged over every (anchor, positive) pair.

    For anchor ``i`` and positive ``j``: ``-log(exp(s_ij/t) / (exp(s_ij/t) + sum_n exp(s_in/t)))``;
    with ``loob=True`` (InfoLOOB) the positive is left out of the denominator. Anchors without any
    negative are skipped. Returns 0 (with a gradient) when no (anchor, positive) pair exists.

    >>> from relemb.samplers import encode_label
    >>> emb = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> labels = torch.tensor([encode_label(r, True, i) for i, r in enumerate([0, 0, 1, 1])])
    >>> round(relation_nce(emb, labels, temperature=1.0).item(), 4)   # log(1 + 2 / e): two negatives
    0.5514
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if anchor_rows is None:
        anchor_rows = torch.arange(embeddings.shape[0], device=embeddings.device)
    _, positive, negative = relation_masks(
        labels,
        anchor_rows,
        negative_augmentation=negative_augmentation,
        groups=groups,
        own_negatives=own_negatives,
        cross_negatives=cross_negatives,
    )
    normed = F.normalize(embeddings.float(), dim=-1)
    logits = normed[anchor_rows] @ normed.T / temperature  # (m, n)
    neg_lse = torch.logsumexp(logits.masked_fill(~negative, float("-inf")), dim=1)  # (m,)
    has_negative = negative.any(dim=1)
    pairs = positive & has_negative[:, None]
    if not bool(pairs.any()):
        return embeddings.sum() * 0.0
    pos_logits = logits[pairs]
    neg_for_pair = neg_lse[:, None].expand_as(logits)[pairs]
    if loob:
        losses = neg_for_pair - pos_logits
    else:
        losses = torch.logaddexp(pos_logits, neg_for_pair) - pos_logits
    return losses.mean()


# ------------------------------------------------------------------------------------------ triplet
def relation_triplet(
    embeddings: Tensor,
    labels: Tensor,
    margin: float = 1.0,
    *,
    negative_augmentation: bool = True,
    anchor_rows: Tensor | None = None,
    cross_negatives: bool = False,
) -> Tensor:
    """Batch-all triplet loss ``max(0, ||a - p|| - ||a - n|| + margin)`` (Euclidean), averaged over every
    valid (anchor, positive, negative) triplet. The margin is *added* (the reference subtracts it).

    >>> from relemb.samplers import encode_label
    >>> emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    >>> labels = torch.tensor([encode_label(0, True, 0), encode_label(0, True, 1), encode_label(0, False, 2)])
    >>> relation_triplet(emb, labels, margin=5.0, anchor_rows=torch.tensor([0])).item()   # 1 - 3 + 5
    3.0
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if anchor_rows is None:
        anchor_rows = torch.arange(embeddings.shape[0], device=embeddings.device)
    _, positive, negative = relation_masks(
        labels, anchor_rows, negative_augmentation=negative_augmentation, cross_negatives=cross_negatives
    )
    emb = embeddings.float()
    distances = torch.cdist(emb[anchor_rows], emb)  # (m, n)
    # the (few) positives of each anchor, padded: (m, k) instead of an (m, n, n) triplet cube
    k = max(1, int(positive.sum(dim=1).max().item()))
    order = torch.argsort(positive.to(torch.int8), dim=1, descending=True, stable=True)[:, :k]
    positive_valid = positive.gather(1, order)
    d_ap = distances.gather(1, order)  # (m, k)
    valid = positive_valid[:, :, None] & negative[:, None, :]  # (m, k, n)
    if not bool(valid.any()):
        return embeddings.sum() * 0.0
    hinge = F.relu(d_ap[:, :, None] - distances[:, None, :] + margin)
    return hinge[valid].mean()


# ------------------------------------------------------------------------------------ trainer losses
def _gather(embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """All rows of all processes (padded to equal length; padding rows get relation -1) and the indices
    of this process's rows. Gradients flow back to the local rows (``torch.distributed.nn.all_gather``)."""
    import torch.distributed as dist

    local_rows = torch.arange(embeddings.shape[0], device=embeddings.device)
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return embeddings, labels, local_rows
    from sentence_transformers.util import all_gather, all_gather_with_grad

    size = torch.tensor([embeddings.shape[0]], device=embeddings.device)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    longest = int(max(int(s.item()) for s in sizes))
    pad = longest - embeddings.shape[0]
    if pad:
        embeddings = torch.cat([embeddings, embeddings.new_zeros(pad, embeddings.shape[1])])
        labels = torch.cat([labels, labels.new_full((pad, labels.shape[1]), -1)])
    gathered = all_gather_with_grad(embeddings.contiguous())
    gathered_labels = all_gather(labels.contiguous())
    return gathered, gathered_labels, local_rows + dist.get_rank() * longest


class _RelationLoss(nn.Module):
    """Shared trainer plumbing: embed the pair column once, gather across devices, add the optional
    classification term; subclasses define :meth:`contrast`.

    The options every relation loss takes (keyword-only):

    - ``negative_augmentation``: positives of other relations are negatives (default on);
    - ``cross_negatives``: the negatives of other relations are negatives too (default off; as in
      ``MultipleNegativesRankingLoss`` with hard negatives);
    - ``classification``: add SBERT's classification term (``--classification_loss``);
    - ``classification_negatives``: random negatives per anchor in that term (8);
    - ``gather_across_devices``: under DDP, use the rows of every process as negatives (default on).
    """

    component = "loss"

    def __init__(
        self,
        model: Any,
        *,
        negative_augmentation: bool = True,
        cross_negatives: bool = False,
        classification: bool = False,
        classification_negatives: int = 8,
        gather_across_devices: bool = True,
    ) -> None:
        super().__init__()
        self.model = model
        self.negative_augmentation = bool(negative_augmentation)
        self.cross_negatives = bool(cross_negatives)
        self.gather_across_devices = bool(gather_across_devices)
        self.classification_negatives = int(classification_negatives)
        self.head: SoftmaxLoss | None = None
        if classification:
            dim = model.get_embedding_dimension()
            self.head = SoftmaxLoss(model, embedding_dimension=dim, num_labels=2)

    def contrast(self, embeddings: Tensor, labels: Tensor, anchor_rows: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> dict[str, Tensor]:
        features = list(sentence_features)
        if len(features) != 1:
            raise ValueError(
                f"{type(self).__name__} expects one input column (the word pairs) and a label column, "
                f"got {len(features)} input columns"
            )
        embeddings = self.model(features[0])["sentence_embedding"]
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: Tensor, labels: Tensor) -> dict[str, Tensor]:
        """The loss components (a dict: the trainer sums and logs them) for precomputed embeddings."""
        labels = labels.to(embeddings.device)
        decode_labels(labels)  # shape check with a clear message
        if self.gather_across_devices:
            all_embeddings, all_labels, anchor_rows = _gather(embeddings, labels)
        else:
            all_embeddings, all_labels = embeddings, labels
            anchor_rows = torch.arange(embeddings.shape[0], device=embeddings.device)
        components = self.contrast(all_embeddings, all_labels, anchor_rows)
        if self.head is not None:
            components["classification"] = self.classification_term(all_embeddings, all_labels, anchor_rows)
        return components

    def classification_term(self, embeddings: Tensor, labels: Tensor, anchor_rows: Tensor) -> Tensor:
        """SBERT's ``-log g(a, p) - log(1 - g(a, n))`` with ``g(u, v) = softmax(W [u; v; |u - v|])_1``
        (two-class softmax = sigmoid of the logit difference), averaged over (anchor, positive) pairs and
        over up to ``classification_negatives`` random negatives per anchor."""
        _, positive, negative = relation_masks(
            labels, anchor_rows, negative_augmentation=self.negative_augmentation, cross_negatives=self.cross_negatives
        )
        terms = []
        a_idx, p_idx = positive.nonzero(as_tuple=True)
        if len(a_idx):
            terms.append(self._pair_loss(embeddings[anchor_rows[a_idx]], embeddings[p_idx], 1))
        rows_with_neg = negative.any(dim=1).nonzero(as_tuple=True)[0]
        if len(rows_with_neg):
            weights = negative[rows_with_neg].float()
            k = int(min(self.classification_negatives, int(weights.sum(dim=1).min().item())))
            if k > 0:
                chosen = torch.multinomial(weights, k, replacement=False)  # (r, k)
                anchors = anchor_rows[rows_with_neg][:, None].expand_as(chosen).reshape(-1)
                terms.append(self._pair_loss(embeddings[anchors], embeddings[chosen.reshape(-1)], 0))
        if not terms:
            return embeddings.sum() * 0.0
        return torch.stack(terms).sum()

    def _pair_loss(self, u: Tensor, v: Tensor, target: int) -> Tensor:
        head = self.head
        assert head is not None, "only called with the classification term on"
        parts = []
        if head.concatenation_sent_rep:
            parts += [u, v]
        if head.concatenation_sent_difference:
            parts.append(torch.abs(u - v))
        if head.concatenation_sent_multiplication:
            parts.append(u * v)
        logits = head.classifier(torch.cat(parts, dim=1).to(head.classifier.weight.dtype))
        targets = torch.full((u.shape[0],), target, dtype=torch.long, device=u.device)
        return F.cross_entropy(logits, targets)

    def head_state_dict(self) -> dict[str, Tensor]:
        """The loss's own trainable weights (the classification head), without the model's."""
        return {key: value for key, value in self.state_dict().items() if "model" not in key.split(".")}

    def get_config_dict(self) -> dict[str, Any]:
        """The options of the loss (sentence-transformers shows them in the model card)."""
        return {
            "negative_augmentation": self.negative_augmentation,
            "cross_negatives": self.cross_negatives,
            "classification": self.head is not None,
        }


class RelationNCELoss(_RelationLoss):
    """RelBERT's InfoNCE (journal 2023 recipe), the default loss of ``relemb-train``.

    Args:
        model: the ``SentenceTransformer`` (``relbert.encoder``).
        temperature: tau of ``exp(cos / tau)``; 0.05 as in RelBERT (= ST's ``scale=20``).
        loob: InfoLOOB (the positive left out of the denominator).
        parent_groups: relation index -> parent class index; when given, a parent-level term is added
            (positives of the same parent class attract, positives of other parent classes repel).
        options: the options of every relation loss: ``negative_augmentation`` (default on),
            ``classification`` (SBERT's classification term, ``--classification_loss``),
            ``classification_negatives`` (8), ``gather_across_devices`` (under DDP, the rows of every
            process are negatives; default on).

    Example::

        loss = RelationNCELoss(relbert.encoder, temperature=0.05)
        trainer = SentenceTransformerTrainer(model=relbert.encoder, loss=loss, train_dataset=rows, args=args)
    """

    parent_groups: Tensor | None  # a buffer (not saved): relation index -> parent class index

    def __init__(
        self,
        model: Any,
        temperature: float = 0.05,
        *,
        loob: bool = False,
        parent_groups: Sequence[int] | None = None,
        **options: Any,
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        super().__init__(model, **options)
        self.temperature = float(temperature)
        self.loob = bool(loob)
        groups = None if parent_groups is None else torch.as_tensor(list(parent_groups), dtype=torch.long)
        self.register_buffer("parent_groups", groups, persistent=False)

    def contrast(self, embeddings: Tensor, labels: Tensor, anchor_rows: Tensor) -> dict[str, Tensor]:
        components = {
            "nce": relation_nce(
                embeddings,
                labels,
                self.temperature,
                loob=self.loob,
                negative_augmentation=self.negative_augmentation,
                cross_negatives=self.cross_negatives,
                anchor_rows=anchor_rows,
            )
        }
        if self.parent_groups is not None:
            components["parent_nce"] = relation_nce(
                embeddings,
                labels,
                self.temperature,
                loob=self.loob,
                negative_augmentation=True,
                anchor_rows=anchor_rows,
                groups=self.parent_groups,
                own_negatives=False,
            )
        return components

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "loob": self.loob,
            "parent_level": self.parent_groups is not None,
            **super().get_config_dict(),
        }


class RelationTripletLoss(_RelationLoss):
    """RelBERT's triplet loss (EMNLP 2021) with the margin sign fixed and in-batch negatives from other
    relations: ``max(0, ||a - p|| - ||a - n|| + margin)`` over every valid triplet of the batch.

    Args:
        model: the ``SentenceTransformer`` (``relbert.encoder``).
        margin: the Euclidean margin (>= 0).
        options: the options of every relation loss, as for :class:`RelationNCELoss`
            (``negative_augmentation``, ``classification``, ``classification_negatives``,
            ``gather_across_devices``).

    Example::

        loss = RelationTripletLoss(relbert.encoder, margin=1.0, classification=True)
    """

    def __init__(
        self,
        model: Any,
        margin: float = 1.0,
        **options: Any,
    ) -> None:
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        super().__init__(model, **options)
        self.margin = float(margin)

    def contrast(self, embeddings: Tensor, labels: Tensor, anchor_rows: Tensor) -> dict[str, Tensor]:
        return {
            "triplet": relation_triplet(
                embeddings,
                labels,
                self.margin,
                negative_augmentation=self.negative_augmentation,
                anchor_rows=anchor_rows,
                cross_negatives=self.cross_negatives,
            )
        }

    def get_config_dict(self) -> dict[str, Any]:
        return {"margin": self.margin, **super().get_config_dict()}
