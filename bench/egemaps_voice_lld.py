"""Frame-by-frame agreement of ser_ref's voice LLDs with openSMILE's eGeMAPS v02 LLD output.

    python bench/egemaps_voice_lld.py [--limit N]

For every RAVDESS file (all 672 by default) both extractors run on the same samples; per LLD
the frames are pooled over files and compared:

* voicing agreement: fraction of frames where both say voiced or both say unvoiced (F0 > 0);
* on frames both call voiced: Pearson r, the fraction within 1e-3 (relative, floor 1e-3
  absolute) of openSMILE, and the median absolute difference;
* formant frequencies / bandwidths: openSMILE's LLD csv smooths *ungated* formants while
  ser_ref outputs the F0-gated copy the functionals use, so those are compared only on voiced
  frames whose two neighbours are voiced as well.

Also times both (seconds per second of audio; openSMILE computes the full LLD set, ser_ref
only the 15 voice LLDs) and the Numba compile cost in a fresh interpreter with an empty cache.
Writes bench/results/egemaps-voice-lld-cpu.json.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from machine_info import machine  # noqa: E402

from ser_ref.files.atomic import write_json  # noqa: E402
from ser_ref.frontend.audio import load_audio  # noqa: E402
from ser_ref.egemaps import voice  # noqa: E402
from ser_ref.files.locations import ravdess_root  # noqa: E402

GATED = {f"F{i}{k}" for i in (1, 2, 3) for k in ("frequency", "bandwidth")}
_COMPILE = r"""
import time, numpy as np
t0 = time.perf_counter()
from ser_ref.egemaps.voice import voice_llds
x = (0.1 * np.sin(2 * np.pi * 150 * np.arange(16000) / 16000)).astype(np.float32)
voice_llds(x); t1 = time.perf_counter(); voice_llds(x); t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def compile_cost() -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(REPO))
        out = subprocess.run([sys.executable, "-c", _COMPILE], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
    return {"first_call_empty_cache_s": float(out[0]), "second_call_s": float(out[1])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="only the first N files (0 = all)")
    args = ap.parse_args()
    import opensmile

    root = ravdess_root()
    if root is None:
        sys.exit("no RAVDESS corpus (set SER_REF_RAVDESS)")
    files = sorted(root.glob("Actor_*/*.wav"))
    if args.limit:
        files = files[: args.limit]
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
    voice.voice_llds(np.sin(np.arange(16000) / 10.0).astype(np.float32))  # compile / load cache
    ours_s = ref_s = audio_s = 0.0
    pairs = {n: ([], []) for n in voice.VOICE_NAMES}
    v_agree = v_total = n_frames_mismatch = 0
    for path in files:
        x = load_audio(path)
        audio_s += x.size / 16000
        t0 = time.perf_counter()
        ref = smile.process_signal(x, 16000)
        t1 = time.perf_counter()
        out = voice.voice_llds(x)
        t2 = time.perf_counter()
        ref_s += t1 - t0
        ours_s += t2 - t1
        n = min(len(ref), len(out["jitterLocal"]))
        n_frames_mismatch += len(ref) != len(out["jitterLocal"])
        ov = out["F0semitoneFrom27.5Hz"][:n] > 0
        rv = ref["F0semitoneFrom27.5Hz_sma3nz"].to_numpy()[:n] > 0
        v_agree += int(np.sum(ov == rv))
        v_total += n
        both = ov & rv
        inner = both.copy()
        inner[1:] &= both[:-1]
        inner[:-1] &= both[1:]
        for name in voice.VOICE_NAMES:
            m = inner if name in GATED else both
            pairs[name][0].append(out[name][:n][m])
            pairs[name][1].append(ref[name + "_sma3nz"].to_numpy()[:n][m].astype(np.float64))
    table = {}
    for name, (a, b) in pairs.items():
        a, b = np.concatenate(a), np.concatenate(b)
        close = np.abs(a - b) <= 1e-3 * np.maximum(np.abs(b), 1.0)
        table[name] = {"frames": int(a.size), "pearson_r": float(np.corrcoef(a, b)[0, 1]),
                       "frac_within_1e-3": float(close.mean()),
                       "median_abs_diff": float(np.median(np.abs(a - b))),
                       "mean_ours": float(a.mean()), "mean_opensmile": float(b.mean())}
    result = {
        "files": len(files), "audio_seconds": audio_s, "frame_count_mismatches": n_frames_mismatch,
        "voicing_agreement": v_agree / v_total, "frames": v_total, "llds": table,
        "time": {"ser_ref_voice_s_per_audio_s": ours_s / audio_s,
                 "opensmile_all_llds_s_per_audio_s": ref_s / audio_s,
                 "ratio_ser_ref_over_opensmile": ours_s / ref_s, **compile_cost()},
        "machine": machine(),
    }
    write_json(REPO / "bench" / "results" / "egemaps-voice-lld-cpu.json", result)
    print(f"{len(files)} files, {v_total} frames, voicing agreement {100 * result['voicing_agreement']:.3f} %")
    print(f"{'LLD':24s} {'frames':>7s} {'r':>8s} {'within1e-3':>10s} {'med|d|':>9s}")
    for name, row in table.items():
        print(f"{name:24s} {row['frames']:7d} {row['pearson_r']:8.5f} {row['frac_within_1e-3']:10.4f} "
              f"{row['median_abs_diff']:9.2e}")
    print({k: round(v, 4) for k, v in result["time"].items()})


if __name__ == "__main__":
    main()
