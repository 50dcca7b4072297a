"""Word pairs: what a pair is, how it is checked, and how it is written on the command line.

The one module every other one asks (the model, the data records, the pair index, the attention code, the
commands). It imports no torch, so the command line and the data layer stay light.

A pair is a tuple of two non-empty strings, the head word and the tail word. A word must have a visible
character (a word of only white space or invisible characters such as U+200B is empty) and must not contain a
template placeholder (``<subj>``, ``<obj>``, ``<mask>``) nor, where the tokenizer is known, its mask token.
On the command line a pair is written ``HEAD:TAIL`` (:func:`parse_pair`).

>>> is_pair(("Tokyo", "Japan")), is_pair([("Tokyo", "Japan")])
(True, False)
>>> check_pairs([("camera", "photographer"), ["baker", "bread"]])
[('camera', 'photographer'), ('baker', 'bread')]
>>> parse_pair("barista:coffee")
('barista', 'coffee')
>>> check_pair(("a", " "), 3)
Traceback (most recent call last):
...
ValueError: bad pair at index 3 ('a', ' '): tail word is an empty word: ' '
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from relemb.prompts import PLACEHOLDERS

__all__ = [
    "INVISIBLE_CATEGORIES",
    "PAIR_METAVAR",
    "Pair",
    "check_pair",
    "check_pairs",
    "check_word",
    "is_invisible",
    "is_pair",
    "parse_pair",
]

#: A ``(head, tail)`` word pair.
Pair = tuple[str, str]

#: How the command line writes a pair (``--pair HEAD:TAIL``).
PAIR_METAVAR = "HEAD:TAIL"
#: Unicode categories of characters that show nothing: format (zero-width space and joiners, the BOM), space
#: separators and control characters.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Cc"})


def is_pair(item: Any) -> bool:
    """Whether ``item`` is one ``(head, tail)`` pair of strings (a tuple or a list of two strings), as opposed
    to a collection of pairs.

    >>> is_pair(["a", "b"]), is_pair("ab"), is_pair(("a", "b", "c")), is_pair([["a", "b"], ["c", "d"]])
    (True, False, False, False)
    """
    return isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(word, str) for word in item)


def is_invisible(text: str) -> bool:
    """Whether every character of ``text`` is white space or invisible (:data:`INVISIBLE_CATEGORIES`); an
    empty text is invisible too.

    >>> is_invisible("\u200b\u200d"), is_invisible("\ufeff "), is_invisible("a\u200b")
    (True, True, False)
    """
    return all(char.isspace() or unicodedata.category(char) in INVISIBLE_CATEGORIES for char in text)


def check_word(word: Any, role: str = "word", *, mask_token: str | None = None) -> str:
    """Return ``word`` if it is a usable word: a string with a visible character (:func:`is_invisible`), without
    template placeholders and without the tokenizer's ``mask_token``. ``role`` names it in the message
    (``"head word"``, ``"stem[0]"``). A word of only invisible characters is refused always, as an empty word
    is: a tokenizer drops it or turns it into an unknown token, and the pair would embed without it.

    >>> check_word("<mask>ed", "head word")
    Traceback (most recent call last):
    ...
    ValueError: head word '<mask>ed' contains the template placeholder <mask>
    >>> check_word("\u200b", "tail word")
    Traceback (most recent call last):
    ...
    ValueError: tail word is an empty word: '\u200b' has only invisible characters (U+200B)
    """
    if not isinstance(word, str):
        raise TypeError(f"{role} must be a string, got {type(word).__name__} {word!r}")
    if not word.strip():
        raise ValueError(f"{role} is an empty word: {word!r}")
    if is_invisible(word):
        codes = ", ".join(dict.fromkeys(f"U+{ord(char):04X}" for char in word))
        raise ValueError(f"{role} is an empty word: {word!r} has only invisible characters ({codes})")
    for placeholder in PLACEHOLDERS:
        if placeholder in word:
            raise ValueError(f"{role} {word!r} contains the template placeholder {placeholder}")
    if mask_token and mask_token in word:
        raise ValueError(f"{role} {word!r} contains the mask token {mask_token!r}")
    return word


def check_pair(item: Any, index: int | None = None, *, name: str | None = None, mask_token: str | None = None) -> Pair:
    """``item`` as a checked ``(head, tail)`` tuple.

    A value that is not two strings raises ``TypeError``; a bad word raises ``ValueError``. The message names
    the pair by ``name`` (a field such as ``"choice[2]"``) or by its ``index`` in the caller's input.

    >>> check_pair(["Tokyo", "Japan"])
    ('Tokyo', 'Japan')
    >>> check_pair(("a",), name="stem")
    Traceback (most recent call last):
    ...
    TypeError: stem is not a (head, tail) pair of two strings: ('a',)
    """
    if name is not None:
        where = name
    else:
        where = "item" if index is None else f"item at index {index}"
    if not is_pair(item):
        raise TypeError(f"{where} is not a (head, tail) pair of two strings: {item!r}")
    head, tail = item
    if name is not None:
        check_word(head, f"{name}[0]", mask_token=mask_token)
        check_word(tail, f"{name}[1]", mask_token=mask_token)
        return head, tail
    try:
        check_word(head, "head word", mask_token=mask_token)
        check_word(tail, "tail word", mask_token=mask_token)
    except ValueError as error:
        at = "" if index is None else f" at index {index}"
        raise ValueError(f"bad pair{at} {tuple(item)!r}: {error}") from None
    return head, tail


def check_pairs(items: Iterable[Any], *, mask_token: str | None = None) -> list[Pair]:
    """Every item of ``items`` checked with :func:`check_pair` (errors name the item's index), as tuples.

    >>> check_pairs("ab")
    Traceback (most recent call last):
    ...
    TypeError: expected a list of (head, tail) pairs, got the string 'ab'
    """
    if isinstance(items, (str, bytes)):
        raise TypeError(f"expected a list of (head, tail) pairs, got the string {items!r}")
    if not isinstance(items, Iterable):
        raise TypeError(f"expected a (head, tail) pair or a list of pairs, got {items!r}")
    return [check_pair(item, index, mask_token=mask_token) for index, item in enumerate(items)]


def parse_pair(text: str) -> Pair:
    """A pair written ``HEAD:TAIL`` on the command line: exactly one ``:``, a word on each side (stripped).

    >>> parse_pair(" Tokyo : Japan ")
    ('Tokyo', 'Japan')
    >>> parse_pair("a:b:c")
    Traceback (most recent call last):
    ...
    ValueError: a pair is written HEAD:TAIL with exactly one ':', got 'a:b:c'
    """
    parts = str(text).split(":")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise ValueError(f"a pair is written {PAIR_METAVAR} with exactly one ':', got {text!r}")
    return check_pair((parts[0].strip(), parts[1].strip()))
