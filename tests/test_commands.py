"""The command layer: every documented ``python -m ser_ref.<command>`` and console script answers
``--help``; the options shared through ``ser_ref.commands.common`` refuse the same bad values with
the same message in every command that has them; the manifest's settings are typed."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tomllib

import pytest

from ser_ref.files.locations import REPO_ROOT

# the old paths the docs give (one-line shims in ser_ref/, ser_ref/audit, ser_ref/deepspeech, ser_ref/egemaps)
OLD_PATHS = ("reproduce", "cross_corpus", "layers", "explain", "train", "predict", "transcribe", "audit",
             "deepspeech", "egemaps", "publish", "protocol")
WITH_SEED_AND_JOBS = ("reproduce", "train", "cross_corpus", "layers")
WITH_MODE = ("reproduce", "train", "layers", "explain", "transcribe")
WITH_DEVICE = ("reproduce", "train", "predict")


def _main(name: str):
    return importlib.import_module(f"ser_ref.commands.{name}").main


def test_every_old_command_path_answers_help():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    runs = {m: subprocess.Popen([sys.executable, "-m", f"ser_ref.{m}", "--help"], cwd=REPO_ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for m in OLD_PATHS}  # all at once: each pays only its own imports
    for m, proc in runs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (m, err)
        assert out.startswith(f"usage: python -m ser_ref.{m}"), (m, out[:200])


def test_every_console_script_points_at_a_command_main(capsys):
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert len(scripts) == len(OLD_PATHS)
    for script, target in scripts.items():
        module, _, attr = target.partition(":")
        assert module.startswith("ser_ref.commands."), script
        with pytest.raises(SystemExit) as e:
            getattr(importlib.import_module(module), attr)(["--help"])
        assert e.value.code == 0 and capsys.readouterr().out.startswith("usage: "), script


def _refusal(name: str, argv, capsys) -> str:
    with pytest.raises(SystemExit) as e:
        _main(name)(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"python -m ser_ref.{name}: error: "), err
    return err.split(": error: ", 1)[1]


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "argument --seed: -1 is out of range: --seed must be in [0, 4294967295]"),
    (["--seed", "4294967296"], "argument --seed: 4294967296 is out of range: --seed must be in [0, 4294967295]"),
    (["--seed", "one"], "argument --seed: 'one' is not an integer (--seed)"),
    (["--jobs", "0"], "argument --jobs: 0 is out of range: --jobs must be in [1, 256]"),
    (["--jobs", "-3"], "argument --jobs: -3 is out of range: --jobs must be in [1, 256]"),
])
def test_seed_and_jobs_are_refused_alike_by_every_command(argv, message, capsys, tmp_path):
    for name in WITH_SEED_AND_JOBS:
        assert _refusal(name, [*argv, "--out", str(tmp_path / "o")] if name != "train" else argv,
                        capsys) == message, name
    assert not (tmp_path / "o").exists()


def test_mode_and_device_come_from_their_registries(capsys):
    from ser_ref.deepspeech.layer1 import MODES
    from ser_ref.runtime.backend import DEVICES

    choices = lambda values: ", ".join(repr(v) for v in values)  # noqa: E731
    for name in WITH_MODE:
        assert _refusal(name, ["--mode", "fixed"], capsys) == \
            f"argument --mode: invalid choice: 'fixed' (choose from {choices(MODES)})", name
    for name in WITH_DEVICE:
        assert _refusal(name, ["--device", "tpu"], capsys) == \
            f"argument --device: invalid choice: 'tpu' (choose from {choices(DEVICES)})", name


def test_corpus_choices_are_the_registry(capsys):
    from ser_ref.corpora import NAMES

    for name in ("reproduce", "train", "layers", "audit"):
        msg = _refusal(name, ["--corpus", "timit"], capsys)
        listed = msg.split("(choose from ")[1].rstrip(")").replace("'", "").split(", ")
        assert sorted(listed) == sorted(NAMES) and listed[0] == "synthetic", name


def test_a_missing_model_file_is_refused_before_any_work(tmp_path, capsys):
    for name, argv in (("reproduce", []), ("train", []), ("layers", []), ("cross_corpus", []),
                       ("explain", [str(tmp_path / "x.wav")]), ("transcribe", [str(tmp_path / "x.wav")]),
                       ("predict", ["--model-file", str(tmp_path / "m.npz"), str(tmp_path / "x.wav")])):
        if name == "train":
            argv = ["--corpus", "synthetic", "--system", "dense", "--model-out", str(tmp_path / "m.npz")]
        msg = _refusal(name, [*argv, "--model", str(tmp_path / "none.npz")], capsys)
        assert msg == f"--model {tmp_path / 'none.npz'}: file not found", name


def test_run_settings_are_typed_and_the_manifest_keeps_the_arguments():
    from ser_ref.commands import common, reproduce

    argv = ["--quick", "--seed", "5", "--chunks", "10,20", "--mode", "tflite-int8"]
    run = common.run_settings("reproduce", reproduce.parse_args(argv), argv)
    assert (run.seed, run.quick, run.chunks, run.mode, run.corpus, run.jobs) == (5, True, (10, 20), "tflite-int8",
                                                                              "synthetic", None)
    with pytest.raises(AttributeError):
        run.seed = 6  # frozen
    args = dict(run.arguments)
    assert args["chunks"] == "(10, 20)" and args["seed"] == "5" and args["corpus"] == "synthetic"
    # --quick: 100 trees and the short training; without it the paper's 1000 trees of depth <= 10
    quick, full = run.fold_settings(), common.run_settings("reproduce", reproduce.parse_args([]), []).fold_settings()
    assert (quick.seed, quick.rf_trees, quick.rf_depth, quick.nn_config) == (5, 100, 10, "quick")
    assert (full.seed, full.rf_trees, full.rf_depth, full.nn_config, full.chunk_len) == (0, 1000, 10, {}, 20)


def test_the_layer_choices_are_the_models_layers():
    """``--features`` offers the layers the model returns (common repeats the names so that a command
    line parses without importing the numerics)."""
    from ser_ref.commands import common
    from ser_ref.deepspeech.model import LAYERS

    assert common.LAYERS == LAYERS
