"""relemb.pairs: the one pair concept (single-pair test, checks, the HEAD:TAIL syntax)."""

import subprocess
import sys

import pytest

from relemb.pairs import PAIR_METAVAR, check_pair, check_pairs, check_word, is_invisible, is_pair, parse_pair


@pytest.mark.parametrize(
    "item, expected",
    [
        (("a", "b"), True),
        (["a", "b"], True),
        (("a", "b", "c"), False),
        ("ab", False),
        ([("a", "b"), ("c", "d")], False),
        (("a", 1), False),
        (None, False),
    ],
)
def test_is_pair(item, expected):
    assert is_pair(item) is expected


@pytest.mark.parametrize(
    "word, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a<mask>", "placeholder <mask>"),
        ("<subj>", "placeholder <subj>"),
        ("x <obj>", "placeholder <obj>"),
        ("[MASK]y", "mask token"),
    ],
)
def test_bad_words(word, message):
    with pytest.raises(ValueError, match=message):
        check_word(word, mask_token="[MASK]")


def test_words_may_contain_the_mask_token_when_none_is_known():
    assert check_word("[MASK]y") == "[MASK]y"
    with pytest.raises(TypeError, match="head word must be a string"):
        check_word(3, "head word")


def test_check_pair_names_the_index_or_the_field():
    assert check_pair(["Tokyo", "Japan"]) == ("Tokyo", "Japan")
    with pytest.raises(TypeError, match="item at index 4 is not a \\(head, tail\\) pair"):
        check_pair(("a",), 4)
    with pytest.raises(ValueError, match="bad pair at index 2 \\('a', ''\\): tail word is an empty word"):
        check_pair(("a", ""), 2)
    with pytest.raises(ValueError, match="^choice\\[1\\]\\[0\\] is an empty word"):
        check_pair(("", "b"), name="choice[1]")


def test_check_pairs():
    assert check_pairs([("a", "b"), ["c", "d"]]) == [("a", "b"), ("c", "d")]
    assert check_pairs(iter([("a", "b")])) == [("a", "b")]
    assert check_pairs([]) == []
    with pytest.raises(TypeError, match="index 1"):
        check_pairs([("a", "b"), "cd"])
    with pytest.raises(ValueError, match="index 0.*mask token"):
        check_pairs([("a[MASK]", "b")], mask_token="[MASK]")
    with pytest.raises(TypeError, match="string"):
        check_pairs("ab")
    with pytest.raises(TypeError, match="list of pairs"):
        check_pairs(3)


def test_parse_pair():
    assert parse_pair("barista:coffee") == ("barista", "coffee")
    assert parse_pair(" ice cream : cold ") == ("ice cream", "cold")
    for bad in ("barista", "a:b:c", ":b", "a:", ""):
        with pytest.raises(ValueError, match=PAIR_METAVAR):
            parse_pair(bad)
    with pytest.raises(ValueError, match="placeholder"):
        parse_pair("<mask>:b")


def test_the_module_imports_no_torch():
    code = "import sys, relemb.pairs; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


@pytest.mark.parametrize("word", ["\u200b", "\u200c\u200d", "\ufeff", "\u00a0\u200b", "\x00", " \u2060 "])
def test_words_of_only_invisible_characters_are_empty(word):
    with pytest.raises(ValueError, match="empty word: .* has only invisible characters"):
        check_word(word, "tail word")
    with pytest.raises(ValueError, match="index 0 .*only invisible characters"):
        check_pairs([("cat", word)])


def test_words_with_an_invisible_character_and_a_visible_one_pass():
    assert check_word("ca\u200bt") == "ca\u200bt"
    assert check_word("\ufeffcat") == "\ufeffcat"
    assert is_invisible("") and is_invisible("\u200b \u200d") and not is_invisible("\u200bx")
