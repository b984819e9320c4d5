"""The dataset step: cache keys, the Dataset digest and the checkpoint tags follow the documented
formulas (re-derived here from sha256, so caches and checkpoints of earlier runs stay valid); files
are left out and reported by name; a feature kind and a system are each one registration, shown by a
toy kind and a toy system (defined in this file only) run through build_dataset and runner.run."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from ser_ref.corpora import Item
from ser_ref.deepspeech import Layer1, deepspeech_features
from ser_ref.errors import SerRefError
from ser_ref.evaluation import feature_cache, feature_kinds, runner, splits, systems
from ser_ref.evaluation.dataset import FeatureSpec, build_dataset
from ser_ref.evaluation.executors import SerialExecutor
from ser_ref.evaluation.feature_kinds import FeatureKind
from ser_ref.evaluation.runner import Entry
from ser_ref.evaluation.systems import Settings
from ser_ref.evaluation.table2 import table2_specs
from ser_ref.frontend.audio import load_audio

# The code versions of the kinds as documented (feature_kinds; docs/reliability.md). A change of
# either side of this pin must be deliberate: it invalidates every cached file of that kind.
VERSIONS = {"layer1": 3, "egemaps": 1, "deepspeech": 2}
LABELS = ("anger", "happiness", "sadness", "neutral")
WEIGHTS = SimpleNamespace(source="/models/w.npz", metadata={"file_sha256": "5e" * 32})


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def documented_key(audio_bytes: bytes, kind: str, fields: dict) -> str:
    """key = sha256 of the canonical JSON of [sha256(file bytes), kind, version, parameters but "weights"]."""
    return sha(json.dumps([hashlib.sha256(audio_bytes).hexdigest(), kind, VERSIONS[kind], fields], sort_keys=True))


def documented_path(root, audio_bytes, kind, fields) -> Path:
    key = documented_key(audio_bytes, kind, fields)
    return Path(root) / "features" / kind / key[:2] / f"{key}.npy"


def write_wav(path, x):
    sf.write(str(path), (np.clip(x, -1, 1) * 32767).astype(np.int16), 16000, subtype="PCM_16")
    return path


def tiny_corpus(folder, n_speakers=3, seconds=0.3):
    """One utterance per (speaker, emotion): a tone whose pitch and loudness follow the emotion."""
    rng = np.random.default_rng(7)
    t = np.arange(int(16000 * seconds)) / 16000
    items = []
    for s in range(n_speakers):
        for c, label in enumerate(LABELS):
            x = 0.1 * (c + 1) * np.sin(2 * np.pi * (150 + 60 * c + 10 * s) * t) + 0.01 * rng.standard_normal(t.size)
            items.append(Item(write_wav(Path(folder) / f"s{s}_{label}.wav", x), f"s{s}", label))
    return items


# ------------------------------------------------------------------------------ cache keys
@pytest.mark.parametrize("spec, kind, fields", [
    (FeatureSpec("egemaps"), "egemaps", {}),
    (table2_specs(WEIGHTS)["egemaps"], "egemaps", {}),
    (table2_specs(WEIGHTS, step_ms=20, mode="float", device="cpu")["layer1"], "layer1",
     {"weights_sha256": "5e" * 32, "step_ms": 20, "mode": "float", "device": "cpu"}),
    (FeatureSpec.deepspeech(WEIGHTS, step_ms=10, mode="tflite-int8", device="gpu"), "layer1",
     {"weights_sha256": "5e" * 32, "step_ms": 10, "mode": "tflite-int8", "device": "gpu"}),
    # reproduce --features layer3 (the whole model runs on the CPU, whatever --device)
    (table2_specs(WEIGHTS, step_ms=20, mode="float", device="gpu", layer="layer3")["layer1"], "deepspeech",
     {"weights_sha256": "5e" * 32, "step_ms": 20, "mode": "float", "device": "cpu", "layer": "layer3"}),
    # the layer study: keyed without a device
    (FeatureSpec.deepspeech(WEIGHTS, step_ms=20, mode="tflite-int8", device=None, layer="layer2"), "deepspeech",
     {"weights_sha256": "5e" * 32, "step_ms": 20, "mode": "tflite-int8", "layer": "layer2"}),
])
def test_cache_keys_follow_the_documented_formula(tmp_path, spec, kind, fields):
    wav = write_wav(tmp_path / "a.wav", np.linspace(-0.5, 0.5, 4000))
    assert spec.kind == kind
    assert spec.params == ({**fields, "weights": "/models/w.npz"} if fields else {})
    got = feature_cache.cache_path(wav, feature_kinds.get(spec.kind), spec.params, tmp_path / "c")
    assert got == documented_path(tmp_path / "c", wav.read_bytes(), kind, fields)


# ------------------------------------------------------------------------------ the dataset step
def test_reproduce_specs_give_the_documented_digest_tags_and_problems(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    layer = Layer1(rng.integers(-127, 128, (494, 8), dtype=np.int8), 0.01, np.zeros(8, np.float32),
                   source=WEIGHTS.source, metadata=WEIGHTS.metadata)
    monkeypatch.setattr(feature_kinds, "_layer1", lambda weights: layer)
    items = tiny_corpus(tmp_path, n_speakers=2)
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    assert items[3].speaker == "s0" and items[3].label == "neutral"
    items[3] = Item(junk, "s0", "neutral")  # s0 is then left without a neutral utterance
    timings = {}
    data, problems = build_dataset(items, table2_specs(layer), executor=SerialExecutor(), cache_root=tmp_path / "c",
                                   timings=timings)

    kept = [it for it in items if it.path != junk]
    assert data.items == kept and set(timings) == {"features:egemaps", "features:layer1"}
    assert data.y.tolist() == [LABELS.index(it.label) for it in kept]
    assert data.speakers.tolist() == [it.speaker for it in kept]
    fields = {"weights_sha256": "5e" * 32, "step_ms": 20, "mode": "float", "device": "cpu"}
    want = [documented_path(tmp_path / "c", Path(it.path).read_bytes(), "layer1", fields) for it in kept]
    assert data.features["layer1"] == [str(p) for p in want]
    for it, npy in zip(kept, data.features["layer1"]):
        np.testing.assert_array_equal(np.load(npy), deepspeech_features(load_audio(it.path), layer))
    assert data.features["egemaps"].shape == (len(kept), 88)
    np.testing.assert_array_equal(data.features["egemaps"][2], feature_kinds.compute(kept[2].path, "egemaps", {}))

    files = sha(json.dumps(sorted(Path(it.path).name + ":" + p.stem for it, p in zip(kept, want))))[:16]
    assert data.corpus_digest == files
    assert data.digest == sha(json.dumps([files, "5e" * 32, 20, "float"]))[:16]
    entry = Entry("dense1+lstm2@5", "dense1+lstm2", Settings(seed=3).with_chunk(5))
    assert runner.entry_tag(entry, data) == sha(json.dumps([entry.key, asdict(entry.settings), data.digest],
                                                           sort_keys=True))[:16]

    assert problems["n_items"] == len(items) and problems["n_used"] == len(kept) and problems["n_left_out"] == 1
    assert len(problems["feature_errors"]) == 1 and problems["feature_errors"][0].startswith(f"{junk}: ")
    assert problems["speakers_missing_classes"] == ["speaker s0: no utterances of neutral"]


def test_no_usable_file_is_one_error(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    with pytest.raises(SerRefError, match="no usable utterances: every file failed, e.g. .*junk.wav"):
        build_dataset([Item(junk, "s0", "anger")], {"egemaps": FeatureSpec("egemaps")}, executor=SerialExecutor(),
                      cache_root=tmp_path / "c")


# ------------------------------------------------------------------------------ toy registrations
def toy_frames(audio, params):
    """Per 10 ms frame: log energy and zero-crossing rate, (frames, 2) float32."""
    frames = audio[:len(audio) // 160 * 160].reshape(-1, 160).astype(np.float64)
    energy = np.log(np.mean(frames ** 2, axis=1) + 1e-10)
    zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)) > 0, axis=1)
    return np.stack([energy, zcr], axis=1).astype(np.float32)


def toy_layers(audio, params_list):
    """The toy kind's "layers" (frames times the layer number, default 1), all from one pass."""
    TOY_PASSES.append(len(params_list))
    frames = toy_frames(audio, {})
    return [frames * int(p.get("layer", 1)) for p in params_list]


