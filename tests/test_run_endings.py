"""Every way a run ends is said plainly and leaves the folder honest (issue 25, item 3): a worker
killed by pid (as the OOM killer does) is exit 3 with one line; SIGTERM ends a run as SIGINT does
(finished work kept, lock released) with exit 143; arguments are refused before any work; an output
folder without its manifest is incomplete, and a full disk during the report leaves none; the weak
messages of the fault probe name the setting and what is wrong.
"""
from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path

import pytest

from ser_ref.commands import audit, reproduce, train
from ser_ref.corpora import synthetic
from ser_ref.files import atomic, locations
from test_faults import _gone_soon, _quick, _start_jobs2_run

LINUX_PROC = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the workers")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The --quick synthetic corpus (48 files, 4 speakers), generated once, read-only to the runs."""
    return synthetic.generate(tmp_path_factory.mktemp("corpus"), seed=0, n_speakers=4, n_per_emotion=3)


# ------------------------------------------------------------------------- a worker that dies

@LINUX_PROC
def test_a_worker_killed_by_pid_is_a_machine_fault_with_one_line(corpus, model_path, tmp_path):
    proc, workers = _start_jobs2_run(corpus, model_path, tmp_path / "out", tmp_path / "cache")
    assert workers, "no worker processes seen"
    assert proc.poll() is None, "the run ended before a worker could be killed: give it more work"
    os.kill(min(workers), signal.SIGKILL)
    rest = proc.communicate(timeout=60)[0]
    errors = [ln for ln in rest.splitlines() if "error" in ln]
    assert proc.returncode == 3, rest
    assert len(errors) == 1 and "Traceback" not in rest, rest
    assert errors[0].startswith("reproduce: error: a worker process died (killed by SIGKILL"), errors[0]
    assert "re-run the same command (the same --out) to resume" in errors[0]
    assert not (tmp_path / "out" / ".ser_ref.lock").exists()
    assert not _gone_soon(workers, 5)


# -------------------------------------------------------------------------------------- SIGTERM

@LINUX_PROC
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_keeps_finished_folds_releases_the_lock_and_exits_128_plus_it(sig, code, corpus, model_path,
                                                                               tmp_path):
    """Ctrl-C and SIGTERM (`docker stop`, a scheduler) end a run the same way, to the pid alone."""
    import time

    out = tmp_path / "out"
    proc, workers = _start_jobs2_run(corpus, model_path, out, tmp_path / "cache")
    deadline = time.monotonic() + 120
    while not list((out / "folds").rglob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)  # until some folds have finished
    before = len(list((out / "folds").rglob("*.json")))
    assert proc.poll() is None, "the run ended before it could be stopped: give it more work"
    assert (out / ".ser_ref.lock").exists()
    os.kill(proc.pid, sig)
    rest = proc.communicate(timeout=30)[0]
    assert proc.returncode == code, rest
    assert "re-run the same command with the same --out to resume" in rest and "Traceback" not in rest
    assert not (out / ".ser_ref.lock").exists()
    assert not (out / "manifest.json").exists()
    assert not _gone_soon(workers, 2)  # terminated by the parent before it exits
    kept = list((out / "folds").rglob("*.json"))
    assert before > 0 and len(kept) >= before and all(json.loads(p.read_text())["proba"] for p in kept)


def test_sigterm_in_process_is_said_and_the_handler_restored(capsys):
    from ser_ref.commands.common import cli_main

    before = signal.getsignal(signal.SIGTERM)

    def run(argv):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        return 0

    import time

    assert cli_main(run, [], prog="demo") == 143
    assert "demo: terminated (SIGTERM); finished work is kept" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before


# ------------------------------------------------------------------- arguments before any work

