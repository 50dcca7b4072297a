"""relemb.data.pairfile: pair files (TSV, CSV, JSONL, standard input)."""

import io
import sys

import pytest

from relemb.data import read_pairs
from relemb.data.errors import DataFormatError
from relemb.data.pairfile import detect_format


def test_a_byte_order_mark_keeps_the_header_recognised(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes("head\ttail\nbaker\tbread\n".encode("utf-8-sig"))
    assert read_pairs(path) == [("baker", "bread")]


def test_bad_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"baker\tbread\ncaf\xe9\tcoffee\n")
    with pytest.raises(DataFormatError, match="pairs.tsv, line 2: not valid UTF-8"):
        read_pairs(path)


def test_a_bad_word_names_file_and_line(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("a,b\nc,<mask>\n", encoding="utf-8")
    with pytest.raises(
        DataFormatError, match="pairs.csv, line 2: tail word '<mask>' contains the template placeholder"
    ):
        read_pairs(path)


def test_standard_input(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"head\ttail\ncat\tdog\n")))
    assert read_pairs("-") == [("cat", "dog")]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'["a", "b"]\n')))
    assert read_pairs("/dev/stdin", "jsonl") == [("a", "b")]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\n")))
    with pytest.raises(DataFormatError, match="<stdin>: the pair file holds no pairs"):
        read_pairs("-")


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_pairs(tmp_path / "none.tsv")
    with pytest.raises(ValueError, match="unknown pair file format"):
        detect_format("x.tsv", "parquet")
