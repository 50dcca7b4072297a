import pytest

from relemb.prompts import (
    DEFAULT_TEMPLATE_ID,
    TEMPLATES,
    render_prompt,
    render_prompt_spans,
    resolve_template,
    span_token_positions,
    template_id,
    validate_template,
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
        render_prompt(TEMPLATES["d"], word, "ok", "[MASK]")
    with pytest.raises(ValueError, match=message):
        render_prompt_spans(TEMPLATES["d"], "ok", word, "[MASK]")


def test_non_string_word():
    with pytest.raises(TypeError, match="must be a string"):
        render_prompt(TEMPLATES["d"], 3, "ok", "[MASK]")


@pytest.mark.parametrize("template_key", sorted(TEMPLATES))
def test_spans_point_at_every_word_and_the_mask(template_key):
    template = TEMPLATES[template_key]
    prompt = render_prompt_spans(template, "Tokyo", "Japan", "<mask>")
    assert prompt.text == render_prompt(template, "Tokyo", "Japan", "<mask>")
    assert [prompt.text[a:b] for a, b in prompt.head] == ["Tokyo"] * template.count("<subj>")
    assert [prompt.text[a:b] for a, b in prompt.tail] == ["Japan"] * template.count("<obj>")
    assert [prompt.text[a:b] for a, b in prompt.mask] == ["<mask>"]


def test_spans_when_a_word_contains_the_other():
    prompt = render_prompt_spans("<obj> and <subj> <mask>", "cat", "catalogue", "[MASK]")
    assert prompt.text == "catalogue and cat [MASK]"
    assert prompt.tail == ((0, 9),) and prompt.head == ((14, 17),) and prompt.mask == ((18, 24),)


def test_words_are_not_substituted_twice():
    # one-pass substitution: a tail that equals another placeholder's value stays literal
    text = render_prompt("<subj>|<obj>|<mask>", "obj", "subj", "[MASK]")
    assert text == "obj|subj|[MASK]"


@pytest.mark.parametrize(
    "template", ["<subj> [MASK] <obj> is the <mask>", "<subj> is the [MASK] of <obj>", "[MASK] and <subj> <obj>"]
)
def test_a_literal_mask_token_is_named(template):
    # not "no <mask> placeholder" nor, later, "the words are too long": the template writes [MASK] itself
    with pytest.raises(ValueError, match=r"writes the mask token '\[MASK\]' literally; write the placeholder <mask>"):
        resolve_template(template)
    with pytest.raises(ValueError, match="literally"):
        validate_template(template)


def test_the_tokenizers_own_mask_token_is_checked_when_given():
    template = "<subj> <mask> <obj> <special_mask>"
    assert validate_template(template) == template
    with pytest.raises(ValueError, match="'<special_mask>' literally"):
        validate_template(template, mask_token="<special_mask>")
    # RoBERTa's mask token is the placeholder itself: the one <mask> is fine
    assert resolve_template("<subj> is the <mask> of <obj>", mask_token="<mask>") == "<subj> is the <mask> of <obj>"


def test_span_token_positions():
    prompt = render_prompt_spans("<subj> is <obj> <mask>", "ice cream", "cold", "[MASK]")
    # [ice][cream][is][cold][MASK] plus a special token with an empty range
    offsets = [(0, 3), (4, 9), (10, 12), (13, 17), (18, 24), (0, 0)]
    assert span_token_positions(offsets, prompt.head) == [0, 1]
    assert span_token_positions(offsets, prompt.tail) == [3]
    assert span_token_positions(offsets, prompt.mask) == [4]
    assert span_token_positions(offsets[:1], prompt.tail) == []
