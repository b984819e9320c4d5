"""The figures of ``python -m ser_ref.explain``: one PNG per stage, sized for a projector.

Every figure carries, under its title, the functions that computed it and the equation line of
their docstrings (``Stage.equations``). matplotlib is the ``plot`` extra; importing this module
without it raises one clear SerRefError.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np

from ..files.atomic import atomic_path
from ..errors import SerRefError

try:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
except ImportError as exc:  # pragma: no cover - exercised by a test that hides matplotlib
    raise SerRefError("explain's figures need matplotlib: pip install -e '.[plot]' "
                      "(or pass --no-figures for explain.md alone)") from exc

DPI = 100
EQUATION_PT = 9.5  # the equation lines under each title


def _seconds(n, step_samples, sr=16000):
    return np.arange(n) * step_samples / sr


def _waveform(fig, s):
    x, sr = s.data["x"], s.data["sr"]
    ax = fig.add_subplot(111)
    ax.plot(np.arange(x.size) / sr, x, lw=0.5)
    ax.set(xlabel="time (s)", ylabel="amplitude (int16 / 32768)")


def _framing(fig, s):
    frames, w, t = s.data["frames"], s.data["window"], s.data["t"]
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(frames[t], lw=0.8, label=f"x_{t}[n]")
    ax1.plot(w * np.abs(frames[t]).max(), lw=1.5, label="w[n] (scaled)")
    ax1.set(xlabel="n (samples)", title=f"loudest frame t* = {t} and the Hann window")
    ax1.legend(loc="upper right", fontsize=8)
    ax2.plot(w * frames[t], lw=0.8, color="C2")
    ax2.set(xlabel="n (samples)", title="w[n] x_t*[n]: what the FFT sees")


def _spectrum(fig, s):
    P, df, t = s.data["power"], s.data["df"], s.data["t"]
    db = 10 * np.log10(np.maximum(P, 1e-12))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    secs = _seconds(P.shape[0], s.data["step"])
    im = ax1.imshow(db.T, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 90,
                    extent=[0, secs[-1] if len(secs) > 1 else 1, 0, (P.shape[1] - 1) * df])
    ax1.set(xlabel="time (s)", ylabel="frequency (Hz)", title="10 log10 P_t[k]")
    fig.colorbar(im, ax=ax1, label="dB")
    ax2.plot(np.arange(P.shape[1]) * df, db[t], lw=0.8)
    ax2.set(xlabel="frequency (Hz)", ylabel="dB", title=f"frame t* = {t}")


def _mel(fig, s):
    H, df, L = s.data["H"], s.data["df"], s.data["logmel"]
    ax1, ax2 = fig.subplots(1, 2)
    f = np.arange(H.shape[0]) * df
    for c in range(H.shape[1]):
        ax1.plot(f, H[:, c], lw=0.8)
    ax1.set(xlabel="frequency (Hz)", ylabel="weight H[k, c]", title=f"{H.shape[1]} mel triangles")
    secs = _seconds(L.shape[0], s.data["step"])
    im = ax2.imshow(L.T, origin="lower", aspect="auto", cmap="viridis",
                    extent=[0, secs[-1] if len(secs) > 1 else 1, 0, L.shape[1]])
    ax2.set(xlabel="time (s)", ylabel="mel channel c", title="l_t[c] = ln max(E_t[c], 1e-12)")
    fig.colorbar(im, ax=ax2)


def _mfcc(fig, s):
    c = s.data["mfcc"]
    ax = fig.add_subplot(111)
    secs = _seconds(c.shape[0], s.data["step"])
    lim = np.abs(c[:, 1:]).max()
    im = ax.imshow(c.T, origin="lower", aspect="auto", cmap="coolwarm", vmin=-lim, vmax=lim,
                   extent=[0, secs[-1] if len(secs) > 1 else 1, -0.5, c.shape[1] - 0.5])
    ax.set(xlabel="time (s)", ylabel="coefficient i", title="mfcc_t[i] (c0 off the colour scale)")
    fig.colorbar(im, ax=ax)


def _window(fig, s):
    w, t = s.data["window"], s.data["t"]
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
    grid = w.reshape(19, -1)
    lim = max(np.abs(grid[:, 1:]).max(), 1e-6)
    im = ax1.imshow(grid, aspect="auto", cmap="coolwarm", vmin=-lim, vmax=lim,
                    extent=[-0.5, grid.shape[1] - 0.5, t + 9.5, t - 9.5])
    ax1.set(xlabel="coefficient c", ylabel="context frame", title="19 x 26 (c0 off the scale)")
    ax1.yaxis.set_major_locator(MaxNLocator(integer=True))  # frames are whole numbers
    fig.colorbar(im, ax=ax1)
    ax2.plot(w, lw=0.8)
    for j in range(1, 19):
        ax2.axvline(j * (w.size // 19), color="0.85", lw=0.5)
    ax2.set(xlabel="input index j * 26 + c", title="the 494 inputs of layer 1")


def _layer1(fig, s):
    h, clip = s.data["h"], s.data["clip"]
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    secs = _seconds(h.shape[0], s.data["step"])
    top = float(np.percentile(h[h > 0], 99)) if np.any(h > 0) else clip  # a few large values would wash it out
    im = ax1.imshow(h.T, origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=top, interpolation="nearest",
                    extent=[0, secs[-1] if len(secs) > 1 else 1, 0, h.shape[1]])
    ax1.set(xlabel="time (s)", ylabel="unit", title=f"h_t (0 white, >= {top:.3g} black)")
    fig.colorbar(im, ax=ax1)
    ax2.hist(h[h > 0].ravel(), bins=60, range=(0, clip), color="C0")
    ax2.set(yscale="log", xlabel="activation", ylabel="count",
            title=f"h > 0; {100 * np.mean(h == 0):.1f} % are 0, {int(np.sum(h == clip))} = {clip:g}")


def _llds(fig, s):
    v, voiced, loud = s.data["voice"], s.data["voiced"], s.data["loudness"]
    rows = [("F0 (semitones from 27.5 Hz)", v["F0semitoneFrom27.5Hz"]), ("loudness (sma3)", loud),
            ("F1, F2, F3 (Hz)", None), ("HNR (dB)", v["HNRdBACF"]), ("jitter (local)", v["jitterLocal"]),
            ("shimmer (dB)", v["shimmerLocaldB"])]
    axes = fig.subplots(len(rows), 1, sharex=True)
    t = np.arange(len(voiced)) * 0.01
    for ax, (name, y) in zip(axes, rows):
        if y is None:
            for i in range(1, 4):
                f = v[f"F{i}frequency"]
                ax.plot(t, np.where(f > 0, f, np.nan), ".", ms=2, label=f"F{i}")
            ax.legend(loc="upper right", fontsize=7, ncol=3)
        else:
            n = min(len(t), len(y))
            ax.plot(t[:n], np.where(voiced[:n] | (name.startswith("loud")), y[:n], np.nan), lw=0.9)
        ax.fill_between(t, 0, 1, where=voiced, color="C1", alpha=0.12, transform=ax.get_xaxis_transform(), lw=0)
        ax.set_ylabel(name, fontsize=8.5, rotation=0, ha="right")
    axes[-1].set_xlabel("time (s); shaded: voiced (F0 > 0)")


# the 88 functionals by what they describe, in EGEMAPS_NAMES order; (title, does a name belong)
FUNCTIONAL_GROUPS = (
    ("pitch: F0 in semitones from 27.5 Hz", lambda n: n.startswith("F0semitone")),
    ("loudness", lambda n: n.startswith("loudness_")),
    ("spectrum, all frames", lambda n: n.startswith(("spectralFlux_", "mfcc1_", "mfcc2_", "mfcc3_", "mfcc4_"))),
    ("voice quality", lambda n: n.startswith(("jitter", "shimmer", "HNR", "logRelF0"))),
    ("formants F1-F3", lambda n: n[:2] in ("F1", "F2", "F3")),
    ("spectrum, voiced frames", lambda n: re.match(r"(alphaRatio|hammarbergIndex|slope|spectralFlux|mfcc\d)V[_\d]", n)),
    ("spectrum, unvoiced frames", lambda n: re.match(r"(alphaRatio|hammarbergIndex|slope|spectralFlux)UV[_\d]", n)),
    ("temporal", lambda n: "_" not in n or n.startswith("equivalentSoundLevel")),
)


def functional_groups(names) -> list:
    """[(title, [indices])]: every name in the first group that claims it (an unclaimed one in "other").

    Examples
    --------
    >>> from ser_ref.egemaps import EGEMAPS_NAMES
    >>> [(t, len(i)) for t, i in functional_groups(EGEMAPS_NAMES)][:5]
    [('pitch: F0 in semitones from 27.5 Hz', 10), ('loudness', 10), ('spectrum, all frames', 10), ('voice quality', 10), ('formants F1-F3', 18)]
    >>> sum(len(i) for _, i in functional_groups(EGEMAPS_NAMES)), functional_groups(EGEMAPS_NAMES)[-1][0]
    (88, 'temporal')
    """
    groups = {title: [] for title, _ in FUNCTIONAL_GROUPS}
    other = []
    for i, n in enumerate(names):
        title = next((t for t, belongs in FUNCTIONAL_GROUPS if belongs(n)), None)
        (groups[title] if title else other).append(i)
    out = [(t, idx) for t, idx in groups.items() if idx]
    return out + ([("other", other)] if other else [])


def _short(name: str) -> str:
    """A functional's name without the smoothing tag (_sma3, _sma3nz) and with F0's unit left to the
    group title, so that the labels are short enough to read."""
    return name.replace("_sma3nz", "").replace("_sma3", "").replace("F0semitoneFrom27.5Hz", "F0")


def _functionals(fig, s):
    vals, names = np.asarray(s.data["values"]), list(s.data["names"])
    groups = functional_groups(names)
    half = (sum(len(i) for _, i in groups) + 2 * len(groups)) / 2
    columns, used = [[], []], 0
    for g in groups:  # fill the left column to about half the rows, the rest to the right
        columns[0 if used + len(g[1]) / 2 <= half else 1].append(g)
        used += len(g[1]) + 2
    mag = np.sign(vals) * np.log10(1 + np.abs(vals))
    lim = float(np.max(np.abs(mag))) * 1.35
    for c, col in enumerate(columns):  # each column its own grid, a row per functional (3 per title)
        grid = fig.add_gridspec(sum(len(i) + 3 for _, i in col), 1, left=0.2 + 0.5 * c, right=0.46 + 0.5 * c,
                                top=0.98, bottom=0.06)
        r = 0
        for title, idx in col:
            ax = fig.add_subplot(grid[r + 1:r + 1 + len(idx), 0])
            r += len(idx) + 3
            y = np.arange(len(idx))
            ax.barh(y, mag[idx], color=np.where(vals[idx] >= 0, "C0", "C3"), height=0.7)
            for k, i in enumerate(idx):
                ax.text(mag[i] + (0.05 if mag[i] >= 0 else -0.05) * lim, k, f"{vals[i]:.3g}", va="center",
                        ha="left" if mag[i] >= 0 else "right", fontsize=6.5)
            ax.set_yticks(y, [_short(names[i]) for i in idx], fontsize=7)
            ax.set_ylim(len(idx) - 0.5, -0.5)
            ax.set_xlim(-lim, lim)
            ax.axvline(0, color="0.5", lw=0.6)
            ax.set_title(title, fontsize=9, loc="left")
            ax.tick_params(axis="x", labelsize=7)
        ax.set_xlabel("sign(v) log10(1 + |v|); the value v at each bar", fontsize=8)
    return True  # laid out here: no tight_layout


def _model(fig, s):
    p, frames, classes = s.data["proba"], s.data["frames"], s.data["classes"]
    if frames is None:
        ax2 = fig.add_subplot(111)
    else:
        ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
        secs = _seconds(s.data["first_frame"] + frames.shape[0], s.data["step"])[s.data["first_frame"]:]
        ax1.stackplot(secs, frames.T, labels=classes, alpha=0.85)
        if s.data["running"]:
            ax1.set(ylabel="P(class | frames so far)", title="the LSTM's running decision")
        else:
            ax1.set(ylabel="P(class | frame)", title="per frame")
        ax1.set(xlabel="time (s)", ylim=(0, 1))
        ax1.legend(loc="upper right", fontsize=7)
    ax2.bar(classes, p, color=[f"C{i}" for i in range(len(classes))])
    ax2.set(ylim=(0, 1), title=f"utterance: {classes[int(np.argmax(p))]}")


DRAW = {"01-waveform": _waveform, "02-framing": _framing, "03-spectrum": _spectrum, "04-mel": _mel,
        "05-mfcc": _mfcc, "06-window": _window, "07-layer1": _layer1, "08-llds": _llds,
        "09-functionals": _functionals, "10-model": _model}
SIZES = {"08-llds": (11, 8), "09-functionals": (12, 10.5)}


def draw_stage(stage, path) -> Path:
    """One stage's figure, titled with its functions and equations, saved as PNG at ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> from ser_ref.walkthrough.stages import stage_waveform
    >>> s = stage_waveform(np.sin(np.arange(1600.0) / 10).astype(np.float32), "x.wav")
    >>> p = draw_stage(s, os.path.join(tempfile.mkdtemp(), "01-waveform.png"))
    >>> p.name, p.stat().st_size > 1000
    ('01-waveform.png', True)
    """
    fig = plt.figure(figsize=SIZES.get(stage.key, (11, 4.2)), dpi=DPI)
    if not DRAW[stage.key](fig, stage):  # a drawer that places its own axes says so
        fig.tight_layout()
    W, H = fig.get_size_inches()
    per_line = int(W * 72 / (0.6 * EQUATION_PT)) - 2  # monospace characters across the figure
    lines = [part for name, _, eq in stage.equations()
             for part in textwrap.wrap(f"{name}:  {eq}", per_line, subsequent_indent="      ")]
    # the header is added above the panels (the figure grows by it), laid out in inches
    header = 0.45 + len(lines) * EQUATION_PT * 1.3 / 72 + 0.1
    fig.set_size_inches(W, H + header)
    total = H + header
    fig.suptitle(stage.title, fontsize=14, x=0.01, y=1 - 0.08 / total, ha="left", va="top")
    fig.text(0.01, 1 - 0.45 / total, "\n".join(lines), fontsize=EQUATION_PT, family="monospace", va="top", ha="left")
    for ax in fig.axes:  # the panels keep their size and place in inches, below the header
        x0, y0, w, h = ax.get_position().bounds
        ax.set_position([x0, y0 * H / total, w, h * H / total])
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


def draw_all(stages, out) -> list:
    """Every stage's figure into folder ``out`` as <key>.png; returns the paths.

    Examples
    --------
    >>> import tempfile
    >>> from ser_ref.walkthrough.stages import stage_waveform
    >>> [p.name for p in draw_all([stage_waveform(np.ones(1600, np.float32), "x.wav")], tempfile.mkdtemp())]
    ['01-waveform.png']
    """
    return [draw_stage(s, Path(out) / f"{s.key}.png") for s in stages]
