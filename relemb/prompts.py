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

SUBJ = "<subj>"
OBJ = "<obj>"
MASK = "<mask>"
PLACEHOLDERS = (SUBJ, OBJ, MASK)

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

_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))


def validate_template(template: str) -> str:
    """Check that ``template`` has ``<subj>``, ``<obj>`` and exactly one ``<mask>``; return it.

    >>> validate_template("<subj> and <obj>")
    Traceback (most recent call last):
    ...
    ValueError: template '<subj> and <obj>' has no <mask> placeholder; a relation template needs <subj>, <obj> and exactly one <mask>
    """
    if not isinstance(template, str):
        raise TypeError(f"template must be a string, got {type(template).__name__}")
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


def resolve_template(template: str | None = None) -> str:
    """Turn a template id (``a``-``e``) or a template string into a validated template string.

    ``None`` gives the default template ``d``.
    """
    if template is None:
        return TEMPLATES[DEFAULT_TEMPLATE_ID]
    if isinstance(template, str) and template in TEMPLATES:
        return TEMPLATES[template]
    if isinstance(template, str) and not any(p in template for p in PLACEHOLDERS):
        raise ValueError(
            f"unknown template {template!r}: give a template id ({', '.join(sorted(TEMPLATES))}) "
            "or a template string with <subj>, <obj> and <mask>"
        )
    return validate_template(template)


def template_id(template: str) -> str | None:
    """The id (``a``-``e``) of a manual template string, or ``None`` for a custom template."""
    for key, value in TEMPLATES.items():
        if value == template:
            return key
    return None


def validate_word(word: object, *, role: str = "word", mask_token: str | None = None) -> str:
    """Check one word of a pair: a non-empty string without placeholders or the mask token."""
    if not isinstance(word, str):
        raise TypeError(f"{role} must be a string, got {type(word).__name__} ({word!r})")
    if not word.strip():
        raise ValueError(f"{role} is empty or whitespace: {word!r}")
    for placeholder in PLACEHOLDERS:
        if placeholder in word:
            raise ValueError(f"{role} {word!r} contains the template placeholder {placeholder}")
    if mask_token and mask_token in word:
        raise ValueError(f"{role} {word!r} contains the mask token {mask_token!r}")
    return word


def render_prompt(template: str, head: str, tail: str, mask_token: str) -> str:
    """Fill ``template`` with ``head``, ``tail`` and the tokenizer's ``mask_token``.

    Words are validated (non-empty, no placeholders, no mask token); substitution is done in one pass,
    so a word can never be re-substituted.
    """
    validate_word(head, role="head word", mask_token=mask_token)
    validate_word(tail, role="tail word", mask_token=mask_token)
    values = {SUBJ: head, OBJ: tail, MASK: mask_token}
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(0)], template)
