"""Command line: ``python -m ser_ref.deepspeech export [--model PATH] [--out PATH]``.

Without --model the model is found like ``load_layer1`` finds it ($SER_REF_MODEL, ../shared, or a
verified download of the registry package armspeech==0.1.4).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import UsageError
from ..files import locations
from . import common
from ..deepspeech.npz_export import export_model
from ..deepspeech.load import REGISTRY_NPZ, exported_path, registry_tflite


def _export(args) -> Path:
    weights_dir = locations.WEIGHTS_DIR
    model = args.model or os.environ.get("SER_REF_MODEL") or locations.shared_model_path()
    if model is None:
        model = registry_tflite(weights_dir)  # the verified download is reused, not fetched again
        out = args.out or weights_dir / REGISTRY_NPZ
    else:
        model = Path(model).expanduser()
        if not model.is_file():
            raise UsageError(f"--model {model}: {'is a folder' if model.is_dir() else 'file not found'}")
        out = args.out or exported_path(model, weights_dir)
    if Path(out).is_dir():
        raise UsageError(f"--out {out}: is a folder; give the .npz file to write")
    print(f"exporting {model} -> {out}")
    export_model(model, out)
    import numpy as np

    with np.load(out) as z:
        for k in (1, 2, 3, 4, 5, 6):
            print(f"  layer {k}: W{k}_q {z[f'W{k}_q'].shape} int8, scale {float(z[f'W{k}_scale']):.6g}")
        print(f"  LSTM gates (quarters of W4's columns): {', '.join(str(g) for g in z['lstm_gates'])}")
        print(f"  sample rate {int(z['sample_rate'])} Hz, window {int(z['win_len_ms'])} ms, "
              f"step {int(z['win_step_ms'])} ms, {len(z['alphabet'])} labels")
        print(f"  source sha256 {z['source_sha256']}")
    return Path(out)


def main(argv=None) -> int:
    """One line per error (a read-only or folder --out, a missing model; traceback with --debug)."""
    return common.cli_main(_run, argv, prog="ser_ref.deepspeech")


def _run(argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m ser_ref.deepspeech",
                                     description="DeepSpeech weight exporter")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="export every layer and the metadata of a .tflite to .npz")
    common.add_model(exp, "a DeepSpeech 0.9.x / Coqui STT .tflite file")
    common.add_out(exp, "the .npz to write (default: weights/<name>-<sha>.npz)")
    exp.add_argument("--debug", action="store_true", help="show the traceback of an error")
    _export(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
