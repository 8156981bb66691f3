#!/usr/bin/env bash
# The full parametric-accuracy run on one GPU machine (16 cores, one GPU), in under 8 minutes:
# every cell of benchmarks/parametric_accuracy.py trains at once, one process each, on the GPU.
#
#   OUT=/tmp/pa bash benchmarks/parametric_accuracy_gpu.sh
#
# Both virtual gear at a 70-minute capture budget, the candidate default recipe (c5-rf2k):
#   od      maximin-lhs, random and a 3² grid, 40 s of material a setting, 3 seeds
#   od      maximin-lhs, the whole v3-layout signal (163.5 s of material), 2 seeds
#   preamp  maximin-lhs and random, 40 s, 2 seeds (a grid of four knobs does not fit 70 min)
#   od      maximin-lhs, 40 s, 2 seeds, with the station's current default ("station")
# Cells train 8,000 steps of 32 slices; a cell still training at 6 minutes stops there and
# its row says so. The CPU ratio needs NAM's core harness (tests/namcore), so it reads n/a
# where the harness cannot be built; benchmarks/core_cpu.py measures it on any machine.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/parametric-accuracy}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1

"$PY" - <<'EOF' || exit 1
import torch, nam, librosa, soundfile  # noqa: F401 — what training needs, before 17 processes start
assert torch.cuda.is_available(), "no GPU visible to torch"
print("torch", torch.__version__, "on", torch.cuda.get_device_name(0), "; nam", nam.__version__)
EOF

COMMON=(--budgets 70m --steps "${STEPS:-8000}" --validate-every 500 --batch 32
        --max-minutes "${CELL_MINUTES:-6}" --accelerator gpu --devices 1 --threads 1)
run() {
    local name=$1
    shift
    "$PY" benchmarks/parametric_accuracy.py "$@" "${COMMON[@]}" --json "$OUT/$name.json" \
        >"$OUT/$name.md" 2>"$OUT/$name.log" &
}
run od-40s --gears od --methods maximin-lhs,random,grid --training-s 40 --seeds 3 \
    --recipes c5-rf2k --jobs 9
run od-full --gears od --methods maximin-lhs --training-s 163.5 --seeds 2 --recipes c5-rf2k --jobs 2
run preamp-40s --gears preamp --methods maximin-lhs,random --training-s 40 --seeds 2 \
    --recipes c5-rf2k --jobs 4
run od-station --gears od --methods maximin-lhs --training-s 40 --seeds 2 --recipes station --jobs 2
wait
for f in "$OUT"/*.md; do
    echo "## $(basename "$f" .md)"
    cat "$f"
    echo
done
