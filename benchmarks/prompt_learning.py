"""Benchmark: manual template d vs AutoPrompt vs P-tuning on the embedded MiniLM-L6 (issue 7).

For each prompt kind the prompt is learned on SemEval-2012 train with the encoder frozen, on the loss the
fine-tuning then uses (relemb.training.build_loss of ``LossArguments(loss="nce")``, RelBERT's nce), scored on
U2/U4/Google/BATS validation and test (forward cosine, relemb.evaluation), then the encoder is fine-tuned
briefly with the learned prompt (relemb.training.train) and scored again. Results go to a JSON file after every
model, so a killed run keeps what it finished.

Run it under the shared CPU lock (about 20-25 minutes on 2 cores with the defaults)::

    flock /tmp/relemb-heavy.lock python benchmarks/prompt_learning.py \\
        --data-dir /work/shared/data/relbert --output benchmarks/results/prompt_minilm.json

``--quick`` runs a seconds-long smoke version on the bundled starter set (no data folder needed).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from relemb import RelBERT, __version__
from relemb._io import write_json
from relemb.data import load_relation_similarity
from relemb.evaluation import evaluate_analogy
from relemb.prompt_learning import PromptLearningArguments, learn_prompt
from relemb.results import RunResult
from relemb.train_config import LossArguments

#: The objective of both stages: the prompt is learned on the loss the encoder is then fine-tuned with.
LOSS = LossArguments(loss="nce")

KINDS = ("manual", "autoprompt", "ptuning")
DATASETS = ("u2", "u4", "google", "bats")


def score(model: RelBERT, datasets: list[str], data_dir: str | None) -> dict[str, dict[str, float]]:
    """Forward-cosine analogy accuracy (%) on the validation and test split of every dataset."""
    out: dict[str, dict[str, float]] = {}
    for split in ("validation", "test"):
        out[split] = {}
        for name in datasets:
            result = evaluate_analogy(model, name, split, data_dir=data_dir, batch_size=128, show_progress_bar=False)
            out[split][name] = round(100 * result.accuracy, 1)
        out[split]["mean"] = round(sum(out[split][n] for n in datasets) / len(datasets), 1)
    return out


def fine_tune(model: RelBERT, options: argparse.Namespace, workdir: str) -> tuple[RelBERT, RunResult]:
    """Fine-tune the whole encoder with the model's (learned) prompt: the normal relemb.training.train run.

    Returns the fine-tuned model and the run's ``results.json`` (read back as a ``RunResult``).
    """
    from relemb.train_config import DataArguments, ModelArguments, RelationTrainingArguments
    from relemb.training import RESULTS_FILE, train

    start_dir = os.path.join(workdir, "start")
    output_dir = os.path.join(workdir, "tuned")
    model.save_pretrained(start_dir)  # P-tuned prompt tokens and vectors travel in the checkpoint
    result = train(
        ModelArguments(base_model=start_dir, template=model.template, pooling=model.pooling),
        DataArguments(data=options.data, data_dir=options.data_dir),
        LOSS,
        RelationTrainingArguments(
            output_dir=output_dir,
            num_train_epochs=options.finetune_epochs,
            learning_rate=options.finetune_lr,
            per_device_train_batch_size=128,
            seed=options.seed,
            save_total_limit=1,
            logging_steps=5,
            disable_tqdm=True,
        ),
        device="cpu",
    )
    return result.model, RunResult.load(os.path.join(output_dir, RESULTS_FILE))


def run_kind(kind: str, options: argparse.Namespace, records: list, datasets: list[str]) -> dict[str, Any]:
    model = RelBERT.from_pretrained("minilm", template="d", device="cpu")
    args = PromptLearningArguments(
        prompt=kind,
        prompt_n1=options.n[0],
        prompt_n2=options.n[1],
        prompt_n3=options.n[2],
        prompt_iterations=options.autoprompt_iterations if kind == "autoprompt" else options.ptuning_steps,
        prompt_candidates=options.candidates,
        prompt_batch_size=options.prompt_batch_size,
        prompt_lr=options.ptuning_lr,
        prompt_seed=options.seed,
    )
    entry: dict[str, Any] = {"kind": kind, "arguments": args.to_dict() if kind != "manual" else None}
    start = time.perf_counter()
    result = learn_prompt(model, records, args, loss=LOSS)
    entry["prompt_seconds"] = round(time.perf_counter() - start, 1)
    entry["template"] = model.template
    if result is not None:
        summary = result.to_dict()
        entry["initial_loss"] = round(summary["initial_loss"], 4)
        entry["final_loss"] = round(summary["final_loss"], 4)
        entry["loss_history"] = [round(v, 4) for v in summary["loss_history"]]
        if kind == "autoprompt":
            entry["trigger_tokens"] = summary["trigger_tokens"]
            entry["n_flips"] = summary["n_flips"]
    logging.info("%s prompt: %s (%.0fs)", kind, model.template, entry["prompt_seconds"])
    start = time.perf_counter()
    entry["frozen"] = score(model, datasets, options.data_dir)
    entry["eval_seconds"] = round(time.perf_counter() - start, 1)
    logging.info("%s frozen: %s", kind, entry["frozen"])
    if options.finetune_epochs > 0:
        with tempfile.TemporaryDirectory() as workdir:
            start = time.perf_counter()
            tuned, run = fine_tune(model, options, workdir)
            entry["finetune_seconds"] = round(time.perf_counter() - start, 1)
            entry["finetune_run"] = {key: run.details[key] for key in ("best_checkpoint", "global_steps", "train_loss")}
            entry["finetune_run"]["best_checkpoint"] = Path(run.details["best_checkpoint"] or "").name
            if tuned.template != model.template:
                raise RuntimeError(f"fine-tuning changed the template: {tuned.template!r} != {model.template!r}")
            entry["finetuned"] = score(tuned, datasets, options.data_dir)
        logging.info("%s fine-tuned: %s", kind, entry["finetuned"])
    return entry


def markdown_table(report: dict[str, Any]) -> str:
    """The results as a markdown table (accuracy %, forward cosine)."""
    datasets = report["datasets"]
    header = "| prompt | encoder | " + " | ".join(f"{d} val / test" for d in datasets) + " | mean val / test |"
    lines = [header, "|---|---|" + "---|" * (len(datasets) + 1)]
    for entry in report["runs"]:
        for stage in ("frozen", "finetuned"):
            if stage not in entry:
                continue
            s = entry[stage]
            cells = [f"{s['validation'][d]:.1f} / {s['test'][d]:.1f}" for d in [*datasets, "mean"]]
            label = {"frozen": "frozen", "finetuned": f"+ fine-tuning ({report['options']['finetune_epochs']} ep)"}
            lines.append(f"| {entry['kind']} | {label[stage]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("RELEMB_DATA_DIR"), help="the relbert data mirror")
    parser.add_argument("--output", default="benchmarks/results/prompt_minilm.json")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--n", nargs=3, type=int, default=[2, 3, 2], metavar=("N1", "N2", "N3"))
    parser.add_argument("--autoprompt-iterations", type=int, default=21)
    parser.add_argument("--candidates", type=int, default=5)
    parser.add_argument("--ptuning-steps", type=int, default=60)
    parser.add_argument("--ptuning-lr", type=float, default=3e-3)
    parser.add_argument("--prompt-batch-size", type=int, default=64)
    parser.add_argument("--finetune-epochs", type=float, default=1.0)
    parser.add_argument("--finetune-lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run on the bundled starter set")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in ("sentence_transformers", "transformers", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    torch.set_num_threads(options.threads)
    if options.quick:
        options.data, options.data_dir, datasets = "starter", None, ["starter"]
        options.autoprompt_iterations, options.ptuning_steps, options.candidates = 2, 2, 2
        options.finetune_epochs = min(options.finetune_epochs, 1.0)
    else:
        if not options.data_dir or not Path(options.data_dir).is_dir():
            parser.error("--data-dir (or RELEMB_DATA_DIR) must name the relbert data mirror; or use --quick")
        options.data, datasets = "semeval2012", list(DATASETS)
    records = load_relation_similarity(options.data, "train", data_dir=options.data_dir)
    report: dict[str, Any] = {
        "benchmark": "learned prompts (issue 7)",
        "model": "sentence-transformers/all-MiniLM-L6-v2 (embedded 'minilm'), pooling average_no_mask",
        "training_data": f"{options.data} train ({len(records)} relations), {LOSS.loss} loss",
        "loss": LOSS,
        "metric": "analogy accuracy (%), forward cosine, relemb.evaluation.evaluate_analogy",
        "datasets": datasets,
        "options": {k: v for k, v in vars(options).items() if k not in ("output",)},
        "command": "flock /tmp/relemb-heavy.lock python benchmarks/prompt_learning.py " + " ".join(sys.argv[1:]),
        "environment": {
            "relemb": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cpu_threads": options.threads,
        },
        "runs": [],
    }
    output = Path(options.output)
    started = time.perf_counter()
    for kind in options.kinds:
        report["runs"].append(run_kind(kind, options, records, datasets))
        report["total_seconds"] = round(time.perf_counter() - started, 1)
        write_json(output, report)
    print(markdown_table(report))
    print(f"\nwritten to {output} in {report['total_seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
