"""Fault injection (issue 11): machine faults stop the run, a file's own fault leaves it out and is
counted, bad arguments are one line, user folders are never written, results never depend on --jobs.

Writes that fail are simulated with monkeypatched writers (the tests may run as root, which ignores
permissions, and mounting a tiny filesystem needs privileges).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_ref.files import atomic
from ser_ref.files.locations import REPO_ROOT
from ser_ref import corpora
from ser_ref.evaluation import feature_cache, feature_kinds
from ser_ref.commands import reproduce
from ser_ref.frontend.audio import decode_audio, load_audio
from ser_ref.corpora import synthetic
from ser_ref.errors import AudioError, CorpusError, MachineError, WeightsError

LAYER1 = feature_kinds.KINDS["layer1"]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The --quick synthetic corpus (48 files, 4 speakers), generated once, read-only to the runs."""
    return synthetic.generate(tmp_path_factory.mktemp("corpus"), seed=0, n_speakers=4, n_per_emotion=3)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_REF_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _quick(corpus, out, model_path, *extra):
    return ["--quick", "--corpus", "synthetic", "--root", str(corpus), "--out", str(out),
            "--model", str(model_path), "--chunks", "20", *extra]


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if "error" in ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------ 1. machine faults stop the run

@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EIO, None])
def test_a_failing_cache_write_stops_the_run(corpus, cache, model_path, tmp_path, monkeypatch, capsys, code):
    real_save = np.save
    # None: NumPy's own short-write error on a full disk, without an errno
    why = os.strerror(code) if code else "342016 requested and 107488 written"

    def failing_save(file, arr, *a, **kw):
        if "features" in str(file):
            raise OSError(code, why, str(file)) if code else OSError(why)
        return real_save(file, arr, *a, **kw)

    monkeypatch.setattr(np, "save", failing_save)
    out = tmp_path / "out"
    assert reproduce.main(_quick(corpus, out, model_path, "--jobs", "1")) == 3
    line = _one_error_line(capsys.readouterr().err)
    assert why in line and str(cache / "features") in line and "feature cache" in line
    assert not (out / "table2.md").exists() and not (out / "table2.json").exists()


def test_a_machine_fault_in_a_worker_stops_the_run(corpus, cache, model_path, tmp_path, capsys):
    cache.mkdir(parents=True)
    (cache / "features").write_text("a file where the cache wants a folder")  # works as root too
    out = tmp_path / "out"
    assert reproduce.main(_quick(corpus, out, model_path, "--jobs", "2")) == 3
    line = _one_error_line(capsys.readouterr().err)
    assert f"{cache / 'features'}/egemaps/" in line and "(feature cache" in line
    assert not (out / "table2.json").exists()


def test_a_failing_output_write_stops_the_run(corpus, cache, model_path, tmp_path, monkeypatch, capsys):
    real = atomic.write_text

    def full(path, text):
        if Path(path).name == "table2.md":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, text)

    monkeypatch.setattr(atomic, "write_text", full)
    assert reproduce.main(_quick(corpus, tmp_path / "out", model_path, "--jobs", "1")) == 3
    assert "table2.md: No space left on device" in _one_error_line(capsys.readouterr().err)


def test_an_unwritable_output_folder_is_found_before_any_work(corpus, cache, model_path, tmp_path, monkeypatch,
                                                              capsys):
    out = tmp_path / "ro"
    out.mkdir()
    real_open = os.open

    def read_only(path, flags, *a):
        if str(path).startswith(str(out)) and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *a)

    monkeypatch.setattr(atomic.os, "open", read_only)
    assert reproduce.main(_quick(corpus, out, model_path, "--jobs", "1")) == 3
    line = _one_error_line(capsys.readouterr().err)
    assert f"{out}/.ser_ref.lock: Permission denied (--out: the output folder must be writable" in line
    assert not (cache / "features").exists()  # stopped before computing anything


