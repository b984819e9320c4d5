"""End-to-end: the --quick pipeline runs, writes every report, and resumes to identical numbers."""
import json
import shutil

import pytest

from ser_ref.commands import reproduce


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, model_path, cache):
    out = tmp_path_factory.mktemp("run")
    args = ["--quick", "--out", str(out), "--jobs", "1", "--model", str(model_path)]
    assert reproduce.main(args) == 0
    return out, args


def test_quick_run_writes_every_report(quick_run):
    out, argv = quick_run
    for name in ("table2.md", "table2.json", "figure3.json", "per_speaker.csv", "manifest.json", "problems.json"):
        assert (out / name).stat().st_size > 0, name
    table = json.loads((out / "table2.json").read_text())
    assert list(table["rows"]) == ["majority", "rf-egemaps", "dense", "lstm", "dense1+dense2", "dense1+lstm2"]
    for r in table["rows"].values():
        assert 0.0 <= r["accuracy"] <= 1.0
        assert r["accuracy_ci95"][0] <= r["accuracy"] <= r["accuracy_ci95"][1]
        assert sum(map(sum, r["confusion"])) == table["n_utterances"]
    assert "SYNTHETIC" in (out / "table2.md").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["corpus"]["synthetic"] is True and manifest["wall_time_s"]["total"] > 0
    # the command this run parsed (not pytest's own command line), its output folder as <out> (no
    # absolute path of this machine), and the machine's BLAS kernels
    assert manifest["command"].startswith("python -m ser_ref.reproduce --quick --out '<out>' --jobs 1 --model ")
    assert str(out) not in json.dumps(manifest)
    assert "openblas_kernels" in manifest["machine"]


def test_resume_recomputes_missing_folds_identically(quick_run):
    out, args = quick_run
    before = json.loads((out / "table2.json").read_text())
    folds = sorted((out / "folds").rglob("*.json"))
    for f in folds[::3]:  # as if the run had been killed before these folds finished
        f.unlink()
    assert reproduce.main(args) == 0
    after = json.loads((out / "table2.json").read_text())
    assert after["rows"] == before["rows"]


def test_missing_corpus_root_is_a_clear_error(tmp_path, capsys):
    assert reproduce.main(["--corpus", "emodb", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "nope" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # stopped before writing anything


def test_every_loadable_corpus_can_be_reproduced():
    """--corpus accepts every name corpora.load accepts (the URDU loader came after the CLI)."""
    from ser_ref import corpora

    for name in corpora.NAMES:
        assert reproduce.parse_args(["--corpus", name, "--root", f"/no/such/{name}"]).corpus == name


def test_a_corrupt_file_is_left_out_and_named(quick_run, cache, model_path, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(cache / "corpora" / "synthetic-quick-seed0", corpus)
    victim = sorted(corpus.rglob("*.wav"))[5]
    victim.write_bytes(b"RIFF this is no longer audio" * 20)
    out = tmp_path / "out"
    assert reproduce.main(["--quick", "--corpus", "synthetic", "--root", str(corpus), "--out", str(out), "--jobs", "1",
                           "--model", str(model_path), "--chunks", "20"]) == 0
    problems = json.loads((out / "problems.json").read_text())
    assert problems["n_used"] == problems["n_items"] - 1
    errors = problems["feature_errors"]
    assert len(errors) == 1 and "unreadable or not audio" in errors[0] and errors[0].startswith(str(victim))
    assert json.loads((out / "table2.json").read_text())["n_utterances"] == problems["n_used"]


def test_folds_run_on_a_dask_cluster_with_the_same_numbers(quick_run, model_path, tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask's distributed is not installed ('ser_ref[distributed]')")
    out, _ = quick_run
    before = json.loads((out / "table2.json").read_text())["rows"]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        assert reproduce.main(["--quick", "--out", str(tmp_path / "dask"), "--model", str(model_path),
                               "--scheduler", cluster.scheduler_address]) == 0
    after = json.loads((tmp_path / "dask" / "table2.json").read_text())["rows"]
    assert {k: v["accuracy"] for k, v in after.items()} == {k: v["accuracy"] for k, v in before.items()}
