"""python -m ser_ref.train and python -m ser_ref.predict on the quick synthetic corpus: the saved model
predicts what the same fit does in memory, and predict refuses bad model files and bad audio by name."""
import json

import numpy as np
import pytest
import soundfile as sf

from ser_ref.commands import predict, train
from ser_ref.corpora import LABELS
from ser_ref.evaluation import saved_model
from ser_ref.evaluation.run_settings import RunSettings
from ser_ref.files import modelfile


@pytest.fixture(scope="module")
def corpus(cache):
    from ser_ref.corpora import load, synthetic

    root = cache / "corpus"
    synthetic.generate(root, seed=0, n_speakers=4, n_per_emotion=3)  # what --quick asks for
    return root, load("synthetic", root)


def _train(corpus, tmp_path_factory, system, model_path):
    root, _ = corpus
    out = tmp_path_factory.mktemp(system) / "model.npz"
    rc = train.main(["--corpus", "synthetic", "--root", str(root), "--system", system, "--quick",
                     "--model-out", str(out), "--jobs", "1", "--model", str(model_path)])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def dense_file(corpus, tmp_path_factory, model_path):
    return _train(corpus, tmp_path_factory, "dense", model_path)


@pytest.fixture(scope="module")
def rf_file(corpus, tmp_path_factory, model_path):
    return _train(corpus, tmp_path_factory, "rf-egemaps", model_path)


def _predict_json(capsys, model_file, files, *extra):
    rc = predict.main(["--model-file", str(model_file), "--json", *map(str, files), *extra])
    cap = capsys.readouterr()
    return rc, [json.loads(line) for line in cap.out.splitlines()], cap.err


@pytest.mark.parametrize("system", ["dense", "rf-egemaps"])
def test_saved_model_predicts_what_the_same_fit_does(system, corpus, dense_file, rf_file, model_path, capsys):
    model_file = dense_file if system == "dense" else rf_file
    _, items = corpus
    trained = saved_model.load_trained(model_file, model_path)
    feats = [saved_model.features_of(trained, it.path) for it in items]
    y = np.array([LABELS.index(it.label) for it in items])
    speakers = np.array([it.speaker for it in items])
    settings = RunSettings("train", quick=True).fold_settings()  # train --quick's, as the fixture's
    fresh = saved_model.fit_system(system, np.stack(feats) if system == "rf-egemaps" else feats, y, speakers,
                                   0, settings)
    expect = fresh.predict_proba(np.stack(feats) if system == "rf-egemaps" else feats)
    rc, rows, err = _predict_json(capsys, model_file, [it.path for it in items], "--model", str(model_path))
    assert rc == 0, err
    got = np.array([[r["probabilities"][c] for c in LABELS] for r in rows])
    np.testing.assert_allclose(got, expect, atol=2e-6)
    assert [r["path"] for r in rows] == [str(it.path) for it in items]
    assert [r["label"] for r in rows] == [LABELS[k] for k in expect.argmax(1)]
    # trained on every speaker of an easy corpus: it must have learned something
    assert np.mean(expect.argmax(1) == y) > 0.5
    meta = trained.meta
    assert meta["class_names"] == list(LABELS) and meta["corpus"]["n_utterances"] == len(items)
    if system == "dense":
        from ser_ref.deepspeech import load_layer1

        assert meta["features"]["weights_sha256"] == load_layer1(model_path, verbose=False).metadata["file_sha256"]


def test_plain_output_has_label_and_four_probabilities(dense_file, corpus, model_path, capsys):
    _, items = corpus
    assert predict.main(["--model-file", str(dense_file), str(items[0].path), "--model", str(model_path)]) == 0
    path, label, probs = capsys.readouterr().out.strip().split("\t")
    assert path == str(items[0].path) and label in LABELS
    values = dict(p.split("=") for p in probs.split())
    assert list(values) == list(LABELS) and abs(sum(map(float, values.values())) - 1) < 5e-3


