#!/usr/bin/env bash
# All the GPU work of one device call, in order, each step under its own time limit inside one budget:
#
#   setup      install the carried wheels (.whl/) into a private folder; unpack the carried model
#              (.gpu-data/model.tflite.xz, sha256 checked) and point SER_REF_MODEL / SER_REF_RAVDESS at
#              the carried files; record the GPU, driver and package versions
#   pytest     python -m pytest -m gpu -q -ra       (every kernel against its CPU reference)
#   bench      python bench/bench_gpu.py            (every stage on every backend; CPU rows past
#              --cpu-budget skipped) -> $OUT/results/<gpu>.json
#   repro-gpu  python -m ser_ref.reproduce --quick --device gpu   on the synthetic corpus (or RAVDESS)
#   repro-cpu  the same with --device cpu, on 2 cores (the developers' machine) by default
#   report     max |gpu - cpu| of every row's LOSO probabilities, and the issue's four targets
#
# then prints a summary table (also $OUT/summary.txt). Every file comes back under $OUT, at most
# 8 files, at most 2 folders down: summary.txt, report.json, logs.tar.gz, reproduce.tar.gz,
# results/<gpu>.json, reproduce-gpu/table2.json, reproduce-cpu/table2.json.
#
#   OUT=/some/folder bash bench/gpu_check.sh        (in the repository root)
#
# Without a GPU (no nvidia-smi, or it lists none) every step is skipped with the reason and it exits 0:
# a dry run. With one it exits 1 when a step failed or ran out of time, else 0.
#
# Settings (environment):
#   GPU_CHECK_BUDGET=510     seconds for all steps together (the device call's limit is 540 s)
#   GPU_CHECK_STEPS=pytest,bench,repro-gpu,repro-cpu     the steps to run (setup and report always run)
#   GPU_CHECK_CORPUS=synthetic   or ravdess: the carried actors (needs >= 2 for leave-one-speaker-out)
#   GPU_CHECK_GPU_JOBS=1     --jobs of the GPU run (1: in-process, one CUDA context, clean fold timings)
#   GPU_CHECK_CPU_CORES=2    cores of the CPU run (taskset, --jobs the same); 0: all cores, default --jobs
#   GPU_CHECK_BENCH_ARGS="--repeats 5 --cpu-budget 3"    extra arguments of bench/bench_gpu.py
#   GPU_CHECK_NVIDIA_SMI=nvidia-smi    the command that lists the GPU (a test points it nowhere)
#   PYTHON=python3
set -u -o pipefail

OUT=${OUT:-}
PY=${PYTHON:-$(command -v python3 || command -v python)}
NVIDIA_SMI=${GPU_CHECK_NVIDIA_SMI:-nvidia-smi}
BUDGET=${GPU_CHECK_BUDGET:-510}
STEPS=",${GPU_CHECK_STEPS:-pytest,bench,repro-gpu,repro-cpu},"
CORPUS=${GPU_CHECK_CORPUS:-synthetic}
GPU_JOBS=${GPU_CHECK_GPU_JOBS:-1}
CPU_CORES=${GPU_CHECK_CPU_CORES:-2}
BENCH_ARGS=${GPU_CHECK_BENCH_ARGS:---repeats 5 --cpu-budget 3}
# each step's own limit (seconds); a step also stops 20 s before the budget's end (its kill grace and the report)
declare -A LIMIT=([pytest]=140 [bench]=150 [repro-gpu]=110 [repro-cpu]=100)

ORDER=()
declare -A STATUS SECS NOTE
GPU_NAME="" NO_GPU=""
DEADLINE=$((SECONDS + BUDGET))

# ------------------------------------------------------------------ bookkeeping
record() {  # record STEP STATUS SECONDS NOTE
    ORDER+=("$1"); STATUS[$1]=$2; SECS[$1]=$3; NOTE[$1]=$4
    printf '[%4ds] %-10s %-7s %s\n' "$SECONDS" "$1" "$2" "$4"
}

wanted() { [[ $STEPS == *",$1,"* ]]; }

# run_step STEP LOG CMD...: CMD under `timeout`, output to LOG; the status from its exit code.
run_step() {
    local step=$1 log=$2; shift 2
    local left=$((DEADLINE - SECONDS - 20)) limit=${LIMIT[$step]}
    ((left < limit)) && limit=$left
    if ((limit < 15)); then record "$step" SKIP 0 "no time left in the ${BUDGET}s budget"; return 1; fi
    echo "[$SECONDS s] $step: $* (limit ${limit}s)" >"$log"
    local t0=$SECONDS rc
    timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
    rc=$?
    local note="rc $rc, log logs/${log##*/}"
    case $rc in
        0) record "$step" PASS $((SECONDS - t0)) "$note" ;;
        124|137) record "$step" TIMEOUT $((SECONDS - t0)) "stopped at its ${limit}s limit; $note" ;;
        *) record "$step" FAIL $((SECONDS - t0)) "$note"
           echo "---- last lines of $step's log:"; tail -n 15 "$log"; echo "----" ;;
    esac
    return $rc
}

