"""What one run of a command was asked to do, as a typed, frozen record.

A command builds it from its arguments (``ser_ref.commands.common.run_settings``) and hands it to the
library and to the manifest (``report.run_manifest``); the argparse namespace stays in the command.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunSettings:
    """One run's settings. ``arguments`` is every argument the command parsed, as text, in its order:
    the manifest records it as given, beside the command line ``argv``.

    >>> s = RunSettings("reproduce", corpus="ravdess", quick=True)
    >>> s.corpus, s.seed, s.mode, s.is_synthetic
    ('ravdess', 0, 'float', False)
    """

    command: str                          # the command's name: "reproduce", "train", ...
    argv: tuple[str, ...] = ()            # the command line the command parsed
    arguments: tuple[tuple[str, str], ...] = ()
    corpus: str | None = "synthetic"
    root: Path | None = None              # the corpus root (None: generated, or found as documented)
    model: Path | None = None             # DeepSpeech weights (None: found as documented)
    seed: int = 0                         # the (first) seed: the corpus's, the intervals', the first model run's
    seeds: tuple[int, ...] | None = None  # every seed the systems train with (None: just ``seed``)
    jobs: int | None = None               # worker processes (None: all cores)
    scheduler: str | None = None          # a Dask scheduler's address
    device: str = "cpu"
    mode: str = "float"                   # layer-1 arithmetic (deepspeech.layer1.MODES)
    step_ms: int = 20                     # MFCC frame step
    quick: bool = False                   # the reduced sizes of --quick
    features: str | None = None           # a layer of the whole model instead of the layer-1 path
    chunks: tuple[int, ...] | None = None  # Figure 3's chunk lengths (None: the paper's)
    out: Path | None = None
    folds: Path | None = None             # other toolkits' fold file (None: leave-one-speaker-out)

    # the fields a command's argument of the same name fills (commands.common.run_settings)
    FROM_ARGUMENTS = ("corpus", "root", "model", "seed", "seeds", "jobs", "scheduler", "device", "mode", "step_ms",
                      "quick", "features", "chunks", "out", "folds")

    def __post_init__(self):
        """``seeds`` is always the tuple of every seed, ``seed`` its first.

        >>> RunSettings("reproduce", seed=3).seeds, RunSettings("reproduce", seed=3, seeds=(3, 9)).seeds
        ((3,), (3, 9))
        >>> RunSettings("reproduce", seed=1, seeds=(3, 9))
        Traceback (most recent call last):
        ...
        ValueError: seed 1 is not the first of seeds (3, 9)
        """
        if self.seeds is None:
            object.__setattr__(self, "seeds", (self.seed,))
        elif not self.seeds or self.seeds[0] != self.seed:
            raise ValueError(f"seed {self.seed} is not the first of seeds {tuple(self.seeds)}")

    @property
    def is_synthetic(self) -> bool:
        return self.corpus == "synthetic"

    def fold_settings(self, seed: int | None = None, **kw):
        """The ``systems.Settings`` every fold of this run gets: the paper's sizes, or ``--quick``'s;
        with ``seed`` (default: the first seed).

        >>> RunSettings("train", quick=True, seed=4).fold_settings(chunk_len=10).rf_trees
        100
        """
        from .systems import Settings

        seed = self.seed if seed is None else seed
        return (Settings.quick if self.quick else Settings)(seed=seed, device=self.device, **kw)
