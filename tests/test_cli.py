import subprocess
import sys

import pytest

from relemb import __version__
from relemb.cli import COMMANDS, build_parser, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: relemb" in capsys.readouterr().out


def test_every_command_is_registered():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert set(subparsers.choices) == set(COMMANDS)


def test_python_dash_m_relemb_help():
    result = subprocess.run([sys.executable, "-m", "relemb", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "relemb" in result.stdout and "train" in result.stdout and "eval" in result.stdout


HELP_COMMANDS = [["--help"], ["train", "--help"], ["eval", "--help"], ["eval", "analogy", "--help"],
                 ["eval", "attention-heads", "--help"], ["embed", "similar", "--help"], ["data", "list", "--help"]]  # fmt: skip


@pytest.mark.parametrize("argv", HELP_COMMANDS, ids=" ".join)
def test_help_imports_no_model_library(argv):
    code = (
        "import sys\nfrom relemb.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert "usage:" in result.stdout
    assert "HEAVY []" in result.stderr, result.stderr


def test_user_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    argv = ["embed", "pairs", str(tmp_path / "missing.tsv"), "-o", str(tmp_path / "x.npy"), "--model", "minilm"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: pair file") and err.count("\n") == 1
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        main([*argv, "--debug"])
    with pytest.raises(FileNotFoundError):
        main(["--debug", *argv])


def test_a_bug_keeps_its_traceback(monkeypatch):
    import relemb.cli.data as data_command

    def broken(args):
        raise KeyError("a bug, not a user error")

    monkeypatch.setattr(data_command, "run_list", broken)
    with pytest.raises(KeyError, match="a bug"):
        main(["data", "list"])


def test_unknown_arguments_are_refused_outside_train(capsys):
    with pytest.raises(SystemExit) as info:
        main(["data", "list", "--frobnicate"])
    assert info.value.code == 2 and "unrecognized arguments: --frobnicate" in capsys.readouterr().err


def test_sigterm_cleans_up_like_ctrl_c(tmp_path, tiny_bert_path):
    import os
    import signal
    import time

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"w{i}\tv{i}\n" for i in range(20_000)), encoding="utf-8")
    out = tmp_path / "out" / "vectors.npy"
    out.parent.mkdir()
    command = [sys.executable, "-m", "relemb", "embed", "pairs", str(pairs), "-o", str(out), "--model",
               tiny_bert_path, "--chunk-size", "64", "--no-progress", "--device", "cpu"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.parent.glob(".vectors.npy.*")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the embedding finished before it could be interrupted"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and "terminated" in err
    assert os.listdir(out.parent) == []  # neither the matrix nor its hidden temporary file
