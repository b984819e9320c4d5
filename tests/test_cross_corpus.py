"""python -m ser_ref.cross_corpus: bad input stops with one line before any work; a quick run on two
small corpora writes the matrix, whose cells follow from their definitions, and resumes identically;
the URDU loader reads its layout (and the shared copy, when present)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from ser_ref import corpora
from ser_ref.commands import cross_corpus

RAVDESS_CODES = {"anger": "05", "happiness": "03", "sadness": "04", "neutral": "01", "fear": "06"}
URDU_CODES = {"anger": ("Angry", "A"), "happiness": ("Happy", "H"), "sadness": ("Sad", "S"), "neutral": ("Neutral", "N")}


def tone(path, seconds=0.5):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(str(path), 0.1 * np.sin(2 * np.pi * 220 * t), 16000, subtype="PCM_16")


def ravdess_tree(root, labels, actors=(1, 2)):
    for a in actors:
        for k, label in enumerate(labels):
            tone(root / f"Actor_{a:02d}" / f"03-01-{RAVDESS_CODES[label]}-01-01-0{k % 2 + 1}-{a:02d}.wav")
    return root


def urdu_tree(root, labels, copy_from=None):
    """URDU-shaped: <Emotion>/S<G><N>_F<k>_<E><m>.wav, from tones or from other corpus files."""
    sources = [] if copy_from is None else sorted(copy_from.rglob("*.wav"))
    for k, label in enumerate(labels):
        folder, letter = URDU_CODES[label]
        target = root / folder / f"S{'MF'[k % 2]}{k % 3 + 1}_F{k}_{letter}{k:02d}.wav"
        if sources:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(sources[k], target)
        else:
            tone(target)
    return root


def fails_with(argv, text, capsys, out):
    assert cross_corpus.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cross_corpus: error:") and text in err and len(err.splitlines()) == 1, err
    assert not out.exists()  # stopped before any work


def test_bad_input_is_one_line_before_any_work(tmp_path, capsys):
    rav = ravdess_tree(tmp_path / "rav", ["anger", "happiness", "sadness", "neutral"])
    urdu = urdu_tree(tmp_path / "urdu", ["sadness"] * 4)
    out = tmp_path / "out"
    fails_with(["--corpus", f"urdu={urdu}", "--corpus", f"urdu={urdu}"], "urdu is given twice", capsys, out)
    fails_with(["--corpus", "urdu", "--corpus", f"ravdess={rav}"], "--corpus urdu: no root", capsys, out)
    fails_with(["--corpus", f"timit={rav}", "--corpus", f"urdu={urdu}"], "unknown corpus 'timit'", capsys, out)
    fails_with(["--corpus", f"ravdess={rav}"], "at least two corpora", capsys, out)
    fails_with(["--corpus", f"ravdess={rav}", "--corpus", f"urdu={urdu}", "--systems", "rf,dense"],
               "unknown system 'rf'", capsys, out)
    fear = ravdess_tree(tmp_path / "fear", ["fear", "fear"])
    fails_with(["--corpus", f"ravdess={fear}", "--corpus", f"urdu={urdu}"], "no usable", capsys, out)
    angry = ravdess_tree(tmp_path / "angry", ["anger", "anger"])
    fails_with(["--corpus", f"ravdess={angry}", "--corpus", f"urdu={urdu}"], "no emotion class in common", capsys, out)


def test_urdu_loader_reads_its_layout(tmp_path):
    root = urdu_tree(tmp_path / "u", ["anger", "happiness", "sadness", "neutral"])
    items = corpora.load("urdu", root)
    assert [(it.label, it.speaker) for it in items] == [
        ("anger", "urduSM1"), ("happiness", "urduSF2"), ("neutral", "urduSF1"), ("sadness", "urduSM3")]
    (root / "Sad" / "SM1_F9_A09.wav").write_bytes((root / "Angry" / "SM1_F0_A00.wav").read_bytes())
    with pytest.raises(corpora.CorpusError, match="1 file names .* do not fit"):
        corpora.load("urdu", root)  # an angry file in the Sad folder


def test_shared_urdu_corpus():
    from ser_ref.files.locations import SHARED

    root = SHARED / "corpora" / "urdu-4class-16k"
    if not root.is_dir():
        pytest.skip("no URDU corpus in ../shared/corpora/urdu-4class-16k")
    items = corpora.load("urdu", root)
    assert len(items) == 400 and len({it.speaker for it in items}) == 29
    assert sorted(np.unique([it.label for it in items], return_counts=True)[1]) == [100] * 4


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, model_path, cache):
    from ser_ref.corpora import synthetic

    tmp = tmp_path_factory.mktemp("cc")
    synthetic.generate(tmp / "syn1", seed=1, n_speakers=3, n_per_emotion=2)
    urdu = urdu_tree(tmp / "urdu", ["anger", "happiness", "sadness", "neutral"] * 4, copy_from=tmp / "syn1")
    argv = ["--corpus", "synthetic", "--corpus", f"urdu={urdu}", "--quick", "--jobs", "1",
            "--systems", "majority,rf-egemaps,dense", "--model", str(model_path), "--out", str(tmp / "out")]
    assert cross_corpus.main(argv) == 0
    return tmp / "out", argv


def test_quick_run_writes_the_matrix(quick_run):
    out, _ = quick_run
    for name in ("matrix.md", "matrix.json", "manifest.json", "problems.json", "heatmap-dense.png"):
        assert (out / name).stat().st_size > 0, name
    matrix = json.loads((out / "matrix.json").read_text())
    cells = {(e["train"], e["test"], e["system"]): e for e in matrix}
    assert len(matrix) == 2 * 2 * 3
    assert {e["n_test"] for e in matrix if e["test"] == "synthetic"} == {48}
    assert {e["n_test"] for e in matrix if e["test"] == "urdu"} == {16}
    for e in matrix:
        assert e["accuracy_ci"][0] <= e["accuracy"] <= e["accuracy_ci"][1]
        assert e["ua_ci"][0] <= e["ua"] <= e["ua_ci"][1]
        assert sum(map(sum, e["confusion"])) == e["n_test"]
        assert (e["mcnemar_p_vs_rf"] is None) == (e["system"] == "rf-egemaps")
        assert e["protocol"] == ("loso" if e["train"] == e["test"] else "cross-corpus")
    # both corpora are balanced: the majority system predicts one class, right on a quarter
    for a, b in (("synthetic", "urdu"), ("urdu", "synthetic")):
        assert cells[(a, b, "majority")]["accuracy"] == 0.25 and cells[(a, b, "majority")]["ua"] == 0.25
    assert "| synthetic |" in (out / "matrix.md").read_text()


def test_quick_run_resumes_identically(quick_run):
    out, argv = quick_run
    before = (out / "matrix.json").read_text()
    files = sorted((out / "folds").rglob("*.json"))
    for f in files[::4]:
        f.unlink()
    assert cross_corpus.main(argv) == 0
    assert (out / "matrix.json").read_text() == before


def test_several_seeds_extend_the_one_seed_matrix(quick_run):
    """``--seeds 0,4`` into the one-seed run's folder: seed 0's splits are reused as they are, every
    entry keeps seed 0's numbers and gains each seed's and their mean ± sd."""
    out, argv = quick_run
    before = json.loads((out / "matrix.json").read_text())
    assert all(e["accuracy_sd"] is None and list(e["per_seed"]) == ["0"] for e in before)
    stamps = {p: p.stat().st_mtime_ns for p in (out / "folds").rglob("*.json")}
    assert cross_corpus.main([*argv, "--seeds", "0,4"]) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    after = json.loads((out / "matrix.json").read_text())
    new = {"per_seed", "accuracy_mean", "accuracy_sd", "ua_mean", "ua_sd"}
    for a, b in zip(before, after):
        assert {k: v for k, v in a.items() if k not in new} == {k: v for k, v in b.items() if k not in new}
        assert b["per_seed"]["0"] == {"accuracy": b["accuracy"], "ua": b["ua"]}
        v = [s["ua"] for s in b["per_seed"].values()]
        assert b["ua_mean"] == pytest.approx(sum(v) / 2) and b["ua_sd"] == pytest.approx(abs(v[0] - v[1]) / 2 ** 0.5)
    assert "Seeds 0, 4" in (out / "matrix.md").read_text()
    assert cross_corpus.main(argv) == 0   # back to one seed: the very same matrix as before
    assert json.loads((out / "matrix.json").read_text()) == before


@pytest.mark.slow
def test_ravdess_and_urdu_forest(tmp_path, model_path, ravdess_root):
    """The real pair with the forest: the RAVDESS diagonal is reproduce's Table 2 row (same folds,
    seeds and settings), as committed in docs/results/ravdess/table2.json."""
    from ser_ref.files.locations import REPO_ROOT, SHARED

    urdu = SHARED / "corpora" / "urdu-4class-16k"
    if not urdu.is_dir():
        pytest.skip("no URDU corpus in ../shared/corpora/urdu-4class-16k")
    out = tmp_path / "out"
    assert cross_corpus.main(["--corpus", f"ravdess={ravdess_root}", "--corpus", f"urdu={urdu}", "--systems",
                              "majority,rf-egemaps", "--model", str(model_path), "--out", str(out)]) == 0
    cells = {(e["train"], e["test"], e["system"]): e for e in json.loads((out / "matrix.json").read_text())}
    table2 = json.loads((REPO_ROOT / "docs" / "results" / "ravdess" / "table2.json").read_text())["rows"]
    for system in ("majority", "rf-egemaps"):
        assert cells[("ravdess", "ravdess", system)]["accuracy"] == table2[system]["accuracy"]
    assert cells[("ravdess", "urdu", "rf-egemaps")]["n_test"] == 400
    assert cells[("urdu", "ravdess", "rf-egemaps")]["n_test"] == 672


def _variant(argv, out, systems) -> list:
    """The quick run's arguments with another output folder and other systems."""
    argv = list(argv)
    argv[argv.index("--out") + 1], argv[argv.index("--systems") + 1] = str(out), systems
    return argv


