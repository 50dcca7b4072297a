"""DDP on CPU (gloo, 2 processes): negatives gathered across processes, and ``relemb train`` under torchrun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from relemb.results import RunResult

GATHER_CHECK = textwrap.dedent(
    """
    import json, os, sys
    import torch
    import torch.distributed as dist
    from relemb.losses import _gather, relation_nce
    from relemb.samplers import encode_label

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    full = torch.randn(7, 4, dtype=torch.float64)
    labels = torch.tensor([encode_label(r, p, i) for i, (r, p) in enumerate(
        [(0, 1), (0, 1), (0, 0), (1, 1), (1, 1), (2, 1), (2, 1)])])
    rows = [0, 1, 2] if rank == 0 else [3, 4, 5, 6]          # unequal sizes: padding is needed
    local = full[rows].clone().requires_grad_(True)
    gathered, gathered_labels, anchors = _gather(local, labels[rows])
    loss = relation_nce(gathered, gathered_labels, 0.5, anchor_rows=anchors)
    loss.backward()
    # the same loss computed on one process with every row present, anchors restricted to this rank's rows
    reference_input = full.clone().requires_grad_(True)
    reference = relation_nce(reference_input, labels, 0.5, anchor_rows=torch.tensor(rows))
    # all_gather's backward sums every process's gradient for a row: that of the sum of both processes' losses
    other = [3, 4, 5, 6] if rank == 0 else [0, 1, 2]
    total = reference + relation_nce(reference_input, labels, 0.5, anchor_rows=torch.tensor(other))
    total.backward()
    out = {
        "rank": rank,
        "gathered_rows": int(gathered.shape[0]),
        "padding_rows": int((gathered_labels[:, 0] < 0).sum()),
        "loss": loss.item(),
        "reference": reference.item(),
        "grad_close": bool(torch.allclose(local.grad, reference_input.grad[rows], atol=1e-5)),
    }
    with open(os.path.join(sys.argv[1], f"rank{rank}.json"), "w") as handle:
        json.dump(out, handle)
    dist.destroy_process_group()
    """
)


def _torchrun(args: list[str], cwd, timeout: int = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    env.pop("RELEMB_DATA_DIR", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    # own process group: on a timeout the workers are killed too, not left behind holding the CPU
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_losses_gather_negatives_across_processes(tmp_path):
    script = tmp_path / "gather_check.py"
    script.write_text(GATHER_CHECK)
    done = _torchrun([str(script), str(tmp_path)], cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in (0, 1):
        out = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert out["gathered_rows"] == 8 and out["padding_rows"] == 1
        # other processes' positives served as negatives: equal to the single-process loss over all rows
        assert out["loss"] == pytest.approx(out["reference"], rel=1e-9)
        assert out["grad_close"]


def test_relemb_train_under_torchrun_with_two_cpu_processes(tiny_bert_path, tmp_path):
    out = tmp_path / "ddp-model"
    done = _torchrun(
        [
            "-m",
            "relemb",
            "train",
            "--base_model",
            tiny_bert_path,
            "--data",
            "starter",
            "--test_datasets",
            "starter",
            "--output_dir",
            str(out),
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--lr",
            "1e-3",
            "--use_cpu",
            "--ddp_backend",
            "gloo",
            "--disable_tqdm",
            "true",
        ],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = RunResult.load(out / "results.json")  # written once, by process 0
    assert results.task == "train" and results.arguments["world_size"] == 2
    # 384 starter rows in 64-row batches = 6 batches, dealt to 2 processes: 3 optimizer steps per epoch
    assert results.details["global_steps"] == 3
    assert 0.0 <= results.scores["test"]["starter"] <= 1.0
    assert (out / "model.safetensors").is_file() and (out / "training_curve.png").is_file()
    assert not list(out.glob("checkpoint-*"))  # removed by process 0 once the model was saved
    assert " ".join(done.stdout.split()).count("| starter | test |") == 1  # only rank 0 reports
    assert done.stdout.count("epoch 1, step 3/3: loss ") == 1  # one line per evaluation, from rank 0
    assert "{'eval_" not in done.stdout and "pin_memory" not in done.stderr
