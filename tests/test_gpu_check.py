"""bench/gpu_check.sh without a GPU (its dry run), and the arithmetic of bench/gpu_report.py.

The check itself needs the lent GPU machine (docs/gpu.md); these tests keep the one prepared call
from failing on anything a CPU machine can see.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("setup", "pytest", "bench", "repro-gpu", "repro-cpu", "report")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report():
    return _load("gpu_report")


def _dry_run(tmp_path, cwd=ROOT):
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, "PYTHONPATH": str(ROOT),
           "GPU_CHECK_NVIDIA_SMI": str(tmp_path / "no-such-nvidia-smi")}  # no GPU, on any machine
    return subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh")], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bench/gpu_check.sh is a bash script")
def test_dry_run_skips_every_gpu_step_with_the_reason_and_exits_0(tmp_path):
    r = _dry_run(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    reason = f"dry run, GPU steps skipped: no NVIDIA GPU on this machine ({tmp_path / 'no-such-nvidia-smi'} not found)"
    assert reason in r.stdout
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert reason in summary
    for step in STEPS:
        assert re.search(rf"^{re.escape(step)}\s+SKIP\s", summary, re.M), f"{step} not skipped:\n{summary}"
    assert not re.search(r"\b(PASS|FAIL|TIMEOUT)\b", summary)
    # what comes back from a device call: at most 8 files, at most 2 folders down
    files = [p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert 0 < len(files) <= 8 and all(len(p.parts) <= 3 for p in files)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bench/gpu_check.sh is a bash script")
def test_refuses_to_run_outside_the_repository_root(tmp_path):
    r = _dry_run(tmp_path, cwd=tmp_path)
    assert r.returncode == 2 and "run me in the repository root" in r.stderr


def _reproduce_folder(path: Path, probas: dict, fold_seconds: dict, jobs="1", cpu_count=2, rows=None):
    """A reproduce output folder as gpu_report reads it: folds/<key>/<fold>.json, manifest, table2."""
    path.mkdir(parents=True)
    for (key, fold), (idx, p) in probas.items():
        (path / "folds" / key).mkdir(parents=True, exist_ok=True)
        (path / "folds" / key / fold).write_text(json.dumps({"test_idx": idx, "proba": p}))
    timings = {f"fold-seconds:{k}": v for k, v in fold_seconds.items()}
    (path / "manifest.json").write_text(json.dumps({"args": {"jobs": jobs}, "machine": {"cpu_count": cpu_count},
                                                    "wall_time_s": timings}))
    (path / "table2.json").write_text(json.dumps({"rows": rows or {"dense": {"accuracy": 0.5, "ua": 0.5}}}))
    return path


def test_compare_probas_max_difference_argmax_changes_and_unpaired_folds(tmp_path, report):
    p = [[0.25, 0.25, 0.25, 0.25], [0.5, 0.25, 0.125, 0.125]]
    q = [[0.25 + 2**-20, 0.25 - 2**-20, 0.25, 0.25], [0.5, 0.25, 0.125, 0.125]]  # differs by 2^-20 exactly
    flip = [[0.25, 0.25, 0.25, 0.25], [0.125, 0.25, 0.5, 0.125]]  # the second utterance's argmax moves 0 -> 2
    cpu = _reproduce_folder(tmp_path / "cpu", {("a", "000-s1.json"): ([0, 1], p), ("b", "000-s1.json"): ([0, 1], p),
                                               ("b", "001-s2.json"): ([2, 3], p)}, {})
    gpu = _reproduce_folder(tmp_path / "gpu", {("a", "000-s1.json"): ([0, 1], q), ("b", "000-s1.json"): ([0, 1], flip)},
                            {})
    got = report.compare_probas(cpu, gpu)
    assert got["a"] == {"max_abs_diff": 2**-20, "n": 2, "argmax_changed": 0, "unpaired_folds": []}
    assert got["b"] == {"max_abs_diff": 0.375, "n": 2, "argmax_changed": 1, "unpaired_folds": ["001-s2.json"]}
    assert got["all"] == {"max_abs_diff": 0.375, "n": 4, "argmax_changed": 1, "unpaired_folds": 1}
    agreement = report.reproduce_targets(got, {"x_vs_2core": None}, tol=1e-5)[1]
    assert agreement["met"] is False


def test_loso_speed_against_the_two_core_cpu_path(tmp_path, report):
    cpu = _reproduce_folder(tmp_path / "cpu", {}, {"dense1+lstm2": 40.0}, jobs="2")
    gpu = _reproduce_folder(tmp_path / "gpu", {}, {"dense1+lstm2": 1.0}, jobs="1")
    s = report.loso_speed(cpu, gpu)
    assert s["x_worker_seconds"] == 40.0 and s["x_vs_2core"] == 20.0  # 40 s on 2 cores: 20 s of wall
    # --jobs left to its default: the GPU run's workers are its machine's cores (4 folds at a time)
    gpu4 = _reproduce_folder(tmp_path / "gpu4", {}, {"dense1+lstm2": 1.0}, jobs="None", cpu_count=4)
    assert report.loso_speed(cpu, gpu4)["x_vs_2core"] == 80.0


def _row(stage, size, backend, work, seconds=None, **kw):
    r = {"stage": stage, "size": size, "backend": backend, "work": work, **kw}
    if seconds is None:
        r["skipped"] = "no GPU"
    else:
        r.update(seconds=seconds, throughput=work / seconds)
    return r


def test_bench_targets_read_the_largest_size_that_ran(report):
    rows = [_row("layer1-f32", "small", "cupy-fused", 10, 2.0), _row("layer1-f32", "small", "cuBLAS same shape", 10, 1.0),
            _row("layer1-f32", "large", "cupy-fused", 100, 4.0), _row("layer1-f32", "large", "cuBLAS same shape", 100, 3.0),
            _row("layer1-int8", "large", "cupy-fused", 100), _row("layer1-int8", "large", "cuBLAS same shape", 100, 3.0),
            _row("mfcc", "16", "cupy-fused", 56.0, 0.056), _row("mfcc", "128", "cupy-fused", 448.0, 0.0149)]
    t = {x["target"].split(":")[0]: x for x in report.bench_targets({"rows": rows})}
    assert t["layer1 f32"]["met"] is True and t["layer1 f32"]["value"] == "75.0 % at large"
    assert t["layer1 int8"]["met"] is None  # the fused row did not run: no data, not a pass
    assert t["mfcc cupy-fused"]["met"] is True and t["mfcc cupy-fused"]["value"].startswith("30067x at 128")
    assert t["mfcc cupy-fused-resident"]["met"] is None


def test_gpu_speedups_one_row_per_gpu_backend_at_its_largest_size(report):
    rows = [_row("mfcc", "16", "numba", 56.0, 1.0, device="cpu"),
            _row("mfcc", "16", "cupy-fused", 56.0, 0.01, device="gpu", x_cpu_path=100.0),
            _row("mfcc", "128", "cupy-fused", 448.0, 0.02, device="gpu", x_cpu_path=400.0),
            _row("mfcc", "1024", "cupy-fused", 3584.0, device="gpu"),  # skipped: not timed
            _row("forest", "672", "cupy-fused", 672, 0.001, device="gpu")]
    got = report.gpu_speedups({"rows": rows})
    assert [(r["stage"], r["size"]) for r in got] == [("mfcc", "128"), ("forest", "672")]
    assert "400.0" in report.format_speedups(got)


def test_report_command_writes_every_target(tmp_path, report):
    cpu = _reproduce_folder(tmp_path / "cpu", {("a", "000-s1.json"): ([0], [[0.5, 0.5, 0.0, 0.0]])}, {"dense1+lstm2": 30.0})
    gpu = _reproduce_folder(tmp_path / "gpu", {("a", "000-s1.json"): ([0], [[0.5, 0.5, 0.0, 0.0]])}, {"dense1+lstm2": 1.0})
    bench = tmp_path / "nvidia-x.json"
    bench.write_text(json.dumps({"rows": [], "complete": False, "pending_stages": ["forest"]}))
    out = tmp_path / "report.json"
    assert report.main(["--bench", str(bench), "--cpu-out", str(cpu), "--gpu-out", str(gpu), "--json", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert [t["met"] for t in saved["targets"]] == [None, None, None, None, True, True]
    assert saved["bench"]["pending_stages"] == ["forest"] and saved["table2_deltas"]["dense"] == {"accuracy": 0.0, "ua": 0.0}


def test_bench_keeps_the_stages_it_finished(tmp_path):
    """A stage whose set-up raises becomes a row saying so; the JSON written after each stage says
    which stages are still pending (what a run stopped at its time limit leaves)."""
    bench = _load("bench_gpu")
    b = bench.Bench(repeats=1, cpu_budget=1)

    def broken():
        raise RuntimeError("cuFFT plan failed")

    bench.run_stage(b, "mfcc", broken)
    out = tmp_path / "r.json"
    bench.save(out, "python bench/bench_gpu.py", {"gpu": None}, b.rows, complete=False, pending=["forest"])
    saved = json.loads(out.read_text())
    assert saved["complete"] is False and saved["pending_stages"] == ["forest"]
    assert saved["rows"][0]["skipped"] == "stage failed: RuntimeError: cuFFT plan failed"
