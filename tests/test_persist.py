"""Saved models: the forest and the four networks predict exactly as before saving, and a file that
is corrupt, edited, of another format version, of another kind or pickled is refused by name."""
import json
import zipfile

import numpy as np
import pytest

from ser_ref.files import modelfile
from ser_ref.forest.cart import predict_proba_reference
from ser_ref.forest.random_forest import RandomForest
from ser_ref.files.modelfile import ModelFileError
from ser_ref.nn import MODELS
from ser_ref.nn.persist import load_model

TINY = {"epochs": 3, "patience": 0, "max_frames": 8, "frame_batch_size": 32, "batch_size": 4, "max_len": 12}


def _utterances(rng, n=16, dim=10):
    y = np.arange(n) % 4
    feats = [(rng.normal(size=(int(rng.integers(5, 25)), dim)) + y[i]).astype(np.float32) for i in range(n)]
    return feats, y, np.repeat(np.arange(4), n // 4)


def test_forest_round_trip_predicts_identically(tmp_path, rng):
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + 2 * (X[:, 2] > 0.5)
    rf = RandomForest(n_trees=20, max_depth=5, seed=3).fit(X, y)
    rf.save(tmp_path / "rf.npz", meta={"note": "x"})
    back = RandomForest.load(tmp_path / "rf.npz")
    Xt = rng.normal(size=(50, 6))
    assert np.array_equal(back.predict_proba(Xt), rf.predict_proba(Xt))
    ref = predict_proba_reference(Xt, *back.trees_)
    np.testing.assert_allclose(back.predict_proba(Xt), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_network_round_trip_predicts_identically(name, tmp_path, rng):
    feats, y, speakers = _utterances(rng)
    kw = {"chunk_len": 4} if name.startswith("dense1") else {}
    model = MODELS[name](seed=1, config=TINY, hidden=8, **kw) if name != "lstm" else MODELS[name](seed=1, config=TINY)
    model.fit(feats, y, groups=speakers)
    model.save(tmp_path / "m.npz", meta={"who": "test"})
    back = type(model).load(tmp_path / "m.npz")
    fresh, _, _ = _utterances(np.random.default_rng(99))
    assert np.array_equal(back.predict_proba(fresh), model.predict_proba(fresh))
    assert type(back) is type(model)
    _, meta = modelfile.read(tmp_path / "m.npz")
    assert meta["who"] == "test" and meta["network"]["system"] == name


def _rf_file(path, rng):
    X = rng.normal(size=(40, 3))
    RandomForest(n_trees=3, max_depth=3).fit(X, (X[:, 0] > 0).astype(int)).save(path)
    return path


def test_edited_array_fails_the_integrity_hash(tmp_path, rng):
    p = _rf_file(tmp_path / "rf.npz", rng)
    with np.load(p) as z:
        entries = {k: z[k] for k in z.files}
    entries["threshold"] = entries["threshold"] + 1e-9  # the hash entry is kept as it was
    np.savez(tmp_path / "edited.npz", **entries)
    with pytest.raises(ModelFileError, match=r"edited\.npz: integrity hash mismatch"):
        RandomForest.load(tmp_path / "edited.npz")


def test_flipped_byte_and_truncation_are_refused(tmp_path, rng):
    p = _rf_file(tmp_path / "rf.npz", rng)
    data = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("threshold.npy")
    at = info.header_offset + 30 + len(info.filename) + info.file_size - 3  # inside the array's bytes
    data[at] ^= 0xFF
    (tmp_path / "flipped.npz").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"flipped\.npz: (corrupt|integrity)"):
        RandomForest.load(tmp_path / "flipped.npz")
    (tmp_path / "cut.npz").write_bytes(p.read_bytes()[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"cut\.npz: corrupt"):
        RandomForest.load(tmp_path / "cut.npz")


def test_other_format_version_kind_and_pickles_are_refused(tmp_path, rng):
    p = _rf_file(tmp_path / "rf.npz", rng)
    with np.load(p) as z:
        entries = {k: z[k] for k in z.files}
    entries["__format__"] = np.array(modelfile.FORMAT_VERSION + 1)
    entries.pop("__sha256__")
    entries["__sha256__"] = np.array(modelfile.content_sha256(entries))
    np.savez(tmp_path / "v2.npz", **entries)
    with pytest.raises(ModelFileError, match=rf"v2\.npz: model file format version {modelfile.FORMAT_VERSION + 1}"):
        RandomForest.load(tmp_path / "v2.npz")
    with pytest.raises(ModelFileError, match=r"rf\.npz: holds a 'random-forest' model, expected 'network'"):
        load_model(p)
    np.savez(tmp_path / "pickled.npz", w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFileError, match=r"pickled\.npz: corrupt"):
        modelfile.read(tmp_path / "pickled.npz")
    (tmp_path / "text.npz").write_text(json.dumps({"not": "a model"}))
    with pytest.raises(ModelFileError, match=r"text\.npz: corrupt or not a ser_ref model file"):
        modelfile.read(tmp_path / "text.npz")
    with pytest.raises(ValueError, match="plain numeric"):
        modelfile.write(tmp_path / "o.npz", "x", {"w": np.array([None], dtype=object)}, {})