TOY_PASSES: list[int] = []


class Centroid:
    """Nearest class centroid of the utterances' mean frames (classes never seen are never chosen)."""

    def fit(self, X, y, groups=None):
        means = np.stack([np.mean(x, axis=0) for x in X])
        self.centroids_ = {c: means[np.asarray(y) == c].mean(axis=0) for c in sorted(set(np.asarray(y).tolist()))}
        return self

    def predict_proba(self, X):
        out = np.zeros((len(X), 4))
        for i, x in enumerate(X):
            m = np.mean(x, axis=0)
            out[i, min(self.centroids_, key=lambda c: np.sum((m - self.centroids_[c]) ** 2))] = 1.0
        return out


@pytest.fixture
def toys(monkeypatch):
    """The toy kind and system, each one registration; the registries are put back afterwards."""
    monkeypatch.setattr(feature_kinds, "KINDS", dict(feature_kinds.KINDS))
    monkeypatch.setattr(systems, "REGISTRY", dict(systems.REGISTRY))
    feature_kinds.register(FeatureKind("toy", toy_frames, per_frame=True, compute_together=toy_layers))
    systems.register("toy-centroid", "toy", lambda seed, settings: Centroid())


def test_a_toy_kind_and_a_toy_system_run_through_the_dataset_step_and_the_runner(tmp_path, toys):
    items = tiny_corpus(tmp_path)
    data, problems = build_dataset(items, {"toy": FeatureSpec("toy")}, executor=SerialExecutor(),
                                   cache_root=tmp_path / "c")
    assert problems["n_used"] == len(items) and not problems["feature_errors"]
    folds = splits.loso(data.speakers)
    entries = [Entry("toy", "toy-centroid", Settings()), Entry("majority", "majority", Settings())]
    got = runner.run(entries, folds, data, SerialExecutor(), out=tmp_path / "out", say=lambda m: None)

    frames = [toy_frames(load_audio(it.path), {}) for it in items]  # the same features, without the plumbing
    y = np.array([LABELS.index(it.label) for it in items])
    want = np.zeros((len(items), 4))
    for f in folds:
        model = Centroid().fit([frames[i] for i in f.train_idx], y[f.train_idx])
        want[f.test_idx] = model.predict_proba([frames[i] for i in f.test_idx])
    np.testing.assert_array_equal(got["toy"], want)
    assert np.mean(got["toy"].argmax(1) == y) > 0.5  # the toy features do tell the tones apart
    assert len(list((tmp_path / "out" / "folds" / "toy").glob("*.json"))) == len(folds)


