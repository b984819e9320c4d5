"""Full-model throughput (layers 1-6) of ``DeepSpeech.forward_batch`` against the TFLite interpreter.

    python bench/bench_deepspeech.py [--files 64] [--batch 32]

Both run on the same windows of real RAVDESS utterances in the same run. The interpreter uses its
default resolver (XNNPACK) and streams one utterance at a time, 16 windows per invoke, carrying
(c, h), as DeepSpeech's runtime does. Reported: frames/s of each, the ratio, thread count, load.

Bounds per frame (H = 2048, n_labels + 1 = 41):
    FLOPs   2 (494 H + 2 H^2 + 8 H^2 + H^2 + 41 H) = 94.5 MFLOP (the LSTM is 71 % of it)
    memory  every LSTM step streams W4 (4096 x 8192): 32 MiB as int8 (the interpreter), 128 MiB
            as the float32 that BLAS needs (both of ser_ref's modes); B utterances per step share it
At the interpreter's own bandwidth (32 MiB x its frames/s) one utterance at a time would give
ser_ref about a quarter of the interpreter's rate; with B = 64 the traffic is 2 MiB per frame and
the bound is compute: 94.5 MFLOP / frame at the machine's ~300 GFLOP/s float32 GEMM rate.
Writes bench/results/deepspeech-cpu.json.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from ser_ref.files import locations
from ser_ref.files.atomic import write_json
from ser_ref.frontend.audio import load_audio
from ser_ref.deepspeech import DeepSpeech

OUT = Path(__file__).resolve().parent / "results" / "deepspeech-cpu.json"
H = 2048
FLOP_PER_FRAME = 2 * (494 * H + 2 * H * H + 8 * H * H + H * H + 41 * H)


def interpreter_frames_per_s(model_path, windows) -> float:
    from ai_edge_litert.interpreter import Interpreter

    ip = Interpreter(model_path=str(model_path))
    ip.allocate_tensors()
    idx = {d["name"]: d["index"] for d in ip.get_tensor_details()}
    t = time.perf_counter()
    for w in windows:
        c = np.zeros((1, H), np.float32)
        h = np.zeros((1, H), np.float32)
        for i in range(0, len(w), 16):
            buf = np.zeros((16, 494), np.float32)
            buf[:len(w[i:i + 16])] = w[i:i + 16]
            ip.set_tensor(idx["input_node"], buf.reshape(1, 16, 19, 26))
            ip.set_tensor(idx["previous_state_c"], c)
            ip.set_tensor(idx["previous_state_h"], h)
            ip.invoke()
            c, h = ip.get_tensor(idx["new_state_c"]), ip.get_tensor(idx["new_state_h"])
    return sum(len(w) for w in windows) / (time.perf_counter() - t)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    model_path, root = locations.shared_model_path(), locations.ravdess_root()
    model = DeepSpeech.from_model(model_path)
    files = sorted(root.glob("Actor_*/*.wav"))[:: max(1, 672 // args.files)][:args.files]
    windows = [np.ascontiguousarray(model.windows(load_audio(f)), dtype=np.float32) for f in files]
    frames = sum(len(w) for w in windows)
    model.forward_batch(windows[:2], mode="tflite-int8", batch_size=2, layers=())   # warm-up (Numba)
    res = {"frames": frames, "files": len(files), "batch": args.batch, "cpu_count": os.cpu_count(),
           "loadavg_before": open("/proc/loadavg").read().split()[:3], "flop_per_frame": FLOP_PER_FRAME}
    res["interpreter_fps"] = interpreter_frames_per_s(model_path, windows)
    for mode in ("float", "tflite-int8"):
        t = time.perf_counter()
        model.forward_batch(windows, mode=mode, batch_size=args.batch, layers=())
        fps = frames / (time.perf_counter() - t)
        res[f"{mode}_fps"] = fps
        res[f"{mode}_vs_interpreter"] = fps / res["interpreter_fps"]
        res[f"{mode}_gflops"] = fps * FLOP_PER_FRAME / 1e9
    res["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    write_json(args.out, res)
    print(res)
    return res


if __name__ == "__main__":
    main()
