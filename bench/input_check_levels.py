"""The measures of ``ser_ref.frontend.input_checks`` over whole corpora: where the training speech lies,
so that the rules' thresholds can be set far from it (docs/reliability.md, "Input unlike the training data").

    python bench/input_check_levels.py ../shared/corpora/ravdess-4class-16k ../shared/corpora/urdu-4class-16k

Per corpus: the quietest file's level (95th percentile frame RMS, dBFS), the least energy above 4.5 kHz,
the same after the file is taken through 8 kHz and back (telephone audio stored at 16 kHz), the most
samples at full scale, and how many files each rule would flag.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from ser_ref.frontend import input_checks as ic
from ser_ref.frontend.audio import load_audio, resample


def measures(path: Path) -> tuple[float, float, float, float, int]:
    native, rate = sf.read(path, dtype="float32", always_2d=True)
    x = load_audio(path)
    phone = resample(resample(x, ic.SAMPLE_RATE, 8000), 8000, ic.SAMPLE_RATE)
    full = float(np.max(np.mean(np.abs(native) >= ic.FULL_SCALE, axis=0)))
    flagged = len(ic.input_warnings(native, rate, x))
    return ic.active_level_dbfs(x), ic.high_band_fraction(x), ic.high_band_fraction(phone), full, flagged


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="+", type=Path, help="corpus folders (every .wav below them)")
    args = ap.parse_args(argv)
    for root in args.roots:
        files = sorted(root.rglob("*.wav"))
        m = np.array([measures(f) for f in files])
        print(f"{root.name}: {len(files)} files")
        print(f"  level (dBFS):          min {m[:, 0].min():.1f}, median {np.median(m[:, 0]):.1f}"
              f"   rule: below {ic.SILENT_DBFS:.0f}")
        print(f"  energy above 4.5 kHz:  min {m[:, 1].min():.2g}, median {np.median(m[:, 1]):.2g}"
              f"   rule: below {ic.HIGH_BAND_MIN:g}")
        print(f"  ... through 8 kHz:     max {m[:, 2].max():.2g}, median {np.median(m[:, 2]):.2g}, "
              f"{int(np.sum(m[:, 2] < ic.HIGH_BAND_MIN))} of {len(files)} caught")
        print(f"  at full scale:         max {100 * m[:, 3].max():.2f} %   rule: {100 * ic.CLIPPED_MIN:.0f} % or more")
        print(f"  files with a warning:  {int(np.sum(m[:, 4] > 0))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
