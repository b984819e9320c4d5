"""What a bench/gpu_check.sh run says: the GPU's predictions against the CPU's, and the four targets.

    python bench/gpu_report.py [--bench results/<gpu>.json] [--cpu-out DIR --gpu-out DIR]
                               [--cpu-cores 2] [--tol 1e-5] [--json report.json]

--cpu-out/--gpu-out are two ``python -m ser_ref.reproduce`` output folders of the same corpus and
seed, one per --device; --bench is bench/bench_gpu.py's JSON. The targets (issue 26):

    layer1     the fused layer-1 kernel at >= 50 % of the cuBLAS rate for the same GEMM shape
               (bench: "cupy-fused" against "cuBLAS same shape", the largest size both ran)
    mfcc       the GPU MFCC at >= 20,000x real time on a batch (bench: audio seconds per second of
               "cupy-fused", from host audio, and "cupy-fused-resident", the largest batch)
    lstm-loso  a Dense1+LSTM2 LOSO run >= 10x faster than the 2-core CPU path (reproduce: the row's
               worker seconds, fold-seconds:dense1+lstm2, CPU / 2 cores over GPU / its jobs)
    agreement  GPU and CPU predictions identical up to float32 rounding (reproduce: max |p_gpu -
               p_cpu| over every row's LOSO probabilities <= --tol and no argmax changed)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

TWO_CORES = 2  # the developers' machine, which the LOSO target is measured against


# ---------------------------------------------------------------- reproduce folders
def fold_probas(out) -> dict:
    """{(row key, fold file name): (test indices, probabilities)} of a reproduce output folder."""
    found = {}
    for path in sorted(Path(out, "folds").glob("*/*.json")):
        saved = json.loads(path.read_text())
        found[(path.parent.name, path.name)] = (np.asarray(saved["test_idx"]), np.asarray(saved["proba"], float))
    return found


def compare_probas(cpu_out, gpu_out) -> dict:
    """Per row key: the largest |p_gpu - p_cpu|, the utterances compared, how many changed their argmax,
    and the folds found in one folder only; "all" over every row."""
    cpu, gpu = fold_probas(cpu_out), fold_probas(gpu_out)
    rows: dict = {}
    for fold in sorted(cpu.keys() | gpu.keys()):
        r = rows.setdefault(fold[0], {"max_abs_diff": 0.0, "n": 0, "argmax_changed": 0, "unpaired_folds": []})
        if fold not in cpu or fold not in gpu:
            r["unpaired_folds"].append(fold[1])
            continue
        (idx_c, p_c), (idx_g, p_g) = cpu[fold], gpu[fold]
        if not np.array_equal(idx_c, idx_g) or p_c.shape != p_g.shape:
            r["unpaired_folds"].append(fold[1] + " (other test utterances)")
            continue
        r["max_abs_diff"] = max(r["max_abs_diff"], float(np.max(np.abs(p_g - p_c), initial=0.0)))
        r["n"] += len(idx_c)
        r["argmax_changed"] += int(np.sum(p_g.argmax(1) != p_c.argmax(1)))
    rows["all"] = {"max_abs_diff": max((r["max_abs_diff"] for r in rows.values()), default=0.0),
                   "n": sum(r["n"] for r in rows.values()),
                   "argmax_changed": sum(r["argmax_changed"] for r in rows.values()),
                   "unpaired_folds": sum(len(r["unpaired_folds"]) for r in rows.values())}
    return rows


def table2_deltas(cpu_out, gpu_out) -> dict:
    """Per Table 2 row: GPU minus CPU accuracy and UA (fractions); a folder whose run stopped before
    its manifest (written last) is refused."""
    from ser_ref.files.atomic import require_complete

    require_complete(cpu_out), require_complete(gpu_out)
    cpu = json.loads(Path(cpu_out, "table2.json").read_text())["rows"]
    gpu = json.loads(Path(gpu_out, "table2.json").read_text())["rows"]
    return {k: {m: gpu[k][m] - cpu[k][m] for m in ("accuracy", "ua")} for k in cpu if k in gpu}


def manifest_timings(out) -> tuple[dict, int]:
    """(wall_time_s of the run's manifest, its worker processes: --jobs, else the machine's cores)."""
    m = json.loads(Path(out, "manifest.json").read_text())
    jobs = m.get("args", {}).get("jobs")
    workers = int(jobs) if jobs not in (None, "None") else int(m.get("machine", {}).get("cpu_count") or 1)
    return m["wall_time_s"], workers


def loso_speed(cpu_out, gpu_out, key="dense1+lstm2") -> dict:
    """The row's worker seconds on each device, and the GPU's speed-up over the 2-core CPU path:
    (CPU seconds / 2 folds at a time) over (GPU seconds / the GPU run's workers)."""
    (t_cpu, _), (t_gpu, gpu_workers) = manifest_timings(cpu_out), manifest_timings(gpu_out)
    c, g = t_cpu[f"fold-seconds:{key}"], t_gpu[f"fold-seconds:{key}"]
    return {"row": key, "cpu_fold_seconds": c, "gpu_fold_seconds": g, "gpu_workers": gpu_workers,
            "x_worker_seconds": c / g if g else None,
            "x_vs_2core": (c / TWO_CORES) / (g / gpu_workers) if g else None,
            "training_wall_s": {"cpu": t_cpu.get("training (wall)"), "gpu": t_gpu.get("training (wall)")}}


# ---------------------------------------------------------------- benchmark JSON
def largest(rows, stage, backend):
    """The timed row of (stage, backend) with the most work, or None."""
    ok = [r for r in rows if r["stage"] == stage and r["backend"] == backend and "seconds" in r]
    return max(ok, key=lambda r: r["work"], default=None)


def layer1_fraction(rows, stage) -> dict | None:
    """Fused layer 1 against the bare cuBLAS GEMM of its shape, at the largest size where both ran."""
    timed = {(r["size"], r["backend"]): r for r in rows if r["stage"] == stage and "seconds" in r}
    pairs = [(timed[s, "cupy-fused"], timed[s, "cuBLAS same shape"])
             for s, b in timed if b == "cupy-fused" and (s, "cuBLAS same shape") in timed]
    if not pairs:
        return None
    f, c = max(pairs, key=lambda p: p[0]["work"])
    return {"size": f["size"], "fraction": c["seconds"] / f["seconds"],
            "fused_gflops": f.get("gflops"), "cublas_gflops": c.get("gflops")}


def bench_targets(bench: dict) -> list[dict]:
    """The layer-1 and MFCC targets from a bench_gpu.py JSON (value None where the rows are missing)."""
    rows = bench["rows"]
    out = []
    for stage in ("layer1-f32", "layer1-int8"):
        fr = layer1_fraction(rows, stage)
        out.append({"target": f"layer1 {stage[7:]}: fused / cuBLAS same shape", "goal": ">= 50 %",
                    "value": None if fr is None else f"{100 * fr['fraction']:.1f} % at {fr['size']}",
                    "met": None if fr is None else fr["fraction"] >= 0.5})
    for backend in ("cupy-fused", "cupy-fused-resident"):
        r = largest(rows, "mfcc", backend)
        out.append({"target": f"mfcc {backend}: x real time", "goal": ">= 20000x",
                    "value": None if r is None else f"{r['throughput']:.0f}x at {r['size']}",
                    "met": None if r is None else r["throughput"] >= 20000})
    return out


def gpu_speedups(bench: dict) -> list[dict]:
    """Each GPU backend of each stage at its largest size: time, speed over the CPU path (Numba where the
    stage has it, else NumPy) and fraction of the device's measured ceiling."""
    rows = [r for r in bench["rows"] if r.get("device") == "gpu" and "seconds" in r]
    keys = sorted({(r["stage"], r["backend"]) for r in rows}, key=lambda k: [r["stage"] for r in rows].index(k[0]))
    return [largest(rows, *k) for k in keys]


def format_speedups(rows) -> str:
    lines = [f"{'stage':<12} {'size':<24} {'GPU backend':<20} {'time':>10} {'x CPU path':>10} {'ceiling':>8}"]
    for r in rows:
        x = f"{r['x_cpu_path']:10.1f}" if "x_cpu_path" in r else f"{'-':>10}"
        c = f"{100 * r['frac_of_ceiling']:7.1f}%" if "frac_of_ceiling" in r else f"{'-':>8}"
        lines.append(f"{r['stage']:<12} {r['size']:<24} {r['backend']:<20} {r['seconds'] * 1e3:7.2f} ms {x} {c}")
    return "\n".join(lines)


def reproduce_targets(cmp: dict, speed: dict, tol: float) -> list[dict]:
    a = cmp["all"]
    return [
        {"target": "lstm-loso: Dense1+LSTM2 vs 2-core CPU (quick run: indicative)", "goal": ">= 10x",
         "value": None if speed["x_vs_2core"] is None else
         f"{speed['x_vs_2core']:.1f}x (worker s: cpu {speed['cpu_fold_seconds']:.1f}, gpu {speed['gpu_fold_seconds']:.1f})",
         "met": None if speed["x_vs_2core"] is None else speed["x_vs_2core"] >= 10},
        {"target": "agreement: max |p_gpu - p_cpu| over every row", "goal": f"<= {tol:g}, no argmax change",
         "value": f"{a['max_abs_diff']:.3g}; argmax changed {a['argmax_changed']} of {a['n']}"
                  + (f"; {a['unpaired_folds']} unpaired folds" if a["unpaired_folds"] else ""),
         "met": a["n"] > 0 and a["max_abs_diff"] <= tol and a["argmax_changed"] == 0},
    ]


# ---------------------------------------------------------------- output
def format_targets(targets) -> str:
    mark = {True: "met", False: "NOT met", None: "no data"}
    lines = [f"{'target':<62} {'goal':<24} {'result':<8} value"]
    lines += [f"{t['target']:<62} {t['goal']:<24} {mark[t['met']]:<8} {t['value'] or '-'}" for t in targets]
    return "\n".join(lines)


def format_rows(cmp: dict) -> str:
    lines = [f"{'row':<18} {'max |p_gpu - p_cpu|':>20} {'argmax changed':>15} {'utterances':>11}"]
    lines += [f"{k:<18} {r['max_abs_diff']:>20.3g} {r['argmax_changed']:>15} {r['n']:>11}" for k, r in cmp.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", type=Path, help="bench/bench_gpu.py's results JSON")
    ap.add_argument("--cpu-out", type=Path, help="reproduce --device cpu output folder")
    ap.add_argument("--gpu-out", type=Path, help="reproduce --device gpu output folder")
    ap.add_argument("--cpu-cores", type=int, default=TWO_CORES, help="cores the CPU run was pinned to (recorded)")
    ap.add_argument("--tol", type=float, default=1e-5, help="largest |p_gpu - p_cpu| counted as float32 rounding")
    ap.add_argument("--json", type=Path, help="write everything here")
    args = ap.parse_args(argv)
    report, targets = {"cpu_cores": args.cpu_cores, "tol": args.tol}, []
    if args.bench:
        bench = json.loads(args.bench.read_text())
        targets += bench_targets(bench)
        speedups = gpu_speedups(bench)
        if speedups:
            print(format_speedups(speedups) + "\n")
        report["bench"] = {"file": args.bench.name, "complete": bench.get("complete", True),
                           "pending_stages": bench.get("pending_stages", [])}
    if args.cpu_out and args.gpu_out:
        cmp = compare_probas(args.cpu_out, args.gpu_out)
        speed = loso_speed(args.cpu_out, args.gpu_out)
        report.update(probabilities=cmp, table2_deltas=table2_deltas(args.cpu_out, args.gpu_out), loso_speed=speed)
        targets += reproduce_targets(cmp, speed, args.tol)
        print(format_rows(cmp) + "\n")
    report["targets"] = targets
    print(format_targets(targets) if targets else "nothing to report: no benchmark JSON and no pair of reproduce runs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
