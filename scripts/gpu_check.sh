#!/usr/bin/env bash
# The GPU check (issue 14), for an offline CUDA machine given a copy of this tree: installs the carried
# wheels (.whl/, see results/perf/README.md), then runs the GPU tests, the throughput benchmarks, a profile of a
# population step and the bundled suites on CUDA, each under a share of a time budget. The step log goes to
# $OUT/steps.log as it runs; every log, the benchmark JSON and the suites' reports end in $OUT/gpu_check.tgz.
#   usage: GANBENCH_COMMIT=<sha> BUDGET=470 [STEPS="tests losses ..."] bash scripts/gpu_check.sh
# STEPS picks and orders the steps (default: all, in the order below).
set -u
OUT=${OUT:-gpu_out}
W=/tmp/gpu_work
mkdir -p "$OUT" "$W"
BUDGET=${BUDGET:-470}
START=$SECONDS
export PYTHONUNBUFFERED=1 GIT_PYTHON_REFRESH=quiet GANBENCH_CACHE=/tmp/ganbench-cache MPLBACKEND=Agg
log() { echo "== $(( SECONDS - START ))s $*" | tee -a "$OUT/steps.log"; }
# step NAME LIMIT CMD...: runs CMD with at most LIMIT seconds, never past the budget; its output to $OUT/NAME.log
STEPS=${STEPS:-tests overhead population profile losses images}
step() {
    local name=$1 limit=$2; shift 2
    [[ " $STEPS " == *" $name "* ]] || return 0
    local left=$(( BUDGET - (SECONDS - START) ))
    (( limit > left )) && limit=$left
    if (( limit < 10 )); then log "$name skipped: budget spent"; return; fi
    log "$name (limit ${limit}s)"
    local t0=$SECONDS
    timeout -k 5 "$limit" "$@" > "$W/$name.log" 2>&1
    log "$name exit $? after $(( SECONDS - t0 ))s"
    tail -n 4 "$W/$name.log"
}

if [ -d .whl ]; then  # built by scripts/gpu_carry.sh; the call carries [".whl"]
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed"; exit 1; }
    rm -rf /tmp/site/tests  # torch-fidelity's own test package, which would shadow this tree's `tests`
    export PYTHONPATH=/tmp/site:$PWD
    # a failed import is logged, not fatal: the benchmarks need only torch-fidelity
    python3 -c 'import mlflow, optuna, ot, pydantic, scikit_posthocs, torch_fidelity' > "$W/imports.log" 2>&1 \
        || log "carried packages do not all import: $(tail -n 1 "$W/imports.log") (scripts/gpu_carry.txt)"
fi
mkdir -p /tmp/bin
printf '#!/bin/sh\nexec python3 -m ganbench.cli "$@"\n' > /tmp/bin/ganbench && chmod +x /tmp/bin/ganbench
export PATH=/tmp/bin:$PATH
log "installed; $(python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$W/gpu.txt"

for name in $STEPS; do
    case $name in
        tests) step tests 150 python3 -m pytest -q -o addopts= -m gpu -p no:cacheprovider tests/test_gpu.py tests/test_train.py ;;
        overhead) step overhead 60 python3 -m benchmarks.bench_overhead --device cuda ;;
        population) step population 90 python3 -m benchmarks.bench_population --device cuda --sizes 1,16,64,256 ;;
        profile) step profile 45 python3 scripts/gpu_profile.py --device cuda --members 64 ;;
        losses) step losses 300 python3 -m benchmarks.bench_eval_cost --suite losses --device cuda --out /tmp/run_losses ;;
        images) step images 600 python3 -m benchmarks.bench_suite --suite images --device cuda --out /tmp/run_images -- --no-progress ;;
        *) log "unknown step $name" ;;
    esac
done
cp results/perf/*cuda*.json "$W/" 2>/dev/null
for s in losses images; do
    [ -d /tmp/run_$s/report ] && cp -r /tmp/run_$s/report "$W/report_$s"
done
cp "$OUT/steps.log" "$W/"
tar -czf "$OUT/gpu_check.tgz" -C "$W" .
log "done"
