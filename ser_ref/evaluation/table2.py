"""The rows of the paper's Table 2 and the Figure 3 sweep, as runner entries.

Table 2 is six systems of ``ser_ref.evaluation.systems`` under leave-one-speaker-out; Figure 3 is Dense1+LSTM2
at other chunk lengths. ``table2_entries`` lists them for ``ser_ref.evaluation.runner.run``, which trains each
fold's Dense1 once for Dense1+Dense2, Dense1+LSTM2 and every chunk length.
"""
from __future__ import annotations

from .dataset import FeatureSpec
from .runner import Entry
from .splits import fold_seed  # noqa: F401  (re-exported: fold i's seed is seed + i)
from .systems import Settings

# The paper's Table 2 (IEMOCAP, improvised, 4 classes, LOSO accuracy in %).
PAPER_ACCURACY = {
    "majority": 34,
    "rf-egemaps": 67,
    "dense": 58,
    "lstm": 7,
    "dense1+dense2": 26,
    "dense1+lstm2": 66,
}
ROWS = tuple(PAPER_ACCURACY)
NN_ROWS = ("dense", "lstm", "dense1+dense2", "dense1+lstm2")
ROW_TITLES = {
    "majority": "Majority class",
    "rf-egemaps": "Random Forest on eGeMAPS",
    "dense": "Dense (per frame)",
    "lstm": "LSTM",
    "dense1+dense2": "Dense1 + Dense2",
    "dense1+lstm2": "Dense1 + LSTM2",
}
FIG3_CHUNKS = (5, 10, 20, 40, 80)   # Figure 3's chunk lengths in frames
FIG3_CHUNKS_QUICK = (10, 20)        # those of --quick


def table2_specs(weights, *, step_ms: int = 20, mode: str = "float", device: str = "cpu",
                 layer: str | None = None) -> dict:
    """The features Table 2's systems read: eGeMAPS for the forest, DeepSpeech layer 1 of ``weights``
    (or ``layer`` of the whole model) for the networks; ``build_dataset``'s specs.

    >>> from types import SimpleNamespace
    >>> specs = table2_specs(SimpleNamespace(source="w.npz", metadata={}), layer="layer3")
    >>> {name: spec.kind for name, spec in specs.items()}
    {'egemaps': 'egemaps', 'layer1': 'deepspeech'}
    """
    return {"egemaps": FeatureSpec("egemaps"),
            "layer1": FeatureSpec.deepspeech(weights, step_ms=step_ms, mode=mode, device=device, layer=layer)}


def sweep_key(chunk_len: int, settings: Settings) -> str:
    """The result key of Dense1+LSTM2 at ``chunk_len`` (the Table 2 row at the default length)."""
    return "dense1+lstm2" if chunk_len == settings.chunk_len else f"dense1+lstm2@{chunk_len}"


def table2_entries(settings: Settings, chunks=()) -> list[Entry]:
    """Every Table 2 row, then Dense1+LSTM2 at each chunk length of Figure 3 not already a row.

    >>> [e.key for e in table2_entries(Settings(), (10, 20))]
    ['majority', 'rf-egemaps', 'dense', 'lstm', 'dense1+dense2', 'dense1+lstm2', 'dense1+lstm2@10']
    """
    entries = [Entry(row, row, settings) for row in ROWS]
    entries += [Entry(sweep_key(c, settings), "dense1+lstm2", settings.with_chunk(c))
                for c in dict.fromkeys(chunks) if c != settings.chunk_len]
    return entries


__all__ = ["PAPER_ACCURACY", "ROWS", "NN_ROWS", "ROW_TITLES", "Settings", "fold_seed", "sweep_key",
           "table2_entries", "table2_specs", "FIG3_CHUNKS", "FIG3_CHUNKS_QUICK"]
