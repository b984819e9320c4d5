"""What the learning notebooks share: the utterance they study, a function's source, exercise checks.

    speech()                  (name, float32 signal at 16 kHz): a RAVDESS utterance if the corpus is
                              present (../shared or $SER_REF_RAVDESS), else a synthetic-corpus voice
    show(fn)                  the source of a library function, with its file and line
    check(name, answer, expected, tol=0)
                              an exercise: None (not answered yet) is skipped with a note; any other
                              answer must equal ``expected`` (within ``tol`` for numbers)
"""
from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import numpy as np

# librosa loads pooch, pooch loads tqdm.auto, and tqdm.auto complains inside a notebook without
# ipywidgets; nothing here shows a progress bar
warnings.filterwarnings("ignore", message="IProgress not found")

# "Kids are talking by the door", angry, strong (the utterance of docs/walkthrough.md)
RAVDESS_FILE = "Actor_01/03-01-05-02-01-01-01.wav"


def speech():
    """(name, signal): the walkthrough's RAVDESS utterance when the corpus is here, else the
    synthetic corpus' first speaker, angry (generated, no file needed)."""
    from ser_ref.corpora.synthetic import utterance
    from ser_ref.files import locations
    from ser_ref.frontend.audio import load_audio

    root = locations.ravdess_root()
    if root is not None and (root / RAVDESS_FILE).exists():
        return f"RAVDESS {RAVDESS_FILE}", load_audio(root / RAVDESS_FILE)
    return "synthetic corpus: speaker 1, anger (no RAVDESS copy here)", utterance(0, "anger")


def show(fn):
    """Print where ``fn`` lives (repository-relative) and display its source."""
    import ser_ref

    fn = inspect.unwrap(fn)  # through functools.lru_cache and other wrappers
    path = Path(inspect.getsourcefile(fn)).resolve()
    root = Path(ser_ref.__file__).resolve().parents[1]
    where = path.relative_to(root) if path.is_relative_to(root) else path.name
    lines, first = inspect.getsourcelines(fn)
    print(f"{fn.__module__}.{fn.__qualname__}  ({where}, line {first})")
    try:
        from IPython.display import Code, display

        display(Code("".join(lines), language="python"))
    except ImportError:
        print("".join(lines))


def check(name: str, answer, expected, tol: float = 0.0) -> None:
    """Says whether ``answer`` equals ``expected`` (numbers: within ``tol``). None means 'not
    answered yet' and is skipped with a note; a wrong answer raises AssertionError saying so."""
    if answer is None:
        print(f"{name}: not answered yet. Put your answer in the cell above and run both cells again.")
        return
    if isinstance(expected, (int, float, np.number)) and not isinstance(expected, bool):
        ok = abs(float(answer) - float(expected)) <= tol
    else:
        ok = answer == expected
    assert ok, f"{name}: {answer!r} is not it; read the solution below"
    print(f"{name}: right ({answer!r})")