def test_cross_cells_only_are_the_same_numbers_without_the_diagonal(quick_run, tmp_path):
    """``--cells cross`` trains only the train-on-A, test-on-B splits: the same cells, to the last
    digit, as the run with every cell (a cross split's seed does not depend on the diagonal's folds)."""
    out, argv = quick_run
    assert cross_corpus.main([*_variant(argv, tmp_path / "cross", "majority,rf-egemaps,dense"), "--cells", "cross"]) == 0
    full = {(e["train"], e["test"], e["system"]): e for e in json.loads((out / "matrix.json").read_text())}
    only = json.loads((tmp_path / "cross" / "matrix.json").read_text())
    assert sorted((e["train"], e["test"]) for e in only) == [("synthetic", "urdu")] * 3 + [("urdu", "synthetic")] * 3
    for e in only:
        assert e == full[(e["train"], e["test"], e["system"])]
    assert "| synthetic | not run |" in (tmp_path / "cross" / "matrix.md").read_text()
    assert (tmp_path / "cross" / "heatmap-dense.png").stat().st_size > 0


def test_speaker_normalisation_is_another_experiment(quick_run, tmp_path):
    out, argv = quick_run
    assert cross_corpus.main([*_variant(argv, tmp_path / "norm", "rf-egemaps"), "--normalize", "speaker"]) == 0
    plain, norm = (json.loads((d / "manifest.json").read_text()) for d in (out, tmp_path / "norm"))
    assert plain["data_digest"] != norm["data_digest"]  # never served the other's checkpoints
    # the manifest every command shares (report.run_manifest), plus the corpora of this one
    assert norm["command"].startswith("python -m ser_ref.cross_corpus --corpus synthetic --corpus 'urdu=<elsewhere>/urdu' "
                                      "--quick --jobs 1 --systems rf-egemaps --model ")
    assert norm["command"].endswith(" --out '<out>' --normalize speaker")
    card = json.loads((tmp_path / "norm" / "protocol.json").read_text())
    assert card["normalisation"]["statistics_see"] == "each test speaker's own unlabelled audio"
    assert norm["args"]["normalize"] == "speaker" and "argv" not in norm["args"]
    assert {"model", "versions", "machine", "wall_time_s", "corpora"} <= set(norm)
    assert "openblas_kernels" in norm["machine"] and norm["model"]["file_sha256"]
    assert "normalisation: speaker" in (tmp_path / "norm" / "matrix.md").read_text()


def test_features_picks_a_layer_of_the_whole_model(quick_run, tmp_path):
    """--features layerK: the networks read that layer (its own feature cache entries and data
    digest, so never the layer-1 run's checkpoints); the forest still reads eGeMAPS."""
    out, argv = quick_run
    assert cross_corpus.main([*_variant(argv, tmp_path / "layer3", "rf-egemaps,dense"), "--features", "layer3"]) == 0
    plain, deep = (json.loads((d / "manifest.json").read_text()) for d in (out, tmp_path / "layer3"))
    assert deep["args"]["features"] == "layer3" and plain["args"]["features"] == "None"
    assert plain["data_digest"] != deep["data_digest"]
    cells = {(e["train"], e["test"], e["system"]): e for e in json.loads((out / "matrix.json").read_text())}
    deep_cells = {(e["train"], e["test"], e["system"]): e
                  for e in json.loads((tmp_path / "layer3" / "matrix.json").read_text())}
    for key, e in deep_cells.items():
        assert sum(map(sum, e["confusion"])) == e["n_test"]
        if key[2] == "rf-egemaps":  # the same eGeMAPS features, the same forest
            assert e["confusion"] == cells[key]["confusion"], key
