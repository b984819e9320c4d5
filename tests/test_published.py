"""What is published stays true to its data: every generated block of README.md and docs/*.md is
what ``python -m ser_ref.publish --render-only`` makes of the JSON in docs/results/ (so a number
typed by hand, or left behind by a re-run, fails here), and every results folder holds a manifest
whose git commit is in this repository's history (so each result can be traced to the code that
made it). Nothing here skips: without docs/results, or outside a git checkout, the tests fail."""
from __future__ import annotations

import difflib
import json
import subprocess

import pytest

from ser_ref.commands.publish import PENDING, RESULTS, experiments, pages
from ser_ref.evaluation import published
from ser_ref.files.locations import REPO_ROOT

RESULTS_DIR = REPO_ROOT / RESULTS


def _folders() -> list[str]:
    """Every published experiment and every folder actually in docs/results."""
    present = [p.name for p in sorted(RESULTS_DIR.iterdir()) if p.is_dir()] if RESULTS_DIR.is_dir() else []
    return list(dict.fromkeys([*experiments(), *present]))


def test_the_results_folder_is_there():
    assert RESULTS_DIR.is_dir(), f"{RESULTS}: missing; python -m ser_ref.publish makes it"


def test_the_front_page_numbers_are_generated():
    names = published.block_names((REPO_ROOT / "README.md").read_text())
    assert {"ravdess-table2", "findings"} <= set(names), names


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_every_generated_block_equals_its_json(page):
    text = page.read_text()
    new, missing = published.render_page(page, RESULTS_DIR)
    assert not missing, missing
    diff = "\n".join(list(difflib.unified_diff(text.splitlines(), new.splitlines(), "on disk", "from the JSON",
                                               lineterm="", n=0))[:40])
    assert new == text, f"{page.name}: generated blocks differ from the JSON (python -m ser_ref.publish " \
                        f"--render-only rewrites them):\n{diff}"


def _in_history(commit: str) -> bool:
    rc = subprocess.run(["git", "-C", str(REPO_ROOT), "merge-base", "--is-ancestor", commit, "HEAD"],
                        capture_output=True).returncode
    return rc == 0


def test_the_history_check_tells_a_commit_of_ours_from_another():
    first = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-list", "--max-parents=0", "HEAD"],
                           capture_output=True, text=True).stdout.split()[0]
    assert _in_history(first) and not _in_history("0123456789abcdef0123456789abcdef01234567")


