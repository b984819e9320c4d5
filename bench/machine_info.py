"""The machine a benchmark ran on, for its results JSON (shared by the bench scripts)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ser_ref.evaluation.report import machine as describe  # noqa: E402


def machine(**versions) -> dict:
    """ser_ref.evaluation.report.machine() plus the load average (benchmarks on a shared machine need it) and
    any versions passed by name."""
    info = describe()
    info["load_average"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    info.update(versions)
    return info
