"""Other toolkits' fold files: read them, match them to a corpus, check them for speaker leaks, and
turn them into ``splits.Split`` objects the runner can use.

Two layouts are read:

    EmoBox   a folder of fold_K/<name>_train_fold_K.jsonl and fold_K/<name>_test_fold_K.jsonl,
             one JSON object per line with a ``wav`` path and an ``emo`` label
    CSV      a header with ``path`` and ``fold`` (fold K tests on the rows of fold K and trains on
             all other rows), or ``path`` and ``split`` (train / test: one split); an optional
             ``label`` (or ``emo``, ``emotion``) column is checked against the corpus

Files are matched to the corpus's items by file name (by more of the path where two items share a
name, by the name without its suffix where the copy was converted, e.g. .wav -> .flac). Speakers
come from the corpus items, never from the fold file. ``check`` reports per fold the speakers in
both train and test, the files it could not match, files left out as other emotions, and labels
that disagree with the corpus; ``splits`` gives the folds as index splits over the items.

A malformed fold file (bad JSON, a line without ``wav``, a CSV without ``fold`` or ``split``) is one
``SerRefError`` naming the file and line.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from ..corpora import LABELS
from ..errors import SerRefError
from ..files.regular import kind_of, read_regular
from .splits import Split

# label spellings of the four classes in other toolkits' files (case-insensitive); single letters are
# left out on purpose: EmoDB's "A" is fear (Angst), URDU's "A" is anger
LABEL_NAMES = {
    "anger": "anger", "angry": "anger", "ang": "anger",
    "happiness": "happiness", "happy": "happiness", "hap": "happiness", "joy": "happiness",
    "sadness": "sadness", "sad": "sadness",
    "neutral": "neutral", "neu": "neutral",
}
assert set(LABEL_NAMES.values()) == set(LABELS)
LABEL_COLUMNS = ("label", "emo", "emotion")


@dataclass(frozen=True)
class Entry:
    """One file named by a fold file: ``where`` ("fold file:line", 1-based), its path and label as written."""

    where: str
    path: str
    label: str | None = None


@dataclass(frozen=True)
class FoldSpec:
    """One fold as a fold file gives it: the entries to train on and to test on."""

    name: str
    train: tuple = ()
    test: tuple = ()


@dataclass
class FoldCheck:
    """What one fold looks like against the corpus (speakers as the corpus loader derives them)."""

    name: str
    n_train: int
    n_test: int
    train_speakers: list
    test_speakers: list
    overlap: list                                             # speakers in train and test
    files_in_both: list = field(default_factory=list)         # test entries whose file is also in train
    unmatched: list = field(default_factory=list)             # "file:line: path" not in the corpus
    other_classes: list = field(default_factory=list)         # not in the corpus, labelled another emotion
    label_disagreements: list = field(default_factory=list)   # {"file", "fold_label", "corpus_label"}


@dataclass
class ProtocolCheck:
    """Every fold's ``FoldCheck``; the protocol is speaker-disjoint when no fold shares a speaker."""

    folds: list

    @property
    def speaker_disjoint(self) -> bool:
        return not any(f.overlap for f in self.folds)

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return {"folds": [asdict(f) for f in self.folds], "speaker_disjoint": self.speaker_disjoint}

    def lines(self, examples: int = 3) -> list[str]:
        """The report as text: one line per fold, indented lines for what needs a look, a verdict.

        Examples
        --------
        >>> fold = FoldCheck("fold_1", 2, 1, ["a", "b"], ["b"], ["b"])
        >>> print("\\n".join(ProtocolCheck([fold]).lines()))
        fold_1: 2 train, 1 test files matched; speakers in train and test: b
        NOT speaker-independent: speakers b in train and test of fold_1
        """
        out = []
        for f in self.folds:
            out.append(f"{f.name}: {f.n_train} train, {f.n_test} test files matched; speakers in train and test: "
                       f"{', '.join(f.overlap) if f.overlap else 'none'}")
            if f.files_in_both:
                out.append(f"  the same file in train and test: {_some(f.files_in_both, examples)}")
            if f.unmatched:
                out.append(f"  not in the corpus: {_some(f.unmatched, examples)}")
            if f.other_classes:
                out.append(f"  left out as other emotions: {len(f.other_classes)} files "
                           f"(labels {', '.join(sorted({e['label'] for e in f.other_classes}))})")
            if f.label_disagreements:
                shown = [f"{d['file']}: fold says {d['fold_label']!r}, corpus {d['corpus_label']}"
                         for d in f.label_disagreements]
                out.append(f"  labels that disagree with the corpus: {_some(shown, examples)}")
        leaky = [f for f in self.folds if f.overlap]
        if leaky:
            out.append("NOT speaker-independent: " + "; ".join(
                f"speakers {', '.join(f.overlap)} in train and test of {f.name}" for f in leaky))
        else:
            out.append(f"speaker-independent: no speaker is in train and test of any of the {len(self.folds)} folds")
        return out


