#!/usr/bin/env bash
# Prepare, on a machine with network, what bench/gpu_check.sh needs on the GPU machine, which reaches
# no registry and sees only the repository (not ../shared):
#
#   .whl/       wheels, for the GPU machine's Python (3.12), of the core packages its image lacks:
#               soundfile and its cffi and pycparser (numpy, scipy, numba, tqdm, pytest and
#               cupy-cuda13x 14.2.0 are in the image)
#   .gpu-data/  model.tflite.xz: the DeepSpeech-architecture model, xz-compressed (47 MB -> 20 MB);
#               gpu_check.sh checks its sha256 against ser_ref.deepspeech.fetch.MODEL_SHA256
#               ravdess/Actor_NN/: the first N actors of the 4-class RAVDESS copy, for the tests and
#               benchmark rows on real speech (28 files, 3.3 MB per actor)
#
# Both folders are ignored by git. Last, it adds up what a device call would carry (tracked files,
# untracked files git does not ignore, shared/ in the checkout, .whl, .gpu-data) and fails if that is
# over the call's 64 MiB.
#
#   bash bench/gpu_carry.sh [--actors N] [--no-download]     (in the repository root; N defaults to 2)
#
# CuPy is not carried: the cupy-cuda13x 14.2.0 wheel alone is 66 MiB (cupy-cuda12x 14.2.0: 130 MiB),
# over the limit; the image's own cupy-cuda13x 14.2.0 (CUDA 13, driver 580) is what the check uses.
set -u -o pipefail

PY=${PYTHON:-python3}
GPU_PYTHON_VERSION=3.12          # the GPU machine's python3 (KINDS.md: Python 3.12.3)
LIMIT=$((64 * 1024 * 1024))      # what one device call may carry
# pinned: one version of each (two stop the install on the GPU machine)
WHEELS=(soundfile==0.14.0 cffi==2.1.1 pycparser==3.12)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64
           manylinux1_x86_64)
ACTORS=2
DOWNLOAD=1

die() { echo "gpu_carry: $*" >&2; exit 1; }

parse_args() {
    while (($#)); do
        case $1 in
            --actors) [[ ${2-} =~ ^[0-9]+$ ]] || die "--actors needs a whole number, got '${2-}'"
                      ACTORS=$2; shift 2 ;;
            --no-download) DOWNLOAD=0; shift ;;
            -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
            *) die "unknown argument '$1' (see --help)" ;;
        esac
    done
    [[ -f pyproject.toml && -d ser_ref ]] || die "run me in the repository root (no pyproject.toml/ser_ref here)"
}

download_wheels() {
    local flags=(--no-deps --only-binary=:all: --python-version "$GPU_PYTHON_VERSION" --implementation cp)
    local p
    for p in "${PLATFORMS[@]}"; do flags+=(--platform "$p"); done
    rm -rf .whl && mkdir -p .whl
    for p in "${WHEELS[@]}"; do
        "$PY" -m pip download -q "${flags[@]}" -d .whl "$p" 2>&1 | grep -v "is ignored" \
            || true
        ls .whl | grep -qi "^${p%%==*}-" || die "no wheel of $p for Python $GPU_PYTHON_VERSION manylinux x86-64"
    done
}

# The model as the project resolves it ($SER_REF_MODEL, else ../shared), sha256-checked, xz-compressed.
stage_model() {
    local src=${SER_REF_MODEL:-../shared/models/armspeech-0.1.4/model.tflite}
    [[ -f $src ]] || die "no model at '$src' (set SER_REF_MODEL to the .tflite)"
    mkdir -p .gpu-data
    SRC=$src "$PY" - <<'EOF' || exit 1
import hashlib, lzma, os, sys
from pathlib import Path
sys.path.insert(0, os.getcwd())
from ser_ref.deepspeech.fetch import MODEL_SHA256
src, dst = Path(os.environ["SRC"]), Path(".gpu-data/model.tflite.xz")
data = src.read_bytes()
if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
    sys.exit(f"gpu_carry: {src}: sha256 is not the pinned MODEL_SHA256 {MODEL_SHA256[:12]}...")
stamp = dst.with_suffix(".sha256")
if not (dst.exists() and stamp.exists() and stamp.read_text().strip() == MODEL_SHA256):
    dst.write_bytes(lzma.compress(data, preset=6))
    stamp.write_text(MODEL_SHA256 + "\n")
print(f"model: {src} -> {dst} ({dst.stat().st_size / 2**20:.1f} MiB)")
EOF
}

stage_corpus() {
    local root=${SER_REF_RAVDESS:-../shared/corpora/ravdess-4class-16k}
    rm -rf .gpu-data/ravdess
    if ((ACTORS == 0)); then echo "corpus: none (--actors 0)"; return; fi
    [[ -d $root ]] || { echo "corpus: no RAVDESS at '$root': the real-speech tests will skip there"; return; }
    mkdir -p .gpu-data/ravdess
    local d n=0
    for d in "$root"/Actor_*; do
        ((n >= ACTORS)) && break
        cp -r "$d" .gpu-data/ravdess/ && n=$((n + 1))
    done
    echo "corpus: $n actor(s) of $root -> .gpu-data/ravdess ($(du -sh .gpu-data/ravdess | cut -f1))"
}

# Bytes of what a device call would send: the working tree as git sees it, shared/, and the carried folders.
carried_bytes() {
    local tree extra=0 p
    tree=$(git ls-files -co --exclude-standard -z | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
    echo "tree (tracked + untracked not ignored): $((tree / 1024)) KiB" >&2
    for p in shared .whl .gpu-data; do
        [[ -e $p ]] || continue
        local b
        b=$(find "$p" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
        echo "$p: $((b / 1024)) KiB" >&2
        extra=$((extra + b))
    done
    echo $((tree + extra))
}

size_check() {
    local total
    total=$(carried_bytes)
    awk -v t="$total" -v l="$LIMIT" 'BEGIN {printf "total carried: %.1f MiB of %d MiB\n", t / 1048576, l / 1048576}'
    if ((total > LIMIT)); then
        echo "gpu_carry: over the device call's 64 MiB; the largest files that would travel:" >&2
        git ls-files -co --exclude-standard -z | xargs -0 -r du -b 2>/dev/null | sort -rn | head -5 >&2
        exit 1
    fi
}

main() {
    parse_args "$@"
    if ((DOWNLOAD)); then download_wheels; fi
    echo "wheels:"; ls -l .whl/*.whl 2>/dev/null | awk '{printf "  %8d  %s\n", $5, $9}'
    stage_model
    stage_corpus
    size_check
    echo "ready: the device call carries [\".whl\", \".gpu-data\"] (docs/gpu.md)"
}

main "$@"
