"""Full-model throughput (layers 1-6) of ``DeepSpeech.forward_batch`` against the TFLite interpreter.

    python bench/bench_deepspeech.py [--files 64] [--batch 32]
    python bench/bench_deepspeech.py --small-sets [--repeats 3] [--cases a,b]

``--small-sets`` measures the two small sets of issue 27, each in one interleaved run against the
interpreter (interpreter, float, tflite-int8, then again, ``--repeats`` times; best wall time of each,
with the CPU seconds of the same runs): (a) 24 RAVDESS utterances cut to 3 s, as ``transcribe`` or
``layers`` meet them on a small set, grouped as ``forward_batch`` groups them; (b) one 10-s utterance
(RAVDESS files joined). Targets: tflite-int8 >= 1.5x and float >= 2x the interpreter in wall time.
It prints and writes the ratios, the threads of both sides (configured, and CPU / wall seconds as
run) and the load average; writes bench/results/deepspeech-small-cpu.json unless --out says otherwise.

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
OUT_SMALL = Path(__file__).resolve().parent / "results" / "deepspeech-small-cpu.json"
H = 2048
FLOP_PER_FRAME = 2 * (494 * H + 2 * H * H + 8 * H * H + H * H + 41 * H)


def interpreter_runner(model_path, threads):
    """A function streaming utterances through one interpreter as the runtime does (16 windows per
    invoke, (c, h) carried), made once so that loading is not timed."""
    from ai_edge_litert.interpreter import Interpreter

    ip = Interpreter(model_path=str(model_path), num_threads=threads)
    ip.allocate_tensors()
    idx = {d["name"]: d["index"] for d in ip.get_tensor_details()}

    def run(windows):
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
    return run


def small_sets(model, files, count: int, seconds_a: float, seconds_b: float) -> dict:
    """{"a": 24 windows arrays of utterances cut to ``seconds_a``, "b": [one of ``seconds_b``]}."""
    picked = files[:: max(1, len(files) // count)][:count]
    a = [load_audio(f)[:int(seconds_a * 16000)] for f in picked]
    joined, n = [], int(seconds_b * 16000)
    for f in files[1::29]:
        joined.append(load_audio(f))
        if sum(x.size for x in joined) >= n:
            break
    win = lambda x: np.ascontiguousarray(model.windows(x), dtype=np.float32)  # noqa: E731
    return {"a": [win(x) for x in a], "b": [win(np.concatenate(joined)[:n])]}


def timed(fns: dict, repeats: int) -> dict:
    """Best wall seconds and the CPU seconds of that run, per function, interleaved over repeats."""
    out = {name: {"wall_s": float("inf"), "cpu_s": None} for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            if wall < out[name]["wall_s"]:
                out[name] = {"wall_s": wall, "cpu_s": cpu, "cpu_per_wall": cpu / wall}
    return out


def main_small(args) -> dict:
    from ser_ref.runtime.blas_threads import blas_threads
    from ser_ref.runtime.core_pool import cores

    model_path, root = locations.shared_model_path(), locations.ravdess_root()
    model = DeepSpeech.from_model(model_path)
    sets = small_sets(model, sorted(root.glob("Actor_*/*.wav")), args.count_a, args.seconds_a, args.seconds_b)
    run_interpreter = interpreter_runner(model_path, args.interpreter_threads)
    res = {"bench": "deepspeech-small-sets", "repeats": args.repeats, "batch": args.batch,
           "timing": "best wall of the repeats, interleaved, after one warm-up; cpu_s of that run (all threads)",
           "threads": {"interpreter_num_threads": args.interpreter_threads, "ser_ref_cores": cores(),
                       "blas_threads": blas_threads()},
           "load_average_start": list(os.getloadavg()), "targets": {"tflite-int8": ">= 1.5", "float": ">= 2"},
           "cases": {}}
    for case in args.cases.split(","):
        ws = sets[case]
        fns = {"interpreter": lambda: run_interpreter(ws)}
        for mode in ("float", "tflite-int8"):
            fns[mode] = lambda mode=mode: model.forward_batch(ws, mode=mode, batch_size=args.batch, layers=())
        run_interpreter(ws[:1])
        model.forward_batch([w[:40] for w in ws[:2]], mode="tflite-int8", layers=())  # warm-up (Numba, packing)
        t = timed(fns, args.repeats)
        row = {"utterances": len(ws), "utterance_seconds": args.seconds_a if case == "a" else args.seconds_b,
               "frames": sum(len(w) for w in ws), **t}
        for mode in ("float", "tflite-int8"):
            row[f"{mode}_vs_interpreter"] = t["interpreter"]["wall_s"] / t[mode]["wall_s"]
            row[f"{mode}_vs_interpreter_cpu_s"] = t["interpreter"]["cpu_s"] / t[mode]["cpu_s"]
        res["cases"][case] = row
        print(case, f"{row['utterances']} utt, {row['frames']} frames:",
              ", ".join(f"{k} {v['wall_s']:.3f} s wall / {v['cpu_s']:.3f} s cpu ({v['cpu_per_wall']:.2f} threads)"
                        for k, v in t.items()), flush=True)
        print(f"  ratios vs interpreter (wall): float {row['float_vs_interpreter']:.2f}x (target >= 2), "
              f"tflite-int8 {row['tflite-int8_vs_interpreter']:.2f}x (target >= 1.5); in cpu seconds: "
              f"float {row['float_vs_interpreter_cpu_s']:.2f}x, tflite-int8 {row['tflite-int8_vs_interpreter_cpu_s']:.2f}x",
              flush=True)
    res["load_average_end"] = list(os.getloadavg())
    print(f"threads: {res['threads']}; load average start {res['load_average_start']}, end {res['load_average_end']}")
    write_json(args.out or OUT_SMALL, res)
    return res


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=64)
    ap.add_argument("--batch", type=int, default=None, help="utterances per group (default 32; 64 with --small-sets)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--small-sets", action="store_true", help="the two small sets of issue 27 (module doc)")
    ap.add_argument("--cases", default="a,b", help="with --small-sets: a (24 x 3 s), b (one 10 s), or both")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--count-a", type=int, default=24)
    ap.add_argument("--seconds-a", type=float, default=3.0)
    ap.add_argument("--seconds-b", type=float, default=10.0)
    ap.add_argument("--interpreter-threads", type=int, default=None,
                    help="the interpreter's num_threads (default: its own default, as the runtime leaves it)")
    args = ap.parse_args(argv)
    if args.small_sets:
        args.batch = args.batch or 64
        return main_small(args)
    args.batch = args.batch or 32
    model_path, root = locations.shared_model_path(), locations.ravdess_root()
    model = DeepSpeech.from_model(model_path)
    files = sorted(root.glob("Actor_*/*.wav"))[:: max(1, 672 // args.files)][:args.files]
    windows = [np.ascontiguousarray(model.windows(load_audio(f)), dtype=np.float32) for f in files]
    frames = sum(len(w) for w in windows)
    model.forward_batch(windows[:2], mode="tflite-int8", batch_size=2, layers=())   # warm-up (Numba)
    res = {"frames": frames, "files": len(files), "batch": args.batch, "cpu_count": os.cpu_count(),
           "loadavg_before": open("/proc/loadavg").read().split()[:3], "flop_per_frame": FLOP_PER_FRAME}
    run_interpreter = interpreter_runner(model_path, None)
    t = time.perf_counter()
    run_interpreter(windows)
    res["interpreter_fps"] = frames / (time.perf_counter() - t)
    for mode in ("float", "tflite-int8"):
        t = time.perf_counter()
        model.forward_batch(windows, mode=mode, batch_size=args.batch, layers=())
        fps = frames / (time.perf_counter() - t)
        res[f"{mode}_fps"] = fps
        res[f"{mode}_vs_interpreter"] = fps / res["interpreter_fps"]
        res[f"{mode}_gflops"] = fps * FLOP_PER_FRAME / 1e9
    res["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    write_json(args.out or OUT, res)
    print(res)
    return res


if __name__ == "__main__":
    main()
