#!/usr/bin/env bash
# The results run of docs/results.md: the untrained embedded MiniLM (all-MiniLM-L6-v2, template d,
# average_no_mask) on the analogy test sets and the five lexical relation classification sets.
#
#   flock /tmp/relemb-heavy.lock bash benchmarks/eval_untrained_minilm.sh /path/to/relbert [OUT_DIR]
#
# Writes OUT_DIR/analogy.json, OUT_DIR/classification.json and OUT_DIR/summary.json (wall times,
# machine), and prints the two tables and the total wall time. Target: under 20 minutes on 2 CPU cores.
set -euo pipefail

DATA_DIR=${1:-${RELEMB_DATA_DIR:-}}
OUT=${2:-benchmarks/results/untrained_minilm}
if [[ -z "${DATA_DIR}" || ! -d "${DATA_DIR}" ]]; then
  echo "error: give the relbert data folder as the first argument (or set RELEMB_DATA_DIR)" >&2
  exit 2
fi
mkdir -p "${OUT}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

start=$(date +%s.%N)
relemb-eval analogy --model minilm --datasets u2 u4 google bats --data-dir "${DATA_DIR}" \
  --output "${OUT}/analogy.json" --no-progress
middle=$(date +%s.%N)
relemb-eval classification --model minilm --datasets BLESS CogALexV EVALution 'K&H+N' ROOT09 \
  --data-dir "${DATA_DIR}" --seed 0 --output "${OUT}/classification.json" --no-progress
end=$(date +%s.%N)

python - "${OUT}" "${start}" "${middle}" "${end}" <<'PY'
import json, os, platform, sys
out, start, middle, end = sys.argv[1], *map(float, sys.argv[2:])
summary = {
    "analogy_seconds": round(middle - start, 1),
    "classification_seconds": round(end - middle, 1),
    "total_seconds": round(end - start, 1),
    "cpu_count": os.cpu_count(),
    "machine": platform.machine(),
    "python": platform.python_version(),
}
with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as handle:
    json.dump(summary, handle, indent=2)
print("| step | wall time (s) |\n|---|---|")
for key in ("analogy_seconds", "classification_seconds", "total_seconds"):
    print(f"| {key.removesuffix('_seconds')} | {summary[key]} |")
PY
