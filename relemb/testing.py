"""Tiny random encoders with tiny tokenizers, built in code, for offline tests and examples.

No download is needed: the tokenizer is trained with the ``tokenizers`` library on a small corpus
(the manual templates and a word list) and the model has random weights of the sizes transformers'
own tests use.

>>> import tempfile
>>> path = build_tiny_encoder("bert", tempfile.mkdtemp())   # doctest: +SKIP
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from relemb.prompts import TEMPLATES

WORDS = (
    "tokyo japan paris france berlin germany rome italy madrid spain london england ottawa canada "
    "puppy dog kitten cat calf cow foal horse cub bear lamb sheep "
    "wheel car petal flower finger hand page book leaf tree "
    "hot cold big small fast slow happy sad up down "
    "hammer nail pen paper knife bread brush paint needle thread "
    "camera photographer baker bread barista coffee brewer beer teacher school doctor hospital "
    "wood table glass window wool sweater clay pot gold ring "
    "apple fruit rose flower oak tree salmon fish eagle bird "
    "a b c d word pair relation"
)


def _corpus() -> list[str]:
    lines = list(TEMPLATES.values()) * 3
    lines += [WORDS] * 3
    lines += ["the of is and to in that it for with as was on at by an"] * 3
    # every letter and digit, so no word of the test data becomes nothing but the unknown token
    characters = string.ascii_lowercase + string.digits
    lines += [f"{' '.join(characters)} {characters} {characters[::-1]}"] * 3
    return lines


def _token_id(tokenizer, token: str) -> int:
    """The id of ``token`` in a trained ``tokenizers.Tokenizer`` (a special token: it is always there)."""
    token_id = tokenizer.token_to_id(token)
    if token_id is None:
        raise ValueError(f"the tiny tokenizer has no {token!r} token")
    return token_id


def build_tiny_tokenizer(kind: str):
    """A ``PreTrainedTokenizerFast``: WordPiece with ``[MASK]`` (``kind="bert"``) or byte-level BPE with
    ``<mask>`` (``kind="roberta"``)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if kind == "bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials)
        tokenizer.train_from_iterator(_corpus(), trainer=trainer)
        cls_id, sep_id = _token_id(tokenizer, "[CLS]"), _token_id(tokenizer, "[SEP]")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tokenizer,
            unk_token="[UNK]",
            pad_token="[PAD]",
            cls_token="[CLS]",
            sep_token="[SEP]",
            mask_token="[MASK]",
            model_max_length=128,
        )
    if kind == "roberta":
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        bpe_trainer = trainers.BpeTrainer(
            vocab_size=600, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
        tokenizer.train_from_iterator(_corpus(), trainer=bpe_trainer)
        tokenizer.post_processor = processors.RobertaProcessing(
            ("</s>", _token_id(tokenizer, "</s>")), ("<s>", _token_id(tokenizer, "<s>"))
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tokenizer,
            bos_token="<s>",
            eos_token="</s>",
            unk_token="<unk>",
            pad_token="<pad>",
            cls_token="<s>",
            sep_token="</s>",
            mask_token="<mask>",
            model_max_length=128,
        )
    raise ValueError(f"unknown tiny model kind {kind!r}; choose 'bert' or 'roberta'")


def build_tiny_encoder(kind: str, path: str | os.PathLike, seed: int = 0, **config_overrides) -> str:
    """Write a tiny random ``kind`` ("bert" or "roberta") encoder and its tokenizer to ``path``.

    Returns the path as a string; load it with ``RelBERT.from_pretrained(path)``.
    """
    import torch
    from transformers import BertConfig, BertModel, PreTrainedModel, RobertaConfig, RobertaModel

    tokenizer = build_tiny_tokenizer(kind)
    sizes = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=160,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    sizes.update(config_overrides)
    torch.manual_seed(seed)
    model: PreTrainedModel
    if kind == "bert":
        model = BertModel(BertConfig(**sizes))
    else:
        sizes["max_position_embeddings"] += 2
        model = RobertaModel(
            RobertaConfig(**sizes, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
        )
    model.eval()
    Path(path).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


class ToyDirectionLoss(nn.Module):
    """A toy sentence-transformers loss: pull every relation embedding towards one fixed random direction.

    The prompt-learning tests use it as an objective with a known optimum.
    """

    target: torch.Tensor

    def __init__(self, model, seed: int = 0) -> None:
        super().__init__()
        self.model = model
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("target", torch.randn(model.get_embedding_dimension(), generator=generator))

    def forward(self, sentence_features, labels):
        embeddings = self.model(sentence_features[0])["sentence_embedding"]
        return (1 - F.cosine_similarity(embeddings, self.target[None], dim=-1)).mean()
