"""The 88 eGeMAPS v02 functional names, in openSMILE's output order.

Same strings, same order as ``opensmile.Smile(feature_set=eGeMAPSv02,
feature_level=Functionals).feature_names`` (checked against opensmile in tests/test_egemaps.py).
"""
from __future__ import annotations

_F0 = "F0semitoneFrom27.5Hz_sma3nz"
CONTOUR = ("amean", "stddevNorm", "percentile20.0", "percentile50.0", "percentile80.0",
            "pctlrange0-2", "meanRisingSlope", "stddevRisingSlope", "meanFallingSlope",
            "stddevFallingSlope")
_MEAN_CV = ("amean", "stddevNorm")

# LLDs summarised by mean and coefficient of variation (all frames: _sma3; voiced only: _sma3nz)
ALL_FRAMES = ("spectralFlux", "mfcc1", "mfcc2", "mfcc3", "mfcc4")
VOICED = ("jitterLocal", "shimmerLocaldB", "HNRdBACF", "logRelF0-H1-H2", "logRelF0-H1-A3",
          "F1frequency", "F1bandwidth", "F1amplitudeLogRelF0",
          "F2frequency", "F2bandwidth", "F2amplitudeLogRelF0",
          "F3frequency", "F3bandwidth", "F3amplitudeLogRelF0")
SPECTRAL_V = ("alphaRatioV", "hammarbergIndexV", "slopeV0-500", "slopeV500-1500",
              "spectralFluxV", "mfcc1V", "mfcc2V", "mfcc3V", "mfcc4V")
SPECTRAL_UV = ("alphaRatioUV", "hammarbergIndexUV", "slopeUV0-500", "slopeUV500-1500",
               "spectralFluxUV")
TEMPORAL = ("loudnessPeaksPerSec", "VoicedSegmentsPerSec", "MeanVoicedSegmentLengthSec",
            "StddevVoicedSegmentLengthSec", "MeanUnvoicedSegmentLength",
            "StddevUnvoicedSegmentLength")

EGEMAPS_NAMES: tuple[str, ...] = (
    tuple(f"{_F0}_{f}" for f in CONTOUR)
    + tuple(f"loudness_sma3_{f}" for f in CONTOUR)
    + tuple(f"{n}_sma3_{f}" for n in ALL_FRAMES for f in _MEAN_CV)
    + tuple(f"{n}_sma3nz_{f}" for n in VOICED + SPECTRAL_V for f in _MEAN_CV)
    + tuple(f"{n}_sma3nz_amean" for n in SPECTRAL_UV)
    + TEMPORAL
    + ("equivalentSoundLevel_dBp",)
)
assert len(EGEMAPS_NAMES) == 88
