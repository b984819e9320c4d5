"""The machine a benchmark ran on, for its results JSON (shared by the bench scripts)."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The first 'model name' in /proc/cpuinfo ('' where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine(**versions) -> dict:
    """Platform, Python, CPU count and model, load average, plus any versions passed by name."""
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "cpu_model": cpu_model(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    info.update(versions)
    return info