slug() { echo "$1" | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9]+/-/g; s/^-+//; s/-+$//'; }

# ------------------------------------------------------------------ steps
find_gpu() {
    if ! command -v "$NVIDIA_SMI" >/dev/null 2>&1; then
        NO_GPU="no NVIDIA GPU on this machine ($NVIDIA_SMI not found)"
    else
        GPU_NAME=$("$NVIDIA_SMI" --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
        [[ -n $GPU_NAME ]] || NO_GPU="no NVIDIA GPU on this machine ($NVIDIA_SMI lists none)"
    fi
    if [[ -n $NO_GPU ]]; then  # ser_ref's own word on the GPU path, for the record
        local why
        why=$(PYTHONPATH=$PWD "$PY" -c 'from ser_ref.runtime.backend import _import_cupy
try:
    _import_cupy(); print("CuPy sees a device")
except Exception as e:
    print(e)' 2>&1 | tail -n 1)
        NO_GPU="$NO_GPU; ser_ref: $why"
    fi
}

install_wheels() {
    local wheels=() w
    for w in .whl/*.whl; do [[ -f $w ]] && wheels+=("$w"); done
    if ((${#wheels[@]} == 0)); then echo "no .whl/ carried: using the machine's packages"; return 0; fi
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" \
        "${wheels[@]}" || return 1
    export PYTHONPATH="$PWD:$WORK/site"
    echo "installed ${#wheels[@]} wheels into $WORK/site"
}

# The carried model, unpacked and checked; the carried corpus; a fresh feature cache.
carried_data() {
    if [[ -f .gpu-data/model.tflite.xz ]]; then
        DST="$WORK/model.tflite" "$PY" - <<'EOF' || return 1
import hashlib, lzma, os
from pathlib import Path
from ser_ref.deepspeech.fetch import MODEL_SHA256
data = lzma.decompress(Path(".gpu-data/model.tflite.xz").read_bytes())
got = hashlib.sha256(data).hexdigest()
assert got == MODEL_SHA256, f"carried model: sha256 {got[:12]}... is not MODEL_SHA256 {MODEL_SHA256[:12]}..."
Path(os.environ["DST"]).write_bytes(data)
print(f"model: {os.environ['DST']}, sha256 {got[:12]}... as pinned")
EOF
        export SER_REF_MODEL="$WORK/model.tflite"
    else
        echo "no .gpu-data/model.tflite.xz: the model-file tests skip, reproduce needs one (bench/gpu_carry.sh)"
    fi
    if [[ -d .gpu-data/ravdess ]]; then
        export SER_REF_RAVDESS="$PWD/.gpu-data/ravdess"
        echo "corpus: $(ls .gpu-data/ravdess | wc -l) RAVDESS actor(s) in .gpu-data/ravdess"
    fi
    export SER_REF_CACHE="$WORK/cache"
}

describe_machine() {
    "$NVIDIA_SMI" || true
    "$PY" -m pip list 2>/dev/null | grep -iE '^(numpy|scipy|numba|llvmlite|tqdm|soundfile|cffi|cupy|pytest|torch) ' || true
    "$PY" - <<'EOF'
import platform, cupy, numpy, numba, scipy, soundfile
from ser_ref.runtime.backend import gpu_available
print("python", platform.python_version(), "| numpy", numpy.__version__, "| scipy", scipy.__version__,
      "| numba", numba.__version__, "| soundfile", soundfile.__version__, "| cupy", cupy.__version__)
print("CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(), "| driver", cupy.cuda.runtime.driverGetVersion(),
      "| ser_ref gpu_available:", gpu_available())
assert gpu_available(), "ser_ref cannot use the GPU (CuPy sees no device)"
EOF
}

carried_inventory() {  # what the call would carry for setup, as one phrase
    local n=0 w
    for w in .whl/*.whl; do [[ -f $w ]] && n=$((n + 1)); done
    printf '%d wheels in .whl, model %s, RAVDESS actors %d' "$n" \
        "$([[ -f .gpu-data/model.tflite.xz ]] && echo yes || echo no)" \
        "$(ls -d .gpu-data/ravdess/Actor_* 2>/dev/null | wc -l)"
}

step_setup() {
    local t0=$SECONDS log="$LOGS/setup.log"
    unset CUPY_TF32  # no TF32: the int8 layer-1 and forest paths are meant to be bit-exact
    export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
    { install_wheels && carried_data && describe_machine; } >"$log" 2>&1
    local rc=$?
    if ((rc == 0)); then record setup PASS $((SECONDS - t0)) "$(grep -c . "$log") lines, log logs/setup.log"
    else record setup FAIL $((SECONDS - t0)) "log logs/setup.log"; tail -n 15 "$log"; fi
}

step_pytest() {
    local args=(-m gpu -q -ra -p no:cacheprovider --continue-on-collection-errors)
    "$PY" -c "import pytest_timeout" 2>/dev/null && args+=(--timeout=100)  # a hung kernel stops one test only
    run_step pytest "$LOGS/pytest.log" "$PY" -m pytest "${args[@]}"
    local last
    last=$(grep -E '(passed|failed|error|skipped|no tests ran)' "$LOGS/pytest.log" | tail -n 1)
    [[ -n $last ]] && NOTE[pytest]="$last; ${NOTE[pytest]}"
}

step_bench() {
    mkdir -p "$OUT/results"
    BENCH_JSON="$OUT/results/$(slug "$GPU_NAME").json"
    # shellcheck disable=SC2086  # BENCH_ARGS is a list of words
    run_step bench "$LOGS/bench.log" "$PY" bench/bench_gpu.py $BENCH_ARGS --out "$BENCH_JSON"
}

corpus_args() {
    case $CORPUS in
        synthetic) ;;
        ravdess) echo "--corpus ravdess --root ${SER_REF_RAVDESS:-.gpu-data/ravdess}" ;;
        *) echo "--corpus $CORPUS" ;;
    esac
}

step_reproduce() {  # step_reproduce gpu|cpu
    local device=$1 pin=() jobs=()
    local dir="$WORK/reproduce-$device"
    if [[ $device == gpu ]]; then
        jobs=(--jobs "$GPU_JOBS")
    elif ((CPU_CORES > 0)) && command -v taskset >/dev/null; then
        pin=(taskset -c "0-$((CPU_CORES - 1))"); jobs=(--jobs "$CPU_CORES")
    fi
    # shellcheck disable=SC2046  # corpus_args is a list of words
    run_step "repro-$device" "$LOGS/reproduce-$device.log" "${pin[@]}" "$PY" -m ser_ref.reproduce --quick \
        --device "$device" "${jobs[@]}" --out "$dir" $(corpus_args)
    if [[ -f $dir/table2.json ]]; then mkdir -p "$OUT/reproduce-$device" && cp "$dir/table2.json" "$OUT/reproduce-$device/"; fi
}

step_report() {
    local args=(--json "$OUT/report.json" --cpu-cores "$CPU_CORES")
    [[ -f ${BENCH_JSON:-} ]] && args+=(--bench "$BENCH_JSON")
    [[ -f $WORK/reproduce-gpu/table2.json ]] && args+=(--gpu-out "$WORK/reproduce-gpu")
    [[ -f $WORK/reproduce-cpu/table2.json ]] && args+=(--cpu-out "$WORK/reproduce-cpu")
    "$PY" bench/gpu_report.py "${args[@]}" >"$LOGS/report.log" 2>&1 \
        && record report PASS 0 "report.json" || record report FAIL 0 "log logs/report.log"
}

pack() {
    tar -czf "$OUT/logs.tar.gz" -C "$WORK" logs 2>/dev/null
    local dirs=() d
    for d in reproduce-gpu reproduce-cpu; do [[ -d $WORK/$d ]] && dirs+=("$d"); done
    ((${#dirs[@]})) && tar -czf "$OUT/reproduce.tar.gz" -C "$WORK" --exclude '*.png' "${dirs[@]}" 2>/dev/null
    return 0
}

summary() {
    echo
    echo "== gpu_check summary: GPU ${GPU_NAME:-none}; $(date -u '+%Y-%m-%d %H:%M UTC'); ${SECONDS}s of ${BUDGET}s"
    [[ -n $NO_GPU ]] && echo "dry run, GPU steps skipped: $NO_GPU"
    printf '%-10s %-7s %6s  %s\n' step status seconds note
    local s
    for s in "${ORDER[@]}"; do printf '%-10s %-7s %6s  %s\n' "$s" "${STATUS[$s]}" "${SECS[$s]}" "${NOTE[$s]}"; done
    [[ -f $LOGS/report.log ]] && { echo; cat "$LOGS/report.log"; }
    echo
    echo "files under \$OUT: $(cd "$OUT" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')"
}

# ------------------------------------------------------------------ main
main() {
    [[ -f bench/bench_gpu.py && -d ser_ref ]] || { echo "gpu_check: run me in the repository root" >&2; exit 2; }
    if [[ -z $OUT ]]; then OUT=$(mktemp -d); echo "OUT was not set: writing to $OUT"; fi
    mkdir -p "$OUT"
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT  # everything worth keeping is copied or packed into $OUT
    LOGS="$WORK/logs"; mkdir -p "$LOGS"
    find_gpu
    if [[ -n $NO_GPU ]]; then
        local s
        record setup SKIP 0 "no GPU; carried here: $(carried_inventory)"
        for s in pytest bench repro-gpu repro-cpu report; do record "$s" SKIP 0 "no GPU"; done
    else
        step_setup
        wanted pytest && step_pytest
        wanted bench && step_bench
        wanted repro-gpu && step_reproduce gpu
        wanted repro-cpu && step_reproduce cpu
        step_report
    fi
    pack
    summary | tee "$OUT/summary.txt"
    local s
    for s in "${ORDER[@]}"; do [[ ${STATUS[$s]} == FAIL || ${STATUS[$s]} == TIMEOUT ]] && exit 1; done
    exit 0
}

main