def test_publish_dry_run_prints_the_command_lines_and_writes_nothing(capsys):
    from ser_ref.commands.publish import main

    before = {p: p.read_text() for p in pages()}
    assert main(["--only", "cross-corpus-speaker", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "python -m ser_ref.cross_corpus --corpus ravdess=" in out and "--normalize speaker" in out
    assert "--out docs/results/cross-corpus-speaker" in out
    assert {p: p.read_text() for p in pages()} == before


def test_this_is_a_git_checkout():
    rc = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True).returncode
    assert rc == 0, "not a git checkout: the published results' commits cannot be checked"


@pytest.mark.parametrize("name", [n for n in _folders() if n not in PENDING])
def test_every_results_folder_has_a_manifest_from_this_history(name):
    folder = RESULTS_DIR / name
    rerun = f"python -m ser_ref.publish --only {name}"
    assert folder.is_dir(), f"{RESULTS}/{name}: missing ({rerun})"
    assert (folder / "manifest.json").is_file(), f"{RESULTS}/{name}: no manifest.json ({rerun})"
    commit = json.loads((folder / "manifest.json").read_text()).get("git_commit")
    assert commit, f"{RESULTS}/{name}/manifest.json: no git_commit ({rerun})"
    assert _in_history(commit), f"{RESULTS}/{name}/manifest.json: git_commit {commit} is not in this " \
                                f"repository's history ({rerun})"


def test_a_pending_experiment_is_said_to_be_pending_where_its_results_are_read():
    """An experiment publish has not (re)made on this code is named, with its command, on the results
    page (one loop, not a parametrisation: with nothing pending it has nothing to check, and must not
    read as a skip in strict CI)."""
    text = (REPO_ROOT / "docs" / "results.md").read_text()
    for name in sorted(PENDING):
        assert name in experiments(), f"PENDING names {name}, which is not an experiment"
        assert f"python -m ser_ref.publish --only {name}" in text, f"docs/results.md does not say that {name} is pending"


# ------------------------------------------------------------------ the renderers on both JSON forms
def _write(folder, table2: dict, manifest: dict):
    folder.mkdir(parents=True)
    (folder / "table2.json").write_text(json.dumps(table2))
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _row(acc, **more):
    return {"accuracy": acc, "ua": acc, "macro_f1": acc, "accuracy_ci95": [acc - 0.05, acc + 0.05],
            "ua_ci95": [acc - 0.05, acc + 0.05], "mcnemar_p_vs_rf": None, **more}


def test_table2_block_reads_todays_one_seed_json(tmp_path):
    _write(tmp_path / "ravdess", {"corpus": "ravdess", "n_utterances": 8, "rows": {"dense": _row(0.625)}},
           {"settings": {"seed": 0}, "args": {"step_ms": "20"}, "model": {"source_sha256": "00" * 32}})
    block = published.render_block("ravdess-table2", tmp_path, "results")
    row = block.splitlines()[-1].split(" | ")
    assert row[2:8] == ["62.5", "[57.5, 67.5]", "n/a", "62.5", "[57.5, 67.5]", "n/a"], row
    assert "seed 0" in block and "not IEMOCAP" in block and "MFCC step 20 ms" in block
    assert "a DeepSpeech-architecture model of sha256 000000000000" in block


def test_table2_block_reads_the_multi_seed_json(tmp_path):
    from ser_ref.deepspeech.fetch import MODEL_SHA256

    per_seed = {str(s): {"accuracy": a, "ua": a, "macro_f1": a} for s, a in enumerate((0.6, 0.7))}
    row = _row(0.65, per_seed=per_seed, accuracy_mean=0.65, accuracy_sd=0.0707, ua_mean=0.6, ua_sd=0.01,
               accuracy_ci95_speaker=[0.5, 0.8], ua_ci95_speaker=[0.4, 0.7], p_speaker_vs_rf=0.031)
    _write(tmp_path / "ravdess", {"corpus": "ravdess", "n_utterances": 8, "rows": {"dense": row}},
           {"settings": {"seed": 0}, "model": {"source_sha256": MODEL_SHA256}})
    block = published.render_block("ravdess-table2", tmp_path, "results")
    cells = block.splitlines()[-1].split(" | ")
    assert cells[2:8] == ["65.0 ± 7.1", "[60.0, 70.0]", "[50.0, 80.0]", "60.0 ± 1.0", "[60.0, 70.0]",
                          "[40.0, 70.0]"], cells
    assert cells[-1] == "0.031 |"
    assert "over 2 seeds (0, 1)" in block and "Coqui STT Armenian model from armspeech 0.1.4" in block


def test_a_number_typed_into_a_block_is_caught(tmp_path):
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index("<!-- BEGIN GENERATED: ravdess-table2 -->")
    row = readme.index("| Dense (per frame) |", start)
    page = tmp_path / "README.md"   # beside a link to the real results
    (tmp_path / "docs").symlink_to(REPO_ROOT / "docs")
    page.write_text(readme[:row] + readme[row:].replace(" | 58 | ", " | 59 | ", 1))
    new, missing = published.render_page(page, tmp_path / "docs" / "results")
    assert not missing and new == readme and new != page.read_text()


def test_a_block_without_its_results_is_left_and_named(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("x\n<!-- BEGIN GENERATED: ravdess-table2 -->\nold 61.3\n<!-- END GENERATED -->\n")
    new, missing = published.render_page(page, tmp_path / "results")
    assert new == page.read_text() and len(missing) == 1 and "table2.json: not found" in missing[0]


def _scaling_json(exponents: dict) -> dict:
    """A scaling benchmark result of three sizes whose stages grow as n ** exponents[stage] exactly."""
    n = [672, 2688, 10752]

    def stage(name, i, b):
        t = 0.01 * n[i] ** b
        return {"wall_s_all_folds": t, "cpu_s_all_folds": 2 * t, "max_rss_mb": 300.0,
                "workers_max_rss_mb": 500.0 + 100 * i, "largest_training_set_mb": 40.0 * (i + 1),
                **({"cache_on_disk_mb": 1024.0 * (i + 1), "cache_mb": 1000.0} if name in ("egemaps", "layer1") else {})}

    fits = {name: {"wall": {"exponent": b, "coefficient": 0.01}, "cpu": {"exponent": b, "coefficient": 0.02},
                   "max_rss": {"exponent": 0.0, "coefficient": 1.0}, "parallel": True} for name, b in exponents.items()}
    return {"machine": {"cpu_count": 2, "cpu_model": "a test CPU", "openblas_kernels": "Haswell",
                        "load_average": [0.25, 0, 0]},
            "jobs": 2, "speakers": 24, "folds_measured": 2,
            "sizes": [{"size": s, "n_utterances": n[i], "hours_of_audio": 0.7 * s,
                       "stages": {name: stage(name, i, b) for name, b in exponents.items()}}
                      for i, s in enumerate((1.0, 4.0, 16.0))],
            "fits": fits, "speaker_sweep": None, "projection": None, "dask": None}


def test_the_scaling_block_reads_its_json_and_marks_a_missed_target(tmp_path):
    (tmp_path / "bench" / "results").mkdir(parents=True)
    res = _scaling_json({"layer1": 1.0, "train:lstm": 1.25})
    (tmp_path / "bench" / "results" / "scaling-cpu.json").write_text(json.dumps(res))
    block = published.render_block("scaling-cpu", tmp_path / "docs" / "results", "results")
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in block.splitlines() if line.startswith("| ")}
    assert rows["layer1"][1:4] == [f"{0.01 * n:.1f}" for n in (672, 2688, 10752)]
    assert rows["layer1"][4:7] == ["1.00", "1.00", "yes"] and rows["train:lstm"][4:7] == ["1.25", "1.25", "**no**"]
    assert rows["layer1"][7] == "500 -> 700" and rows["train:lstm"][8] == "120 |"
    assert "](../bench/results/scaling-cpu.json)" in block and "first 2 of 24 folds" in block
    assert "layer 1 3.0 GiB (0.27 GiB per hour)" in block     # 3072 MiB over 16 x 0.7 h


def test_the_scaling_block_without_its_json_names_the_command(tmp_path):
    with pytest.raises(published.MissingResults, match="bench_scaling.py --folds 2 --dask"):
        published.render_block("scaling-cpu", tmp_path / "docs" / "results", "results")


def test_the_scaling_block_splits_the_dask_overhead_into_features_and_training(tmp_path):
    res = _scaling_json({"layer1": 1.0})
    stages = {"jobs2": {"features:egemaps": 4.0, "features:layer1": 6.0, "training (wall)": 100.0},
              "dask": {"features:egemaps": 14.0, "features:layer1": 16.0, "training (wall)": 130.0}}
    res["dask"] = {"size": 16.0, "n_utterances": 10752, "folds": 2, "cache": "warm", "cluster_start_s": 0.5,
                   "worker_memory_limit_mb": 24576.0, "byte_identical": {"table2.json": True, "per_speaker.csv": False},
                   "all_identical": False, "overhead_s": 50.0, "overhead_fraction": 50.0 / 110.0,
                   "overhead_per_task_ms": 1.0, "tasks": {"files": 10000, "feature_tasks": 20000, "training_tasks": 6},
                   "runs": {k: {"executor_s": sum(v.values()), "stages_s": v} for k, v in stages.items()}}
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "scaling-cpu.json").write_text(json.dumps(res))
    block = published.render_block("scaling-cpu", tmp_path / "docs" / "results", "results")
    assert "20.0 s in the feature stages (20,000 tasks, 1.0 ms each) and 30.0 s in training (6 tasks)" in block
    assert "**not identical** (per_speaker.csv)" in block and "memory limit 24.0 GiB" in block
    assert "took 110.0 s and 160.0 s, 50.0 s (45.5 %) more through Dask" in block
