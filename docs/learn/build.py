"""Rebuild the learning notebooks: each NN-*.py here (the text that is reviewed) is executed and
written, with its outputs, to NN-*.ipynb (the form that renders when browsed).

    python docs/learn/build.py            # every notebook
    python docs/learn/build.py 02 05      # the ones whose names start so

Needs the dev extra (nbclient, ipykernel, jupytext). Each notebook runs with this folder as its
working directory; the time each takes is printed. A notebook whose outputs would name a path of
this machine outside the repository is refused (committed files use repository-relative paths).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

LEARN = Path(__file__).resolve().parent
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def notebook_sources(prefixes=()) -> list[Path]:
    """The NN-*.py texts, in reading order (all, or those whose names start with a prefix)."""
    paths = sorted(LEARN.glob("[0-9][0-9]-*.py"))
    return [p for p in paths if not prefixes or p.name.startswith(tuple(prefixes))]


def execute(nb, timeout: int = 300):
    """Run every cell of ``nb`` in a fresh Python kernel, in this folder; returns ``nb`` with outputs."""
    from nbclient import NotebookClient

    nb.metadata["kernelspec"] = dict(KERNEL)
    NotebookClient(nb, timeout=timeout, kernel_name=KERNEL["name"],
                   resources={"metadata": {"path": str(LEARN)}}).execute()
    return nb


def machine_paths(nb) -> list[str]:
    """Output lines that name a path above the repository (this machine's layout)."""
    outside = str(LEARN.parents[2])  # the folder that holds the checkout (and ../shared)
    if outside == LEARN.anchor:      # a checkout at the top of the file system: the checkout itself
        outside = str(LEARN.parents[1])
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") + "".join(str(v) for k, v in out.get("data", {}).items()
                                                  if k.startswith("text/"))
            found += [line for line in text.splitlines() if outside in line]
    return found


def build(py: Path) -> float:
    """Execute ``py`` and write the paired .ipynb (and the .py in jupytext's own form); seconds taken."""
    import jupytext

    nb = jupytext.read(py)
    start = time.perf_counter()
    execute(nb)
    seconds = time.perf_counter() - start
    leaks = machine_paths(nb)
    if leaks:
        raise SystemExit(f"{py.name}: outputs name this machine's paths: {leaks[:3]}")
    jupytext.write(nb, py.with_suffix(".ipynb"))
    jupytext.write(nb, py, fmt="py:percent")
    return seconds


def main(argv=None) -> int:
    total = 0.0
    for py in notebook_sources(sys.argv[1:] if argv is None else argv):
        seconds = build(py)
        total += seconds
        print(f"{py.stem}: {seconds:.1f} s")
    print(f"all: {total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