def _refused(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("extra, message", [
    (["--seed", "-1"], "--seed must be in [0, 4294967295]"),
    (["--jobs", "0"], "--jobs must be in [1, 256]"),
    (["--model-out", "."], "--model-out .: is a folder; give the .npz file to write"),
])
def test_train_refuses_bad_arguments_at_parse_time(extra, message, capsys, tmp_path):
    argv = ["--corpus", "synthetic", "--system", "dense", "--model-out", str(tmp_path / "m.npz"), *extra]
    assert message in _refused(train.parse_args, argv, capsys)
    assert not (tmp_path / "m.npz").exists()


def test_explain_and_predict_refuse_a_missing_input_or_model_file_at_parse_time(tmp_path, capsys):
    from ser_ref.commands import explain, predict

    wav = tmp_path / "x.wav"
    wav.write_bytes(b"")
    assert _refused(explain.parse_args, [str(tmp_path / "no.wav")], capsys).endswith(f"{tmp_path}/no.wav: file not found")
    assert _refused(explain.parse_args, [str(wav), "--model-file", str(tmp_path)], capsys).endswith(
        f"--model-file {tmp_path}: is a folder; give the file itself")
    assert _refused(predict.parse_args, ["--model-file", str(tmp_path / "m.npz"), str(wav)], capsys).endswith(
        f"--model-file {tmp_path}/m.npz: file not found")


def test_audit_says_the_synthetic_corpus_takes_no_root(tmp_path, capsys):
    err = _refused(audit.parse_args, ["--corpus", "synthetic", "--root", str(tmp_path)], capsys)
    assert "--root: not used with --corpus synthetic" in err, err


def test_leave_out_lists_the_valid_speakers():
    from ser_ref.corpora import Item
    from ser_ref.errors import SerRefError

    items = [Item(Path(f"{s}.wav"), s, "anger") for s in ("Actor_01", "Actor_02")]
    with pytest.raises(SerRefError, match=r"no speaker 01 in the corpus; its speakers are Actor_01, Actor_02"):
        train._without_speakers(items, "01")


@pytest.mark.parametrize("make", ["file", "under a file"])
def test_a_cache_setting_that_is_a_file_is_said(tmp_path, monkeypatch, make):
    f = tmp_path / "afile"
    f.write_text("x")
    monkeypatch.setenv("SER_REF_CACHE", str(f if make == "file" else f / "sub"))
    from ser_ref.errors import UsageError

    with pytest.raises(UsageError, match=rf"SER_REF_CACHE={f}.*: {f} is a file, not a folder"):
        locations.cache_dir()


# ------------------------------------------------------------------------ an honest output folder

def _disk_fills_at(monkeypatch, out: Path, n: int | None) -> list:
    """atomic.write_bytes raising ENOSPC at the n-th write into ``out`` itself other than problems.json
    (the report's writes; None: never); returns the names written there, in order."""
    real, seen = atomic.write_bytes, []

    def write_bytes(path, data):
        path = Path(path)
        if path.parent == out and path.name != "problems.json":
            seen.append(path.name)
            if len(seen) == n:
                raise atomic.machine_error(OSError(errno.ENOSPC, "No space left on device"), "output folder", path)
        real(path, data)

    monkeypatch.setattr(atomic, "write_bytes", write_bytes)
    return seen


def test_a_full_disk_during_the_report_leaves_no_complete_looking_folder(corpus, cache, model_path, tmp_path,
                                                                         monkeypatch, capsys):
    out = tmp_path / "out"
    argv = _quick(corpus, out, model_path, "--jobs", "1")
    report = _disk_fills_at(monkeypatch, out, None)
    assert reproduce.main(argv) == 0
    assert report[-1] == "manifest.json", report   # the report's last write marks the folder complete
    first = json.loads((out / "table2.json").read_text())
    for n in range(1, len(report) + 1):  # the disk fills at each write of the report in turn
        _disk_fills_at(monkeypatch, out, n)
        assert reproduce.main(argv) == 3, n
        assert not (out / "manifest.json").exists(), n
        assert "No space left on device" in capsys.readouterr().err
    _disk_fills_at(monkeypatch, out, None)
    assert reproduce.main(argv) == 0
    said = capsys.readouterr().out
    assert "resuming an incomplete folder" in said, said
    assert (out / "manifest.json").exists()
    assert json.loads((out / "table2.json").read_text())["rows"] == first["rows"]


def test_folder_state_says_incomplete_without_the_manifest(tmp_path):
    assert atomic.folder_state(tmp_path) == "empty"
    (tmp_path / "table2.md").write_text("| a table |")
    assert atomic.folder_state(tmp_path) == "incomplete"
    with pytest.raises(Exception, match="incomplete: no manifest.json"):
        atomic.require_complete(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    assert atomic.folder_state(tmp_path) == "complete"
    atomic.require_complete(tmp_path)