def test_specs_that_differ_only_in_layer_are_computed_in_one_pass(tmp_path, toys):
    items = tiny_corpus(tmp_path, n_speakers=1)
    specs = {f"toy{k}": FeatureSpec("toy", layer=str(k)) for k in (1, 2, 3)}
    TOY_PASSES.clear()
    data, _ = build_dataset(items, specs, executor=SerialExecutor(), cache_root=tmp_path / "c")
    assert TOY_PASSES == [3] * len(items)
    for i, it in enumerate(items):
        np.testing.assert_array_equal(np.load(data.features["toy3"][i]), toy_frames(load_audio(it.path), {}) * 3)
    build_dataset(items, specs, executor=SerialExecutor(), cache_root=tmp_path / "c")
    assert TOY_PASSES == [3] * len(items)  # all cached: nothing computed again


def test_a_system_reading_an_unregistered_kind_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(systems, "REGISTRY", dict(systems.REGISTRY))
    systems.register("lost", "no-such-kind", lambda seed, settings: Centroid())
    data = runner.Dataset(np.zeros(2, int), np.array(["a", "b"]), {}, "d")
    with pytest.raises(SerRefError, match="system 'lost' reads feature kind 'no-such-kind', which is not registered"):
        runner.run([Entry("lost", "lost", Settings())], splits.loso(data.speakers), data, SerialExecutor(),
                   say=lambda m: None)
