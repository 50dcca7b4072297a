"""Prompt templates: the five RelBERT manual templates and custom ones.

A template is a string with the placeholders ``<subj>`` (head word), ``<obj>`` (tail word) and
exactly one ``<mask>``; rendering replaces ``<mask>`` with the tokenizer's own mask token.

>>> render_prompt("<subj> is the <mask> of <obj>", "Tokyo", "Japan", mask_token="[MASK]")
'Tokyo is the [MASK] of Japan'
>>> resolve_template("d") == TEMPLATES["d"]
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SUBJ = "<subj>"
OBJ = "<obj>"
MASK = "<mask>"
PLACEHOLDERS = (SUBJ, OBJ, MASK)
#: A character span ``[start, end)`` of a text.
Span = tuple[int, int]

#: The manual templates of RelBERT (Ushio et al. 2021), exactly as the published checkpoints use them
#: (double spaces and typographic apostrophes included).
TEMPLATES: dict[str, str] = {
    "a": "Today, I finally discovered the relation between <subj> and <obj> : <subj> is the <mask> of <obj>",
    "b": "Today, I finally discovered the relation between <subj> and <obj> : <obj>  is <subj>'s <mask>",
    "c": "Today, I finally discovered the relation between <subj> and <obj> : <mask>",
    "d": "I wasn\u2019t aware of this relationship, but I just read in the encyclopedia that <subj> is the <mask> of <obj>",
    "e": "I wasn\u2019t aware of this relationship, but I just read in the encyclopedia that <obj>  is <subj>\u2019s <mask>",
}
DEFAULT_TEMPLATE_ID = "d"

#: Mask tokens of common tokenizers that a template may not spell out literally (BERT's; RoBERTa's ``<mask>`` is
#: the placeholder itself): a literal one would be a second mask token in every prompt.
LITERAL_MASK_TOKENS = ("[MASK]",)

_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))


def validate_template(template: str, mask_token: str | None = None) -> str:
    """Check that ``template`` has ``<subj>``, ``<obj>`` and exactly one ``<mask>``, and that it does not write a
    mask token literally (:data:`LITERAL_MASK_TOKENS`, and the tokenizer's ``mask_token`` when given); return it.

    >>> validate_template("<subj> and <obj>")
    Traceback (most recent call last):
    ...
    ValueError: template '<subj> and <obj>' has no <mask> placeholder; a relation template needs <subj>, <obj> and exactly one <mask>
    >>> validate_template("<subj> is the [MASK] of <obj>")
    Traceback (most recent call last):
    ...
    ValueError: template '<subj> is the [MASK] of <obj>' writes the mask token '[MASK]' literally; write the placeholder <mask> instead (it becomes the tokenizer's own mask token)
    """
    if not isinstance(template, str):
        raise TypeError(f"template must be a string, got {type(template).__name__}")
    for literal in dict.fromkeys((*LITERAL_MASK_TOKENS, mask_token)):
        if literal and literal != MASK and literal in template:
            raise ValueError(
                f"template {template!r} writes the mask token {literal!r} literally; write the placeholder "
                f"{MASK} instead (it becomes the tokenizer's own mask token)"
            )
    for placeholder in (SUBJ, OBJ, MASK):
        if placeholder not in template:
            raise ValueError(
                f"template {template!r} has no {placeholder} placeholder; "
                "a relation template needs <subj>, <obj> and exactly one <mask>"
            )
    if template.count(MASK) != 1:
        raise ValueError(
            f"template {template!r} has {template.count(MASK)} <mask> placeholders; exactly one is allowed"
        )
    return template


def resolve_template(template: str | None = None, mask_token: str | None = None) -> str:
    """Turn a template id (``a``-``e``) or a template string into a validated template string
    (:func:`validate_template`, with the tokenizer's ``mask_token`` when given).

    ``None`` gives the default template ``d``.
    """
    if template is None:
        return TEMPLATES[DEFAULT_TEMPLATE_ID]
    if isinstance(template, str) and template in TEMPLATES:
        return TEMPLATES[template]
    if isinstance(template, str) and not any(p in template for p in PLACEHOLDERS):
        if any(literal in template for literal in LITERAL_MASK_TOKENS):
            return validate_template(template, mask_token)  # says that the mask is written literally
        raise ValueError(
            f"unknown template {template!r}: give a template id ({', '.join(sorted(TEMPLATES))}) "
            "or a template string with <subj>, <obj> and <mask>"
        )
    return validate_template(template, mask_token)


def template_id(template: str) -> str | None:
    """The id (``a``-``e``) of a manual template string, or ``None`` for a custom template."""
    for key, value in TEMPLATES.items():
        if value == template:
            return key
    return None


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt text and the character spans ``[start, end)`` of every head word, tail word and mask token in
    it (templates a and b name the pair twice, so a word may have several spans).

    >>> p = render_prompt_spans("<subj> is the <mask> of <obj>", "Tokyo", "Japan", "[MASK]")
    >>> [p.text[a:b] for a, b in (*p.head, *p.mask, *p.tail)]
    ['Tokyo', '[MASK]', 'Japan']
    """

    text: str
    head: tuple[Span, ...]
    tail: tuple[Span, ...]
    mask: tuple[Span, ...]


def render_prompt_spans(template: str, head: str, tail: str, mask_token: str) -> RenderedPrompt:
    """Fill ``template`` with ``head``, ``tail`` and the tokenizer's ``mask_token``, keeping where each went.

    The words are checked (:func:`relemb.pairs.check_word`: non-empty, no placeholders, no mask token) and
    substituted in one pass, so a word is never substituted again.
    """
    from relemb.pairs import check_word  # relemb.pairs reads this module's placeholders

    check_word(head, "head word", mask_token=mask_token)
    check_word(tail, "tail word", mask_token=mask_token)
    values = {SUBJ: head, OBJ: tail, MASK: mask_token}
    spans: dict[str, list[Span]] = {SUBJ: [], OBJ: [], MASK: []}
    parts: list[str] = []
    position = last = 0
    for match in _PLACEHOLDER_RE.finditer(template):
        literal = template[last : match.start()]
        value = values[match.group(0)]
        position += len(literal)
        spans[match.group(0)].append((position, position + len(value)))
        position += len(value)
        parts += [literal, value]
        last = match.end()
    parts.append(template[last:])
    return RenderedPrompt("".join(parts), tuple(spans[SUBJ]), tuple(spans[OBJ]), tuple(spans[MASK]))


def span_token_positions(offsets: Sequence[Sequence[int]], spans: Sequence[Span]) -> list[int]:
    """The token positions whose character range (``offsets``, a fast tokenizer's ``offset_mapping``) overlaps one
    of ``spans``: the tokens of a word in a rendered prompt. Tokens with an empty range (special tokens) never do.

    >>> prompt = render_prompt_spans("<subj> of <obj> <mask>", "Tokyo", "Japan", "[MASK]")
    >>> span_token_positions([(0, 3), (3, 5), (6, 8), (9, 14), (15, 21), (0, 0)], prompt.head)
    [0, 1]
    """
    return [
        position
        for position, (start, end) in enumerate(offsets)
        if end > start and any(start < span_end and end > span_start for span_start, span_end in spans)
    ]


def render_prompt(template: str, head: str, tail: str, mask_token: str) -> str:
    """The prompt text of ``(head, tail)``: :func:`render_prompt_spans` without the spans."""
    return render_prompt_spans(template, head, tail, mask_token).text