def test_file_faults_are_counted_in_the_table_header(corpus, cache, model_path, tmp_path):
    bad = tmp_path / "corpus"
    import shutil

    shutil.copytree(corpus, bad)
    victim = sorted(bad.rglob("*.wav"))[3]
    data = victim.read_bytes()
    victim.write_bytes(data[:len(data) // 3])  # truncated in a copy
    out = tmp_path / "out"
    assert reproduce.main(_quick(bad, out, model_path, "--jobs", "1")) == 0
    problems = json.loads((out / "problems.json").read_text())
    assert problems["n_items"] == 48 and problems["n_used"] == 47 and problems["n_left_out"] == 1
    assert problems["feature_errors"][0].startswith(f"{victim}: truncated: the header promises")
    assert (problems["entries_under_root"], problems["used"], problems["left_out"], problems["ignored"]) == (49, 47, 1, 1)
    assert "47 of 49 entries under the corpus root used; 1 left out, 1 ignored, see problems.json." \
        in (out / "table2.md").read_text()  # 48 files and manifest.json


# ------------------------------------------------------------- 2. user folders are never written

def test_root_without_corpus_is_an_error_and_writes_nothing(tmp_path, capsys):
    user = tmp_path / "my_corpus"
    user.mkdir()
    (user / "keep.txt").write_text("mine")
    before = _tree(user)
    with pytest.raises(SystemExit) as e:
        reproduce.main(["--root", str(user), "--quick", "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    assert "--root needs --corpus NAME" in capsys.readouterr().err
    assert _tree(user) == before and not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- 3. weights identity

def test_the_cache_keys_on_the_weight_file_loaded(model_path, tmp_path, rng):
    from ser_ref.deepspeech import Layer1, load_layer1

    npz = Path(load_layer1(model_path, verbose=False).source)
    layer = Layer1.from_weights(npz)
    assert layer.metadata["file_sha256"] == hashlib.sha256(npz.read_bytes()).hexdigest()
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["b1"] = arrays["b1"] + np.float32(0.5)  # same recorded source_sha256, other weights
    altered = tmp_path / "altered.npz"
    np.savez(altered, **arrays)
    try:
        other = Layer1.from_weights(altered)
    except WeightsError as exc:  # an integrity hash over the arrays caught it: fine too
        assert str(altered) in str(exc)
        return
    assert other.metadata["source_sha256"] == layer.metadata["source_sha256"]
    wav = tmp_path / "a.wav"
    sf.write(str(wav), rng.uniform(-0.3, 0.3, 8000).astype(np.float32), 16000)
    params = lambda lay: {"weights": lay.source, "weights_sha256": lay.metadata["file_sha256"],  # noqa: E731
                          "step_ms": 20, "mode": "float", "device": "cpu"}
    (a,), err_a = feature_cache.cached_features(wav, LAYER1, [params(layer)], tmp_path / "c")
    (b,), err_b = feature_cache.cached_features(wav, LAYER1, [params(other)], tmp_path / "c")
    assert err_a is None and err_b is None and a != b
    assert not np.array_equal(np.load(a), np.load(b))


def test_weights_that_change_during_the_run_are_refused(model_path, tmp_path, rng):
    from ser_ref.deepspeech import load_layer1

    layer = load_layer1(model_path, verbose=False)
    wav = tmp_path / "a.wav"
    sf.write(str(wav), rng.uniform(-0.3, 0.3, 8000).astype(np.float32), 16000)
    params = {"weights": layer.source, "weights_sha256": "0" * 64, "step_ms": 20, "mode": "float", "device": "cpu"}
    feature_kinds._layer1.cache_clear()
    with pytest.raises(WeightsError, match=r"changed during the run \(sha256 [0-9a-f]{12}\.\.\., the run started with 000000000000"):
        feature_cache.cached_features(wav, LAYER1, [params], tmp_path / "c")


def test_clip_and_sample_rate_are_checked():
    from ser_ref.deepspeech import Layer1

    W_q, b = np.ones((494, 4), np.int8), np.zeros(4, np.float32)
    for clip in (0.0, -1.0, float("nan")):
        with pytest.raises(WeightsError, match=r"w\.npz: layer 1 clip must be a positive finite number"):
            Layer1(W_q, 0.1, b, clip=clip, source="w.npz")
    d = {"W1_q": W_q, "W1_scale": 0.1, "b1": b, "clip": 20.0, "sample_rate": 8000, "win_len_ms": 32,
         "win_step_ms": 20, "alphabet": np.array(["a"]), "source_sha256": "x"}
    with pytest.raises(WeightsError, match=r"w\.npz: the model expects 8000 Hz audio, but the MFCC front end .* 16000 Hz"):
        Layer1._from_arrays(d, "w.npz")


def test_the_manifest_records_both_hashes_and_the_root_is_not_written(corpus, cache, model_path, tmp_path):
    out = tmp_path / "out"
    before = _tree(corpus)
    assert reproduce.main(_quick(corpus, out, model_path, "--jobs", "1")) == 0
    assert _tree(corpus) == before  # a synthetic --root is read, never written (item 2)
    model = json.loads((out / "manifest.json").read_text())["model"]
    weights = REPO_ROOT / model["weights_file"]  # recorded relative to the repository
    assert model["file_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert model["source_sha256"] == hashlib.sha256(Path(model_path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------------- 4. determinism

_LAYER1_BITS = """
import hashlib, sys, numpy as np
from ser_ref.deepspeech.layer1 import augment_bias, dense_relu_clip_fast
rng = np.random.default_rng(7)
Wb = augment_bias(rng.standard_normal((494, 2048)).astype(np.float32) * 0.05, rng.standard_normal(2048).astype(np.float32))
x = rng.standard_normal((3000, 494)).astype(np.float32)
print(",".join(hashlib.sha256(dense_relu_clip_fast(x[:n], Wb).tobytes()).hexdigest() for n in (2, 175, 700, 1500, 3000)))
"""


def test_layer1_bits_do_not_depend_on_the_blas_thread_count():
    runs = {}
    for threads in ("1", "2", "3"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "PYTHONPATH": str(REPO)}
        runs[threads] = subprocess.run([sys.executable, "-c", _LAYER1_BITS], env=env, capture_output=True,
                                       text=True, check=True).stdout
    assert runs["1"] == runs["2"] == runs["3"]


def test_jobs_1_and_jobs_2_give_byte_identical_tables(corpus, model_path, tmp_path, monkeypatch):
    tables, probas = [], []
    for jobs in ("1", "2"):
        monkeypatch.setenv("SER_REF_CACHE", str(tmp_path / f"cache{jobs}"))  # empty caches
        feature_kinds._layer1.cache_clear()
        out = tmp_path / f"out{jobs}"
        assert reproduce.main(_quick(corpus, out, model_path, "--jobs", jobs)) == 0
        tables.append((out / "table2.json").read_bytes())
        # the folds' probabilities too: a table of argmaxes on 48 files hides small differences
        probas.append({str(p.relative_to(out)): json.loads(p.read_text())["proba"]
                       for p in sorted((out / "folds").rglob("*.json"))})
    assert tables[0] == tables[1]
    assert len(probas[0]) == 24 and probas[0] == probas[1]


# ----------------------------------------------------------------- 5, 6. truncated and absurd audio

def _wav_bytes(x, subtype="PCM_16") -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="WAV", subtype=subtype)
    return buf.getvalue()


def test_a_truncated_wav_is_refused_with_the_durations(rng):
    data = _wav_bytes(rng.uniform(-0.5, 0.5, int(3.87 * 16000)).astype(np.float32))
    cut = data[:44 + int(1.29 * 16000) * 2]
    with pytest.raises(AudioError, match=r"^cut\.wav: truncated: the header promises 3\.87 s, 1\.29 s are there$"):
        decode_audio(cut, "cut.wav")
    assert decode_audio(data, "whole.wav").shape == (int(3.87 * 16000),)


def test_float_audio_far_beyond_full_scale_is_refused(tmp_path, rng):
    x = rng.uniform(-0.5, 0.5, 16000).astype(np.float32)
    x[100] = 1e20
    path = tmp_path / "loud.wav"
    path.write_bytes(_wav_bytes(x, "FLOAT"))
    with pytest.raises(AudioError, match=rf"^{path}: samples reach 1e\+20, far outside \[-1, 1\]"):
        load_audio(path)
    npys, err = feature_cache.cached_features(path, feature_kinds.KINDS["egemaps"], [{}], tmp_path / "c")
    assert npys == [] and err.startswith(f"{path}: samples reach 1e+20")
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").rglob("*.npy"))


def test_non_finite_features_are_never_cached(tmp_path, rng):
    path = tmp_path / "a.wav"
    path.write_bytes(_wav_bytes(rng.uniform(-0.5, 0.5, 8000).astype(np.float32)))
    kind = feature_kinds.FeatureKind("egemaps", lambda audio, prm: np.array([1.0, np.nan, 2.0]), per_frame=False)
    npys, err = feature_cache.cached_features(path, kind, [{}], tmp_path / "c")
    assert npys == [] and err == f"{path}: 1 of the 3 egemaps feature values are NaN or inf (absurd or degenerate audio?)"
    assert not list((tmp_path / "c").rglob("*.npy"))


@pytest.mark.parametrize("damage, why", [
    (lambda p: p.write_bytes(b"\x93NUMPY garbage"), "unreadable"),
    (lambda p: np.save(p, np.zeros(0, np.float32)), "expected a non-empty 1-D float array"),
    (lambda p: np.save(p, np.full(88, np.inf, np.float32)), "88 of the 88 egemaps feature values are NaN or inf"),
])
def test_a_bad_cache_entry_is_discarded_and_recomputed(tmp_path, rng, capsys, damage, why):
    path = tmp_path / "a.wav"
    path.write_bytes(_wav_bytes(rng.uniform(-0.5, 0.5, 8000).astype(np.float32)))
    kind = feature_kinds.FeatureKind("egemaps", lambda audio, prm: audio[:88] * 2, per_frame=False)
    (npy,), err = feature_cache.cached_features(path, kind, [{}], tmp_path / "c")
    good = np.load(npy)
    damage(Path(npy))
    (again,), err = feature_cache.cached_features(path, kind, [{}], tmp_path / "c")
    assert err is None and again == npy
    np.testing.assert_array_equal(np.load(again), good)
    msg = capsys.readouterr().err
    assert f"warning: {npy}: cached egemaps features " in msg and why in msg and "discarded and computed again" in msg


# --------------------------------------------------------------------------------- 7. arguments

@pytest.mark.parametrize("argv, message", [
    (["--chunks", "0"], "argument --chunks: 0 is out of range: a chunk length in frames must be in [1, 500]"),
    (["--chunks", "abc"], "argument --chunks: 'abc' is not an integer (a chunk length in frames)"),
    (["--chunks", "100000"], "argument --chunks: 100000 is out of range"),
    (["--chunks", "10,20,10"], "argument --chunks: 10 given more than once"),
    (["--seed", "-1"], "argument --seed: -1 is out of range: --seed must be in [0, 4294967295]"),
    (["--jobs", "0"], "argument --jobs: 0 is out of range: --jobs must be in [1, 256]"),
    (["--jobs", "-3"], "argument --jobs: -3 is out of range"),
    (["--scheduler", "nohost"], "argument --scheduler: 'nohost' is not HOST:PORT"),
])
def test_bad_arguments_stop_before_any_work(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        reproduce.main(["--quick", "--out", str(tmp_path / "o"), *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------ 8. messages, not tracebacks

def test_path_arguments_are_checked_first(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for argv, message in ((["--model", str(tmp_path)], f"--model {tmp_path}: is a folder"),
                          (["--model", str(tmp_path / "none.npz")], "none.npz: file not found"),
                          (["--out", str(a_file)], f"--out {a_file}: exists and is not a folder")):
        with pytest.raises(SystemExit) as e:
            reproduce.main(["--quick", *argv])
        assert e.value.code == 2 and message in capsys.readouterr().err


def test_an_unreachable_scheduler_is_said(corpus, cache, model_path, tmp_path, capsys):
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert reproduce.main(_quick(corpus, tmp_path / "o", model_path, "--scheduler", f"127.0.0.1:{port}")) == 2
    assert f"--scheduler 127.0.0.1:{port}: no Dask scheduler answered within 5 s" in _one_error_line(
        capsys.readouterr().err)


def test_debug_shows_the_traceback(tmp_path, capsys):
    assert reproduce.main(["--corpus", "emodb", "--root", str(tmp_path / "nope"), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "emodb: corpus root" in err.splitlines()[-1]


def test_the_exporter_names_a_bad_out(model_path, tmp_path, capsys, monkeypatch):
    from ser_ref.commands.export import main as export_main

    assert export_main(["export", "--model", str(model_path), "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path}: is a folder" in _one_error_line(capsys.readouterr().err)
    target = tmp_path / "ro" / "w.npz"

    def denied(*a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied", str(target.parent))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    assert export_main(["export", "--model", str(model_path), "--out", str(target)]) == 3
    assert f"{target}: Permission denied" in _one_error_line(capsys.readouterr().err)


def test_the_exporter_reuses_the_verified_download(model_path, tmp_path, monkeypatch, capsys):
    from ser_ref.files import locations
    from ser_ref.deepspeech import fetch, load
    from ser_ref.commands.export import main as export_main

    if hashlib.sha256(Path(model_path).read_bytes()).hexdigest() != fetch.MODEL_SHA256:
        pytest.skip("the model at hand is not the registry's armspeech-0.1.4")
    weights = tmp_path / "weights"
    (weights / "cache").mkdir(parents=True)
    (weights / load.REGISTRY_TFLITE).write_bytes(Path(model_path).read_bytes())  # verified earlier
    monkeypatch.delenv("SER_REF_MODEL", raising=False)
    monkeypatch.setattr(locations, "shared_model_path", lambda: None)
    monkeypatch.setattr(locations, "WEIGHTS_DIR", weights)

    assert export_main(["export", "--out", str(tmp_path / "w.npz")]) == 0
    assert (tmp_path / "w.npz").is_file() and "the verified registry download" in capsys.readouterr().out


# ---------------------------------------------------------------------- 9. concurrency and signals

def test_a_second_run_on_the_same_out_refuses_at_once(corpus, cache, model_path, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with atomic.folder_lock(out):
        assert reproduce.main(_quick(corpus, out, model_path, "--jobs", "1")) == 2
    assert f"{out}: in use by the run of pid {os.getpid()}" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", ["cross_corpus", "layers"])
def test_the_other_commands_refuse_a_held_out_folder_too(command, corpus, cache, model_path, tmp_path, capsys):
    """cross_corpus and layers hold the same lock as reproduce: a second run into a folder in use
    refuses with one line before any work, and the folder is left as it was."""
    from ser_ref.commands import cross_corpus, layers

    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # a finished folder: a refused run must not reopen it
    rav = tmp_path / "ravdess"  # a second corpus for cross_corpus: two actors, the four classes, 0.3-s tones
    for actor in (1, 2):
        for code in ("01", "03", "04", "05"):
            path = rav / f"Actor_{actor:02d}" / f"03-01-{code}-01-01-01-{actor:02d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), 0.1 * np.sin(2 * np.pi * 220 * np.arange(4800) / 16000), 16000)
    argv = {"cross_corpus": ["--corpus", f"synthetic={corpus}", "--corpus", f"ravdess={rav}"],
            "layers": ["--corpus", "synthetic", "--root", str(corpus)]}[command]
    main = {"cross_corpus": cross_corpus.main, "layers": layers.main}[command]
    with atomic.folder_lock(out):
        assert main([*argv, "--quick", "--jobs", "1", "--model", str(model_path), "--out", str(out)]) == 2
    assert f"{out}: in use by the run of pid {os.getpid()}" in _one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
    assert not (out / ".ser_ref.lock").exists()


def test_a_stale_lock_is_said_and_taken_over(tmp_path, capsys):
    import socket

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".ser_ref.lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with atomic.folder_lock(tmp_path):
        assert json.loads((tmp_path / ".ser_ref.lock").read_text())["pid"] == os.getpid()
    assert f"{tmp_path}/.ser_ref.lock: stale lock of a run that is gone" in capsys.readouterr().err


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _gone_soon(pids, seconds: float = 10) -> list[int]:
    """The pids still running after ``seconds`` (killed then, so that a failing test leaves none)."""
    deadline = time.monotonic() + seconds
    while any(_running(w) for w in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [w for w in pids if _running(w)]
    for w in survivors:
        os.kill(w, signal.SIGKILL)
    return survivors


def _start_jobs2_run(corpus, model_path, out, cache):
    env = {**os.environ, "PYTHONPATH": str(REPO), "SER_REF_CACHE": str(cache)}
    argv = [sys.executable, "-m", "ser_ref.commands.reproduce", *_quick(corpus, out, model_path, "--jobs", "2")]
    argv[argv.index("--chunks") + 1] = "5,10,20"  # enough folds to be interrupted in the middle
    # SIGINT back to its default in the child: a shell that starts the test run in the background
    # (`cmd &` without job control) leaves SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler, so the run would ignore the test's Ctrl-C
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:  # wait until the folds are being trained by the workers
        if line.startswith("training "):
            break
    workers = set()
    for _ in range(100):  # the pool's workers, not multiprocessing's resource tracker
        workers = {c for c in _children(proc.pid) if _running(c) and b"spawn_main" in _cmdline(c)}
        if len(workers) >= 2:
            break
        time.sleep(0.1)
    return proc, workers


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the workers")
def test_workers_die_with_a_killed_parent(corpus, model_path, tmp_path):
    proc, workers = _start_jobs2_run(corpus, model_path, tmp_path / "out", tmp_path / "cache")
    assert workers, "no worker processes seen"
    proc.kill()
    proc.wait()
    assert not _gone_soon(workers)  # they poll their parent every 0.5 s


# SIGINT and SIGTERM: tests/test_run_endings.py (one test, both signals)


# ------------------------------------------------------------------------------------ 10. smaller

def test_flac_ogg_and_upper_case_wav_are_read(tmp_path, rng):
    x = rng.uniform(-0.3, 0.3, 8000).astype(np.float32)
    for name, fmt in (("03-01-05-01-01-01-01.flac", "FLAC"), ("03-01-04-01-01-01-01.ogg", "OGG"),
                      ("03-01-03-01-01-01-01.WAV", "WAV")):
        (tmp_path / "Actor_01").mkdir(exist_ok=True)
        sf.write(str(tmp_path / "Actor_01" / name), x, 16000, format=fmt)
    items = corpora.load("ravdess", tmp_path)
    assert sorted(it.label for it in items) == ["anger", "happiness", "sadness"]
    assert all(load_audio(it.path).shape[0] > 7000 for it in items)


def test_load_with_no_root_is_a_corpus_error():
    with pytest.raises(CorpusError, match=r"^ravdess: no corpus root given \(root=None\)"):
        corpora.load("ravdess", None)


def test_integer_samples_are_refused_with_the_fix(rng):
    from ser_ref.egemaps import egemaps
    from ser_ref.frontend.tf_mfcc import mfcc

    x = (rng.uniform(-0.5, 0.5, 16000) * 32767).astype(np.int16)
    for fn in (mfcc, egemaps):
        with pytest.raises(AudioError, match=r"integer samples \(int16\) would be used unscaled; .*divide by 32768"):
            fn(x, 16000)


def test_machine_error_is_an_os_error_naming_the_path():
    from ser_ref.errors import machine_error

    err = machine_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "feature cache", "/c/x.npy")
    assert isinstance(err, MachineError) and str(err) == "/c/x.npy: No space left on device (feature cache; free some space)"
    assert str(machine_error(err, "other")) == "/c/x.npy: No space left on device (other; free some space)"


def test_speaker_names_print_plainly(cache, model_path, tmp_path, rng, capsys):
    root = tmp_path / "ravdess" / "Actor_01"
    root.mkdir(parents=True)
    for emo in ("01", "03", "04", "05"):
        sf.write(str(root / f"03-01-{emo}-01-01-01-01.wav"), rng.uniform(-0.3, 0.3, 16000).astype(np.float32), 16000)
    argv = ["--quick", "--corpus", "ravdess", "--root", str(root.parent), "--out", str(tmp_path / "o"),
            "--model", str(model_path), "--jobs", "1"]
    assert reproduce.main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.endswith("needs at least 2 speakers; the usable files hold only ravdess01") and "np.str_" not in line
