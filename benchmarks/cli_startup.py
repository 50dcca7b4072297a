"""How long the command line takes to answer ``--help`` (target: under 1 s, no torch/transformers/ST import).

Each command runs in a fresh interpreter, ``--repeats`` times (after one warm-up run that fills the OS file
cache); the table gives the median and the fastest wall time, and which heavy libraries the command imported.
Run it on a quiet machine: a busy core doubles these times.

    python benchmarks/cli_startup.py --output benchmarks/results/cli_startup.json
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relemb._io import markdown_table, write_json  # noqa: E402
from relemb.results import library_versions  # noqa: E402

COMMANDS = {
    "relemb --help": ["--help"],
    "relemb-train --help": ["train", "--help"],
    "relemb-eval --help": ["eval", "--help"],
    "relemb-eval analogy --help": ["eval", "analogy", "--help"],
    "relemb embed similar --help": ["embed", "similar", "--help"],
}
HEAVY = ("torch", "transformers", "sentence_transformers")
PROBE = (
    "import sys\nfrom relemb.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
)


def run_once(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    heavy = next(line for line in result.stderr.splitlines() if line.startswith("HEAVY=")).removeprefix("HEAVY=")
    return seconds, heavy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs per command (default 7)")
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    rows, results = [], {}
    for label, argv in COMMANDS.items():
        run_once(argv)  # warm-up
        times, heavy = [], ""
        for _ in range(args.repeats):
            seconds, heavy = run_once(argv)
            times.append(seconds)
        results[label] = {"median_s": statistics.median(times), "min_s": min(times), "heavy_imports": heavy or None}
        rows.append([label, f"{statistics.median(times):.2f}", f"{min(times):.2f}", heavy or "none"])
    baseline = [run_once(["--version"])[0] for _ in range(3)]
    print(markdown_table(["command", "median (s)", "fastest (s)", "heavy imports"], rows))
    print(f"(python + relemb import baseline, relemb --version: {statistics.median(baseline):.2f} s)")
    if args.output:
        write_json(args.output, {"commands": results, "version_baseline_s": statistics.median(baseline),
                                 "repeats": args.repeats, "versions": library_versions()})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