def _some(things: list, k: int) -> str:
    return f"{len(things)} (e.g. {'; '.join(map(str, things[:k]))})"


# ------------------------------------------------------------------------------------ reading
def read(path) -> list[FoldSpec]:
    """The folds of an EmoBox folder or a CSV file.

    Examples
    --------
    >>> read("/no/such/folds")
    Traceback (most recent call last):
    ...
    ser_ref.errors.SerRefError: /no/such/folds: no such fold folder or CSV file
    """
    path = Path(path)
    if path.is_dir():
        return read_emobox(path)
    if path.is_file():
        return read_csv(path)
    if path.exists():  # a FIFO, a device, a socket: never opened (a FIFO would block for ever)
        raise SerRefError(f"{path}: {kind_of(path.stat().st_mode)}, not a fold folder or CSV file")
    raise SerRefError(f"{path}: no such fold folder or CSV file")


def read_emobox(folder) -> list[FoldSpec]:
    """EmoBox's layout: ``fold_K/<name>_{train,test}_fold_K.jsonl`` under ``folder``, folds by K.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()); (root / "fold_1").mkdir()
    >>> _ = (root / "fold_1" / "x_train_fold_1.jsonl").write_text('{"wav": "a/1.wav", "emo": "Sad"}\\n')
    >>> _ = (root / "fold_1" / "x_test_fold_1.jsonl").write_text('{"wav": "b/2.wav", "emo": "Angry"}\\n')
    >>> [(f.name, f.train[0].path, f.test[0].label) for f in read_emobox(root)]
    [('fold_1', 'a/1.wav', 'Angry')]
    """
    folder = Path(folder)
    folds = sorted((int(m.group(1)), p) for p in folder.iterdir()
                   if p.is_dir() and (m := re.fullmatch(r"fold_(\d+)", p.name)))
    if not folds:
        raise SerRefError(f"{folder}: no fold_K/ folders (EmoBox layout: fold_K/<name>_train_fold_K.jsonl and "
                          f"<name>_test_fold_K.jsonl)")
    return [FoldSpec(f"fold_{k}", _read_jsonl(_one(p, f"*_train_fold_{k}.jsonl")),
                     _read_jsonl(_one(p, f"*_test_fold_{k}.jsonl"))) for k, p in folds]


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise SerRefError(f"{folder}: expected one file {pattern}, found {len(found)}"
                          + (f" ({', '.join(p.name for p in found)})" if found else ""))
    return found[0]


