"""The embedding path of RelBERT.get_embedding: fast (chunked, batched) vs plain, streaming to .npy."""

import os

import numpy as np
import pytest

from relemb import RelBERT
from relemb.testing import WORDS

VOCAB = sorted(set(WORDS.split()))
# many pairs of different token lengths (multi-word heads make long prompts), with duplicates
PAIRS = [(VOCAB[i % len(VOCAB)], VOCAB[(3 * i + 1) % len(VOCAB)]) for i in range(90)]
PAIRS += [("big hot fast dog", "small cat"), ("a", "b"), PAIRS[5], PAIRS[0], ("paper", "pen and knife and bread")]


def plain(model: RelBERT, pairs) -> np.ndarray:
    """The plain path: one pair at a time, no batching, no padding."""
    return np.stack([model.encoder.encode([pair], batch_size=1)[0] for pair in pairs])


def test_fast_path_equals_plain_path(tiny_model):
    fast = tiny_model.get_embedding(PAIRS, batch_size=16)
    reference = plain(tiny_model, PAIRS)
    assert fast.shape == (len(PAIRS), tiny_model.embedding_dim) and fast.dtype == np.float32
    assert np.abs(fast - reference).max() < 1e-5
    # rows are in input order: different pairs really get different rows
    assert not np.allclose(fast[0], fast[1])


@pytest.mark.parametrize("batch_size, chunk_size", [(1, 1000), (5, 7), (64, 2), (64, 1000)])
def test_chunks_and_batches_do_not_change_results(tiny_model, batch_size, chunk_size):
    pairs = PAIRS[::3] + PAIRS[-5:]
    expected = plain(tiny_model, pairs)
    got = tiny_model.get_embedding(pairs, batch_size=batch_size, chunk_size=chunk_size)
    assert np.abs(got - expected).max() < 1e-5


def test_duplicates_across_chunks_get_the_same_rows(tiny_model):
    pairs = [
        ("dog", "puppy"),
        ("cat", "kitten"),
        ("dog", "puppy"),
        ("tree", "leaf"),
        ("cat", "kitten"),
        ("dog", "puppy"),
    ]
    out = tiny_model.get_embedding(pairs, chunk_size=1)
    for i, j in [(0, 2), (0, 5), (1, 4)]:
        np.testing.assert_array_equal(out[i], out[j])
    np.testing.assert_allclose(out[3], tiny_model.get_embedding(("tree", "leaf")), atol=1e-6)


def test_each_unique_pair_is_encoded_once_per_chunk(tiny_model, encode_calls):
    pairs = [("a", "b"), ("c", "d"), ("a", "b"), ("e", "f"), ("c", "d")]
    tiny_model.get_embedding(pairs, chunk_size=2)
    assert encode_calls == [[("a", "b"), ("c", "d")], [("e", "f")]]


def test_pairs_are_length_sorted_across_chunks(tiny_model, encode_calls):
    pairs = [("a", "b"), ("hammer", "nail"), ("cat", "dog"), ("photographer", "camera"), ("up", "down")]
    out = tiny_model.get_embedding(pairs, chunk_size=2)
    assert encode_calls == [
        [("photographer", "camera"), ("hammer", "nail")],
        [("cat", "dog"), ("up", "down")],
        [("a", "b")],
    ]
    # rows still follow the input order
    np.testing.assert_allclose(out, plain(tiny_model, pairs), atol=1e-5)


def test_streaming_to_npy_equals_in_memory(tiny_model, tmp_path):
    expected = tiny_model.get_embedding(PAIRS, normalize=True)
    target = tmp_path / "out.npy"
    got = tiny_model.get_embedding(PAIRS, normalize=True, output=target, chunk_size=8)
    assert isinstance(got, np.memmap) and got.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(got), expected)
    np.testing.assert_array_equal(np.load(target), expected)
    assert sorted(os.listdir(tmp_path)) == ["out.npy"]  # no temporary file left behind


def test_streaming_empty_list_writes_empty_matrix(tiny_model, tmp_path):
    got = tiny_model.get_embedding([], output=tmp_path / "empty.npy")
    assert got.shape == (0, tiny_model.embedding_dim)
    assert np.load(tmp_path / "empty.npy").shape == (0, tiny_model.embedding_dim)


