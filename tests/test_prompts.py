import pytest

from relemb.prompts import (
    DEFAULT_TEMPLATE_ID,
    TEMPLATES,
    render_prompt,
    resolve_template,
    template_id,
    validate_template,
    validate_word,
)


def test_manual_templates_are_exact():
    assert TEMPLATES["a"] == (
        "Today, I finally discovered the relation between <subj> and <obj> : <subj> is the <mask> of <obj>"
    )
    assert TEMPLATES["b"] == (
        "Today, I finally discovered the relation between <subj> and <obj> : <obj>  is <subj>'s <mask>"
    )
    assert TEMPLATES["c"] == "Today, I finally discovered the relation between <subj> and <obj> : <mask>"
    assert TEMPLATES["d"] == (
        "I wasn\u2019t aware of this relationship, but I just read in the encyclopedia that "
        "<subj> is the <mask> of <obj>"
    )
    assert TEMPLATES["e"] == (
        "I wasn\u2019t aware of this relationship, but I just read in the encyclopedia that "
        "<obj>  is <subj>\u2019s <mask>"
    )
    assert "  is" in TEMPLATES["b"] and "  is" in TEMPLATES["e"]
    assert DEFAULT_TEMPLATE_ID == "d"


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_every_template_renders(key):
    text = render_prompt(TEMPLATES[key], "camera", "photographer", "<mask>")
    assert text.count("<mask>") == 1
    assert "<subj>" not in text and "<obj>" not in text
    assert ("camera" in text) and ("photographer" in text)
    assert template_id(TEMPLATES[key]) == key


def test_render_uses_tokenizer_mask_token():
    assert render_prompt("<subj> is the <mask> of <obj>", "Tokyo", "Japan", "[MASK]") == "Tokyo is the [MASK] of Japan"
    assert render_prompt(TEMPLATES["b"], "a", "b", "<mask>").endswith("b  is a's <mask>")


def test_resolve_template():
    assert resolve_template(None) == TEMPLATES["d"]
    assert resolve_template("a") == TEMPLATES["a"]
    custom = "<obj> has <subj> as its <mask>"
    assert resolve_template(custom) == custom
    assert template_id(custom) is None
    with pytest.raises(ValueError, match="unknown template 'z'"):
        resolve_template("z")


@pytest.mark.parametrize(
    "template, message",
    [
        ("<subj> and <obj>", "no <mask>"),
        ("<subj> is the <mask>", "no <obj>"),
        ("<obj> is the <mask>", "no <subj>"),
        ("<subj> <mask> <obj> <mask>", "2 <mask> placeholders"),
    ],
)
def test_bad_templates(template, message):
    with pytest.raises(ValueError, match=message):
        validate_template(template)
    with pytest.raises(ValueError, match=message):
        resolve_template(template)


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
        validate_word(word, mask_token="[MASK]")
    with pytest.raises(ValueError, match=message):
        render_prompt(TEMPLATES["d"], word, "ok", "[MASK]")


def test_non_string_word():
    with pytest.raises(TypeError, match="must be a string"):
        validate_word(3)


def test_words_are_not_substituted_twice():
    # one-pass substitution: a tail that equals another placeholder's value stays literal
    text = render_prompt("<subj>|<obj>|<mask>", "obj", "subj", "[MASK]")
    assert text == "obj|subj|[MASK]"
