"""The learning notebooks of docs/learn: each one runs from top to bottom (its checks are asserts),
its stored .ipynb holds exactly the cells of its reviewed .py twin (jupytext py:percent) with the
outputs of a full run, and every glossary link in them points at a term of docs/glossary.md."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEARN = ROOT / "docs" / "learn"
GLOSSARY = ROOT / "docs" / "glossary.md"
SOURCES = sorted(LEARN.glob("[0-9][0-9]-*.py"))
# what a notebook's text calls -> the oracle module it then needs
ORACLES = {"tflite_interpreter": "ai_edge_litert", "opensmile_egemaps": "opensmile", "import librosa": "librosa",
           "sklearn": "sklearn"}
NEEDS_MODEL = ("model_tflite", "load_layer1", "load_deepspeech")


def needs(module: str):
    return pytest.importorskip(module, reason=f"'{module}' is not installed (pip install -e '.[dev]')")


def builder():
    """docs/learn/build.py as a module: the tests run the notebooks exactly as it does."""
    spec = importlib.util.spec_from_file_location("learn_build", LEARN / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_stage_has_its_notebook():
    assert [p.name[:2] for p in SOURCES] == ["01", "02", "03", "04", "05", "06", "07", "08", "09"]
    assert all(p.with_suffix(".ipynb").exists() for p in SOURCES)


@pytest.mark.parametrize("py", SOURCES, ids=lambda p: p.stem)
def test_stored_notebook_is_its_reviewed_text_with_outputs(py):
    jupytext, nbformat = needs("jupytext"), needs("nbformat")
    text = jupytext.read(py)
    stored = nbformat.read(py.with_suffix(".ipynb"), as_version=4)
    assert [(c.cell_type, c.source) for c in stored.cells] == [(c.cell_type, c.source) for c in text.cells], \
        f"{py.name} and its .ipynb differ: rebuild with python docs/learn/build.py {py.name[:2]}"
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), \
        f"{py.with_suffix('.ipynb').name} is not stored as one full run: rebuild it"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure stored"


@pytest.mark.parametrize("py", SOURCES, ids=lambda p: p.stem)
def test_notebook_runs(py, request):
    jupytext = needs("jupytext")
    for module in ("nbclient", "ipykernel", "matplotlib"):
        needs(module)
    source = py.read_text()
    for marker, module in ORACLES.items():
        if marker in source:
            needs(module)
    if any(name in source for name in NEEDS_MODEL):
        request.getfixturevalue("model_path")  # the model the pipeline uses, or the reason it is missing
    builder().execute(jupytext.read(py))  # a failing cell raises CellExecutionError with its traceback


def test_glossary_links_point_at_terms():
    anchors = {github_anchor(h) for h in re.findall(r"^#+ (.+)$", GLOSSARY.read_text(), re.M)}
    links = [(p.name, a) for p in SOURCES + [LEARN / "README.md"]
             for a in re.findall(r"\.\./glossary\.md#([\w\-]+)", p.read_text())]
    assert len(links) > 30
    assert [link for link in links if link[1] not in anchors] == []
