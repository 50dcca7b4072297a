"""relemb.choices: the named choices of relemb's options and their one check."""

import subprocess
import sys

import pytest

from relemb.choices import LOSSES, POOLING_MODES, check_choice, check_pooling_mode


def test_check_choice_names_what_and_the_choices():
    assert check_choice("nce", LOSSES, "loss") == "nce"
    with pytest.raises(ValueError, match="unknown loss 'cosine'; choose one of nce, triplet"):
        check_choice("cosine", LOSSES, "loss")
    assert [check_pooling_mode(mode) for mode in POOLING_MODES] == list(POOLING_MODES)


def test_the_module_imports_no_torch():
    code = "import sys, relemb.choices; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