def test_failed_stream_leaves_nothing_behind(tiny_model, tmp_path, monkeypatch):
    target = tmp_path / "out.npy"
    target.write_bytes(b"previous")
    calls = []
    original = tiny_model.encoder.encode

    def failing(inputs, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return original(inputs, **kwargs)

    monkeypatch.setattr(tiny_model.encoder, "encode", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        tiny_model.get_embedding(PAIRS, output=target, chunk_size=10)
    assert target.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["out.npy"]


def test_bad_output_and_chunk_arguments(tiny_model, tmp_path):
    with pytest.raises(ValueError, match=r"\.npy"):
        tiny_model.get_embedding(PAIRS, output=tmp_path / "out.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tiny_model.get_embedding(PAIRS, output=tmp_path / "missing" / "out.npy")
    with pytest.raises(ValueError, match="single pair"):
        tiny_model.get_embedding(("a", "b"), output=tmp_path / "one.npy")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="chunk_size"):
            tiny_model.get_embedding(PAIRS, chunk_size=bad)
        with pytest.raises(ValueError, match="batch_size"):
            tiny_model.get_embedding(PAIRS, batch_size=bad)
    # a bad pair is reported before anything is written
    with pytest.raises(TypeError, match="index 1"):
        tiny_model.get_embedding([("a", "b"), ("c",)], output=tmp_path / "bad.npy")
    assert not (tmp_path / "bad.npy").exists() and os.listdir(tmp_path) == []


def test_generator_input_and_progress_bar(tiny_model, capsys):
    pairs = (pair for pair in PAIRS[:10])
    out = tiny_model.get_embedding(pairs, show_progress_bar=True)
    assert out.shape == (10, tiny_model.embedding_dim)
    assert "Embedding" in capsys.readouterr().err


@pytest.mark.slow
def test_minilm_fast_path_equals_plain_path(minilm_path):
    model = RelBERT.from_pretrained("minilm", device="cpu")
    pairs = [
        ("camera", "photographer"),
        ("barista", "coffee"),
        ("baker", "bread"),
        ("pneumonoultramicroscopic", "lung"),
    ]
    pairs += [("brewer", "beer"), ("tokyo", "japan"), ("an extraordinarily long head phrase", "tail")]
    fast = model.get_embedding(pairs, batch_size=4)
    assert np.abs(fast - plain(model, pairs)).max() < 1e-4


def test_lower_precision_is_close_and_float32(tiny_model):
    exact = tiny_model.get_embedding(PAIRS[:20])
    fast = tiny_model.get_embedding(PAIRS[:20], dtype="bfloat16")
    assert fast.dtype == np.float32 and fast.shape == exact.shape
    cos = (fast * exact).sum(1) / np.linalg.norm(fast, axis=1) / np.linalg.norm(exact, axis=1)
    assert cos.min() > 0.99
    assert 0 < np.abs(fast - exact).max() < 0.1  # really computed in bf16, and still close
    with pytest.raises(ValueError, match="unknown dtype 'int4'; choose one of float32, bfloat16, float16"):
        tiny_model.get_embedding(PAIRS, dtype="int4")


def test_precision_is_the_deprecated_name_of_dtype(tiny_model, tmp_path):
    expected = tiny_model.get_embedding(PAIRS[:20], dtype="bfloat16")
    with pytest.warns(DeprecationWarning, match="precision= is deprecated .* use dtype="):
        old = tiny_model.get_embedding(PAIRS[:20], precision="bfloat16")
    np.testing.assert_array_equal(old, expected)
    with pytest.warns(DeprecationWarning):  # a single pair and output= take the old name too
        np.testing.assert_array_equal(tiny_model.get_embedding(PAIRS[0], precision="bfloat16"), expected[0])
        streamed = tiny_model.get_embedding(PAIRS[:20], precision="bfloat16", output=tmp_path / "out.npy")
    np.testing.assert_array_equal(np.asarray(streamed), expected)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="unknown precision 'int4'"):
        tiny_model.get_embedding(PAIRS, precision="int4")
    with pytest.raises(TypeError, match="pass dtype= only"):
        tiny_model.get_embedding(PAIRS, dtype="float16", precision="bfloat16")


# ------------------------------------------------------------------------------ words must not vanish
LONG_A = " ".join(["dog"] * 79 + ["cat"])
LONG_B = " ".join(["dog"] * 79 + ["cow"])  # the same 64 tokens as LONG_A: identical vectors, before


def test_a_truncated_word_is_refused_naming_the_users_index(tiny_model, encode_calls):
    from relemb.modules import LostWordError

    pairs = [("a", "b"), ("c", "d")] * 25 + [("tokyo", LONG_A)]  # deduplicated: unique pair 2, row 50
    with pytest.raises(LostWordError, match=r"^pair 50 \('tokyo', 'dog dog .*'\): the tail word is cut off by trunc"):
        tiny_model.get_embedding(pairs, chunk_size=2)
    assert encode_calls == []  # refused before anything is encoded


def test_the_first_refused_pair_in_input_order_is_named(tiny_model):
    from relemb.modules import LostWordError

    pairs = [("tokyo", "japan"), ("cat", "\U0001f600"), (LONG_A, "dog"), ("cat", "\U0001f600")]
    with pytest.raises(LostWordError, match=r"^pair 1 .*unknown to the tokenizer"):
        tiny_model.get_embedding(pairs, chunk_size=1)
    with pytest.raises(LostWordError, match=r"^pair 0 .*\[SEP\]"):
        tiny_model.get_embedding(("[SEP]", "dog"))


def test_on_word_loss_warn_embeds_and_names_the_users_indices(tiny_model, tmp_path):
    from relemb.modules import LostWordWarning

    pairs = [("a", "b")] * 3 + [("tokyo", LONG_A), ("tokyo", LONG_B), ("\U0001f600", "\U0001f642")]
    with pytest.warns(
        LostWordWarning, match=r"^3 pair\(s\) .*: pair 3 .*cut off.*; pair 4 .*; pair 5 .*unknown"
    ) as seen:
        out = tiny_model.get_embedding(pairs, on_word_loss="warn", output=tmp_path / "out.npy")
    assert len(seen) == 1 and out.shape == (6, tiny_model.embedding_dim)
    np.testing.assert_array_equal(out[3], out[4])  # what the default refuses: two different tails, one vector
    tiny_model.transformer.on_word_loss = "warn"  # the model's own default applies too
    with pytest.warns(LostWordWarning, match="pair 0"):
        tiny_model.get_embedding(("\U0001f600", "\U0001f642"))
    with pytest.raises(ValueError, match="unknown on_word_loss 'skip'"):
        tiny_model.get_embedding(pairs, on_word_loss="skip")


def test_a_truncated_mask_names_the_users_index_whatever_on_word_loss_says(tiny_bert_path):
    from relemb.modules import MaskTruncatedError

    model = RelBERT.from_pretrained(tiny_bert_path, template="<subj> is the <mask> of <obj>", max_length=10)
    pairs = [("tokyo", "japan")] * 7 + [(" ".join(["tokyo"] * 10), "japan")]
    for action in ("error", "warn"):
        with pytest.raises(MaskTruncatedError, match=r"^pair 7 .*mask token is cut off .*max_length=10"):
            model.get_embedding(pairs, on_word_loss=action)


def test_checked_pairs_are_not_checked_again_while_encoding(tiny_model, monkeypatch):
    calls = []
    original = tiny_model.transformer.word_losses
    monkeypatch.setattr(tiny_model.transformer, "word_losses", lambda *a, **k: calls.append(1) or original(*a, **k))
    tiny_model.get_embedding(PAIRS, chunk_size=1000)
    assert len(calls) == 1  # the up-front check; preprocess skips its own inside get_embedding
    tiny_model.encoder.encode(PAIRS[:2])
    assert len(calls) == 2  # a direct encode is checked by preprocess


def test_two_worker_processes_give_the_same_vectors_in_the_same_order(tiny_model, tmp_path):
    pairs = [(f"w{i % 37}", f"v{i % 11}") for i in range(300)]  # with duplicates
    expected = tiny_model.get_embedding(pairs, chunk_size=64)
    # one pool (starting worker processes costs seconds): sharded, streamed to disk, chunk by chunk
    streamed = tiny_model.get_embedding(pairs, chunk_size=64, device=["cpu", "cpu"], output=tmp_path / "m.npy")
    np.testing.assert_allclose(np.asarray(streamed), expected, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npy"]


def test_device_options_of_get_embedding(tiny_model):
    with pytest.raises(ValueError, match="runs fp32"):
        tiny_model.get_embedding([("a", "b")], device=["cpu", "cpu"], dtype="bfloat16")
    with pytest.raises(ValueError, match="empty list"):
        tiny_model.get_embedding([("a", "b")], device=[])
    with pytest.raises(ValueError, match="not available"):
        tiny_model.get_embedding([("a", "b")], device=["cuda:7"])
    assert tiny_model.get_embedding([("a", "b")], device="cpu").shape == (1, tiny_model.embedding_dim)