def _read_jsonl(path: Path) -> tuple:
    entries = []
    for no, text in enumerate(_text(path).splitlines(), 1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SerRefError(f"{path}:{no}: not valid JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise SerRefError(f"{path}:{no}: expected a JSON object with 'wav' and 'emo', got {type(obj).__name__}")
        wav = obj.get("wav")
        if not isinstance(wav, str) or not wav.strip():
            raise SerRefError(f"{path}:{no}: no 'wav' path (each line needs a JSON object with 'wav' and 'emo')")
        emo = obj.get("emo")
        entries.append(Entry(f"{path}:{no}", wav.strip(), None if emo is None else str(emo)))
    return tuple(entries)


MAX_FOLD_FILE = 256 * 2**20  # bytes: a list of a million utterances' paths is about 100 MB


def _text(path: Path) -> str:
    """A fold file's text: a regular file only (a FIFO would block for ever), of bounded size."""
    data = read_regular(path, MAX_FOLD_FILE, "fold file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SerRefError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_csv(path) -> list[FoldSpec]:
    """A CSV with columns ``path,fold`` (fold K tests on its rows, trains on the others; folds in
    numeric order when every value is an integer) or ``path,split`` (``train`` / ``test``).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "folds.csv"
    >>> _ = p.write_text("path,fold\\na/1.wav,2\\nb/2.wav,10\\nc/3.wav,2\\n")
    >>> [(f.name, [e.path for e in f.test], len(f.train)) for f in read_csv(p)]
    [('fold_2', ['a/1.wav', 'c/3.wav'], 1), ('fold_10', ['b/2.wav'], 2)]
    >>> _ = p.write_text("path,speaker\\na/1.wav,x\\n")
    >>> read_csv(p)
    Traceback (most recent call last):
    ...
    ser_ref.errors.SerRefError: .../folds.csv:1: a fold CSV needs the columns path and fold (or path and split); found path, speaker
    """
    path = Path(path)
    reader = csv.reader(_text(path).splitlines())
    header = [h.strip().lower() for h in next(reader, [])]
    key = "fold" if "fold" in header else "split"
    if "path" not in header or key not in header:
        raise SerRefError(f"{path}:1: a fold CSV needs the columns path and fold (or path and split); "
                          f"found {', '.join(header) or 'no header'}")
    rows = _csv_rows(path, reader, header, key)
    if key == "split":
        return [FoldSpec("split", tuple(e for g, e in rows if g == "train"), tuple(e for g, e in rows if g == "test"))]
    values = list(dict.fromkeys(g for g, _ in rows))
    order = sorted(values, key=int) if all(re.fullmatch(r"[+-]?\d+", v) for v in values) else sorted(values)
    return [FoldSpec(f"fold_{v}", tuple(e for g, e in rows if g != v), tuple(e for g, e in rows if g == v))
            for v in order]


def _csv_rows(path: Path, reader, header: list, key: str) -> list:
    """(fold value or train/test, Entry) per non-empty row; the first bad row is the error."""
    label_col = next((header.index(c) for c in LABEL_COLUMNS if c in header), None)
    rows = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        no = reader.line_num
        if len(row) < len(header):
            raise SerRefError(f"{path}:{no}: {len(row)} fields, the header has {len(header)}")
        value, file = row[header.index(key)].strip(), row[header.index("path")].strip()
        if not file:
            raise SerRefError(f"{path}:{no}: empty path")
        if key == "split" and value.lower() not in ("train", "test"):
            raise SerRefError(f"{path}:{no}: split must be train or test, got {value!r}")
        if not value:
            raise SerRefError(f"{path}:{no}: empty fold")
        label = None if label_col is None else row[label_col].strip() or None
        rows.append((value.lower() if key == "split" else value, Entry(f"{path}:{no}", file, label)))
    if not rows:
        raise SerRefError(f"{path}: no rows under the header")
    return rows


# ----------------------------------------------------------------------------------- matching
def normalize_label(label) -> str | None:
    """One of the four classes for a label as other toolkits spell it, else None.

    Examples
    --------
    >>> normalize_label("Angry"), normalize_label(" hap "), normalize_label("Calm")
    ('anger', 'happiness', None)
    """
    return None if label is None else LABEL_NAMES.get(str(label).strip().lower())


class _Index:
    """Corpus items by file name, by name without suffix, and by the path's parts for shared names."""

    def __init__(self, items):
        self.parts = [Path(it.path).parts for it in items]
        self.by_name, self.by_stem = {}, {}
        for i, parts in enumerate(self.parts):
            self.by_name.setdefault(parts[-1], []).append(i)
            self.by_stem.setdefault(_stem(parts[-1]), []).append(i)

    def find(self, entry: Entry) -> int | None:
        parts = PurePosixPath(entry.path.replace("\\", "/")).parts
        if not parts:
            return None
        found = self.by_name.get(parts[-1]) or self.by_stem.get(_stem(parts[-1]), [])
        k = 2
        while len(found) > 1 and k <= len(parts):  # a shared name: compare folders from the end
            narrower = [i for i in found if len(self.parts[i]) >= k and self.parts[i][-k] == parts[-k]]
            if not narrower:
                break
            found, k = narrower, k + 1
        if len(found) > 1:
            raise SerRefError(f"{entry.where}: {entry.path} matches {len(found)} corpus files "
                              f"({', '.join('/'.join(self.parts[i][-2:]) for i in found[:3])}); name it by a "
                              f"longer path")
        return found[0] if found else None


def _stem(name: str) -> str:
    return PurePosixPath(name).stem


@dataclass
class _Matched:
    spec: FoldSpec
    train: list          # (entry, item index) of the matched train entries, in the fold file's order
    test: list
    unmatched: list      # entries not in the corpus


def _match(specs, items) -> list[_Matched]:
    index = _Index(items)
    out = []
    for spec in specs:
        m = _Matched(spec, [], [], [])
        for part, entries in ((m.train, spec.train), (m.test, spec.test)):
            for e in entries:
                i = index.find(e)
                if i is None:
                    m.unmatched.append(e)
                else:
                    part.append((e, i))
        out.append(m)
    return out


def _indices(pairs) -> np.ndarray:
    return np.unique(np.asarray([i for _, i in pairs], np.int64))


def splits(specs, items) -> list[Split]:
    """The folds as ``Split(name, index, train_idx, test_idx)`` over ``items`` (the corpus items the
    features were computed for, in that order); fold files' entries not among them are dropped
    (``check`` lists them). A fold with nothing left to train or test on is an error.

    Examples
    --------
    >>> from ser_ref.corpora import Item
    >>> items = [Item(Path(f"s{k % 2}/u{k}.wav"), f"s{k % 2}", "sadness") for k in range(4)]
    >>> spec = FoldSpec("fold_1", (Entry("f.csv:2", "x/u0.wav"), Entry("f.csv:3", "u2.wav")),
    ...                 (Entry("f.csv:4", "u1.wav"), Entry("f.csv:5", "u9.wav")))
    >>> [(s.name, s.train_idx.tolist(), s.test_idx.tolist()) for s in splits([spec], items)]
    [('fold_1', [0, 2], [1])]
    """
    out = []
    for k, m in enumerate(_match(specs, items)):
        for part, pairs in (("train", m.train), ("test", m.test)):
            if not pairs:
                n = len(getattr(m.spec, part))
                raise SerRefError(f"{m.spec.name}: none of its {n} {part} files is among the {len(items)} corpus "
                                  f"files used")
        out.append(Split(m.spec.name, k, _indices(m.train), _indices(m.test)))
    return out


def speaker_overlap(split: Split, speakers) -> tuple[list, list, list]:
    """(train speakers, test speakers, speakers in both) of one split, each sorted.

    Examples
    --------
    >>> speaker_overlap(Split("k", 0, np.array([0, 1]), np.array([2])), ["a", "b", "b"])
    (['a', 'b'], ['b'], ['b'])
    """
    speakers = np.asarray(speakers).astype(str)
    train, test = (sorted({str(s) for s in speakers[idx]}) for idx in (split.train_idx, split.test_idx))
    return train, test, sorted(set(train) & set(test))


def check(specs, items) -> ProtocolCheck:
    """Each fold against the corpus: speakers in train and test, the same file in both, files not
    in the corpus (and those left out as other emotions), and labels that disagree with the corpus.

    Examples
    --------
    >>> from ser_ref.corpora import Item
    >>> items = [Item(Path(f"s{k % 2}/u{k}.wav"), f"s{k % 2}", "anger") for k in range(4)]
    >>> spec = FoldSpec("fold_1", (Entry("f:1", "u0.wav", "ang"), Entry("f:2", "u1.wav", "sad")),
    ...                 (Entry("f:3", "u3.wav", "ang"), Entry("f:4", "u7.wav", "fear")))
    >>> f = check([spec], items).folds[0]
    >>> f.overlap, f.other_classes, f.label_disagreements
    (['s1'], [{'file': 'f:4: u7.wav', 'label': 'fear'}], [{'file': 'f:2: u1.wav', 'fold_label': 'sad', 'corpus_label': 'anger'}])
    """
    speakers = [it.speaker for it in items]
    folds = []
    for m in _match(specs, items):
        split = Split(m.spec.name, 0, _indices(m.train), _indices(m.test))
        train, test, both = speaker_overlap(split, speakers)
        other = [e for e in m.unmatched if e.label is not None and normalize_label(e.label) is None]
        in_train = set(split.train_idx.tolist())
        folds.append(FoldCheck(
            m.spec.name, len(split.train_idx), len(split.test_idx), train, test, both,
            files_in_both=[_where(e) for e, i in m.test if i in in_train],
            unmatched=[_where(e) for e in m.unmatched if e not in other],
            other_classes=[{"file": _where(e), "label": e.label} for e in other],
            label_disagreements=[{"file": _where(e), "fold_label": e.label, "corpus_label": items[i].label}
                                 for e, i in m.train + m.test
                                 if e.label is not None and normalize_label(e.label) != items[i].label]))
    return ProtocolCheck(folds)


def _where(e: Entry) -> str:
    return f"{e.where}: {e.path}"


# ------------------------------------------------------------------------------ runs on fold files
def protocol_splits(folds, data):
    """(splits, data) of a run: leave-one-speaker-out over ``data.speakers`` when ``folds`` is None
    (``data`` unchanged), else the folds of the fold file ``folds`` over ``data.items``, with the
    folds' content mixed into ``data.digest`` (a checkpoint of other folds of the same name is then
    recomputed, not reused). Folds whose test sets share an utterance are refused: each utterance
    gets one prediction.

    Examples
    --------
    >>> from ser_ref.evaluation.runner import Dataset
    >>> data = Dataset(np.zeros(3, int), np.array(["b", "a", "b"]), {}, "d")
    >>> splits_, same = protocol_splits(None, data)
    >>> [s.name for s in splits_], same is data
    (['a', 'b'], True)
    """
    from dataclasses import replace

    from .runner import digest
    from .splits import loso

    if folds is None:
        return loso(data.speakers), data
    found = splits(read(folds), data.items)
    tested = np.concatenate([s.test_idx for s in found])
    twice = np.flatnonzero(np.bincount(tested, minlength=len(data.y)) > 1)
    if twice.size:
        where = [s.name for s in found if twice[0] in s.test_idx]
        raise SerRefError(f"{folds}: {twice.size} files are tested in more than one fold (e.g. "
                          f"{Path(data.items[twice[0]].path).name} in {', '.join(where)}); each file may be "
                          f"tested once")
    pinned = digest([data.digest, [(s.name, s.train_idx.tolist(), s.test_idx.tolist()) for s in found]])
    return found, replace(data, digest=pinned)


def utterances_tested(split_list, n: int) -> np.ndarray:
    """The utterances some split tests, in order (all of them under leave-one-speaker-out; a single
    train/test split tests only its test part).

    Examples
    --------
    >>> utterances_tested([Split("x", 0, np.array([0, 3]), np.array([2, 1]))], 4).tolist()
    [1, 2]
    """
    mask = np.zeros(n, dtype=bool)
    for s in split_list:
        mask[s.test_idx] = True
    return np.flatnonzero(mask)