def test_model_of_other_weights_is_refused(dense_file, tmp_path, corpus, model_path, capsys):
    arrays, meta = modelfile.read(dense_file)
    kind = meta.pop("model_kind")
    meta["features"]["weights_sha256"] = "f" * 64
    meta["features"]["weights_source"] = "other-model.npz"
    modelfile.write(tmp_path / "other.npz", kind, arrays, meta)
    rc, rows, err = _predict_json(capsys, tmp_path / "other.npz", [corpus[1][0].path], "--model", str(model_path))
    assert rc == 2 and rows == []
    line, = err.strip().splitlines()
    assert str(tmp_path / "other.npz") in line and "ffffffffffff" in line and "other-model.npz" in line


@pytest.mark.parametrize("damage", ["truncate", "version", "not-a-model"])
def test_damaged_model_file_is_refused_in_one_line(damage, dense_file, tmp_path, corpus, capsys):
    bad = tmp_path / "bad.npz"
    if damage == "truncate":
        bad.write_bytes(dense_file.read_bytes()[:4000])
    elif damage == "version":
        with np.load(dense_file) as z:
            entries = {k: z[k] for k in z.files}
        entries["__format__"] = np.array(99)
        entries.pop("__sha256__")
        np.savez(bad, **entries, __sha256__=np.array(modelfile.content_sha256(entries)))
    else:
        np.savez(bad, w=np.ones(3))
    rc, rows, err = _predict_json(capsys, bad, [corpus[1][0].path])
    assert rc == 2 and rows == []
    line, = err.strip().splitlines()
    assert str(bad) in line
    assert {"truncate": "corrupt", "version": "format version 99", "not-a-model": "not a ser_ref model"}[damage] in line


def test_bad_audio_is_named_and_the_rest_still_predicted(dense_file, tmp_path, corpus, model_path, capsys):
    silent, short, text = tmp_path / "silent.wav", tmp_path / "short.wav", tmp_path / "notes.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    sf.write(short, np.full(100, 0.1, np.float32), 16000)
    text.write_text("not audio")
    good = corpus[1][0].path
    files = [silent, good, short, text, tmp_path / "missing.wav"]
    rc, rows, err = _predict_json(capsys, dense_file, files, "--model", str(model_path))
    assert rc == 1
    assert [r["path"] for r in rows] == [str(good)]
    lines = err.strip().splitlines()
    assert len(lines) == 5 and "4 of 5 files" in lines[-1]
    for f, what in [(silent, "silent"), (short, "shorter than"), (text, "not audio"), (tmp_path / "missing.wav", "not found")]:
        assert any(str(f) in ln and what in ln for ln in lines), (f, lines)


def test_leave_out_keeps_a_speaker_out_and_names_unknown_ones(corpus, tmp_path, model_path, capsys):
    root, items = corpus
    out = tmp_path / "m.npz"
    args = ["--corpus", "synthetic", "--root", str(root), "--system", "dense", "--quick", "--jobs", "1",
            "--model", str(model_path), "--model-out", str(out)]
    assert train.main(args + ["--leave-out", "syn01"]) == 0
    meta = modelfile.read(out)[1]
    assert "syn01" not in meta["corpus"]["speakers"] and meta["corpus"]["speakers_left_out"] == ["syn01"]
    assert meta["corpus"]["n_utterances"] == sum(it.speaker != "syn01" for it in items)
    capsys.readouterr()
    assert train.main(args + ["--model-out", str(tmp_path / "x.npz"), "--leave-out", "nobody"]) == 2
    assert "--leave-out: no speaker nobody" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_same_seed_same_model_from_a_fresh_cache(dense_file, corpus, tmp_path, model_path, monkeypatch):
    # --jobs 1 as the fixture: layer 1's float32 GEMM rounds differently with OpenBLAS's thread
    # count, and workers run one thread while this process runs all (reported; not this module's)
    root, _ = corpus
    monkeypatch.setenv("SER_REF_CACHE", str(tmp_path / "fresh-cache"))
    out = tmp_path / "again.npz"
    assert train.main(["--corpus", "synthetic", "--root", str(root), "--system", "dense", "--quick",
                       "--model-out", str(out), "--jobs", "1", "--model", str(model_path)]) == 0
    a, meta_a = modelfile.read(dense_file)
    b, meta_b = modelfile.read(out)
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    for m in (meta_a, meta_b):
        m.pop("train_seconds")
    assert meta_a == meta_b
