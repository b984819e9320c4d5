"""Peak memory of one feature worker on a long utterance: 10 s, 1 min and 10 min, each in a child process.

    python bench/bench_memory.py [--seconds 10,60,600] [--kinds egemaps,layer1,deepspeech]

What a worker of ``reproduce``'s feature cache does with one file is timed and measured (``work``: read
the file once, hash its bytes, decode them, compute the features, store them) on a 16-bit 16 kHz WAV of
speech-like audio (the synthetic corpus's voices, tiled). Kinds: ``egemaps`` (88 functionals),
``layer1`` (the paper's DeepSpeech layer-1 features, (frames, 2048)) and ``deepspeech`` (layer 3 of
the whole model, which runs layers 1-5 and the LSTM in passes).

Each child first loads the libraries and the model and computes the features of a 1 s file (so that
Numba's functions are loaded), then resets the kernel's peak-RSS mark (``/proc/self/clear_refs``) and
measures the call: ``peak_rss_mb`` is the process's resident memory at its highest during the call
(libraries, the model and all). ``output_mb`` is the features' own size, ``input_mb`` the file's bytes plus its
decoded samples (float32), which a worker holds whatever the features; the target is
``peak - output <= 1.3 x the 10 s peak``. Writes bench/results/memory-cpu.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from machine_info import machine  # noqa: E402

TARGET = 1.3


def _status_mb(key: str) -> float:
    """A VmHWM / VmRSS line of /proc/self/status in MiB (Linux)."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(key + r":\s+(\d+)", text).group(1)) / 1024


def speech_like(seconds: float) -> "np.ndarray":
    """``seconds`` of the synthetic corpus's voices (two speakers, four emotions) tiled, float32."""
    import numpy as np

    from ser_ref.corpora.synthetic import utterance

    base = np.concatenate([utterance(s, lab) for s in range(2) for lab in ("anger", "sadness", "neutral", "happiness")])
    return np.resize(base, int(seconds * 16000)).astype(np.float32)


def features_of(kind: str):
    """The function a worker computes for a benchmark kind, signal -> features (the model loaded once)."""
    if kind == "egemaps":
        from ser_ref.egemaps import egemaps

        return lambda x: egemaps(x, 16000)
    from ser_ref.deepspeech import deepspeech_features, load_layer1

    layer = load_layer1(None, verbose=False)
    if kind == "layer1":
        return lambda x: deepspeech_features(x, layer, step_ms=20, mode="float")
    from ser_ref.deepspeech.layer_features import layer_features

    params = {"weights": layer.source, "step_ms": 20, "mode": "float"}
    return lambda x: layer_features(x, params, ("layer3",))["layer3"]


def work(path: str, features, out: str) -> None:
    """One file as a worker of the feature cache takes it: read once, hash, decode, compute, store
    (the bytes stay referenced while the features are computed, as there)."""
    import numpy as np

    from ser_ref.files.hashing import bytes_sha256
    from ser_ref.frontend.audio import decode_audio, read_file

    data = read_file(path)
    bytes_sha256(data)
    feats = features(decode_audio(data, path))
    np.save(out, np.asarray(feats, dtype=np.float32))


def child(kind: str, seconds: float) -> dict:
    import gc

    import soundfile as sf

    features = features_of(kind)
    with tempfile.TemporaryDirectory() as d:
        warm, long, out = (os.path.join(d, n) for n in ("warm.wav", "long.wav", "features.npy"))
        for path, s in ((warm, 1.0), (long, seconds)):
            sf.write(path, speech_like(s), 16000, subtype="PCM_16")
        work(warm, features, out)  # libraries, Numba's functions and the model in memory first
        gc.collect()
        before = _status_mb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # the peak mark starts again from the current RSS
        t = time.perf_counter()
        work(long, features, out)
        wall = time.perf_counter() - t
        peak = _status_mb("VmHWM")
        output = os.path.getsize(out) / 2**20
        held = (os.path.getsize(long) + 4 * sf.info(long).frames) / 2**20  # its bytes + its float32 samples
    return {"kind": kind, "seconds": seconds, "rss_before_mb": round(before, 1), "peak_rss_mb": round(peak, 1),
            "output_mb": round(output, 2), "input_mb": round(held, 2), "wall_s": round(wall, 2)}


def parent(kinds, seconds) -> int:
    runs = []
    for kind in kinds:
        for s in seconds:
            out = subprocess.run([sys.executable, __file__, "--child", kind, str(s)], capture_output=True,
                                 text=True, check=True, cwd=str(REPO)).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(runs[-1]), flush=True)
    base = {r["kind"]: r["peak_rss_mb"] for r in runs if r["seconds"] == min(seconds)}
    for r in runs:
        r["ratio_without_output"] = round((r["peak_rss_mb"] - r["output_mb"]) / base[r["kind"]], 3)
        r["ratio_without_output_and_input"] = round((r["peak_rss_mb"] - r["output_mb"] - r["input_mb"])
                                                    / base[r["kind"]], 3)
        r["within_target"] = r["ratio_without_output"] <= TARGET
    result = {"machine": machine(), "target": f"peak - output <= {TARGET} x the {min(seconds):g} s peak",
              "note": "input_mb: the file's bytes (held by the worker while it computes, for the cache key) "
                      "and its decoded float32 samples, which the features are computed from",
              "runs": runs}
    from ser_ref.files.atomic import write_json

    write_json(REPO / "bench" / "results" / "memory-cpu.json", result)
    print(json.dumps(result, indent=2))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", default="10,60,600", help="utterance lengths, comma-separated")
    ap.add_argument("--kinds", default="egemaps,layer1,deepspeech")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "SECONDS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], float(args.child[1]))))
        return 0
    return parent(args.kinds.split(","), [float(s) for s in args.seconds.split(",")])


if __name__ == "__main__":
    raise SystemExit(main())
