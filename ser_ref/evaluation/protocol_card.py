"""The protocol card of a results folder: ``protocol.json`` and ``protocol.md``, computed from what the
run used, never typed in.

    folds            one object per split: its train_speakers, test_speakers and their overlap
    speaker_disjoint no split shares a speaker between train and test
    classes          the class map (index = position; the corpus's own labels read by its loader) and
                     the files left out, by reason (the loader's) and by label (features that failed)
    normalisation    what the normalisation statistics see: the training speakers only, each test
                     speaker's own unlabelled audio, or a whole corpus (read off the run's groups)
    mfcc             step and window (the window from the model's metadata, as the features use it)
    model            sha256 of the .tflite and of the weight file read, language and origin: from the
                     model's metadata where it holds a language tag, else from ``KNOWN_MODELS`` by hash,
                     else "unknown"; the script of its alphabet, read off the alphabet itself
    corpora          name, file count, file-list hash, sample rates and channel counts found, and the
                     resampling ``frontend.audio`` applies to each
    seeds            ``run.seeds`` where the run has several, else ``[run.seed]``

``card(...)`` builds it, ``write(out, card)`` writes both files and, when the folds share speakers,
stamps the first line of ``table2.md`` (if the folder has one). Each command calls these two.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np

from ..corpora import LABELS
from ..deepspeech.fetch import MODEL_SHA256
from ..files import atomic
from .fold_files import speaker_overlap
from .splits import loso

PAPER_MODEL = "Mozilla's English DeepSpeech 0.9.3"
# models known by the sha256 of their .tflite (the metadata of this one holds a template, not a tag)
KNOWN_MODELS = {
    MODEL_SHA256: {"language": "hy", "language_name": "Armenian",
                   "origin": f"Coqui STT Armenian model from armspeech 0.1.4, not {PAPER_MODEL} that the paper used"},
}
# a BCP 47 tag as the metadata_language tensor should hold it ("en", "en-Latn-US", "hy-Armn-AM")
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
STAMP_HEAD = "NOT speaker-independent"


# ------------------------------------------------------------------------------------------ folds
def fold_records(split_list, speakers) -> list[dict]:
    """One object per split: name, utterance counts, train and test speakers and their overlap.

    Examples
    --------
    >>> from ser_ref.evaluation.splits import Split
    >>> fold_records([Split("k", 0, np.array([0, 1]), np.array([2]))], ["a", "b", "b"])
    [{'name': 'k', 'n_train': 2, 'n_test': 1, 'train_speakers': ['a', 'b'], 'test_speakers': ['b'], 'overlap': ['b']}]
    """
    out = []
    for s in split_list:
        train, test, both = speaker_overlap(s, speakers)
        out.append({"name": s.name, "n_train": int(len(s.train_idx)), "n_test": int(len(s.test_idx)),
                    "train_speakers": train, "test_speakers": test, "overlap": both})
    return out


def protocol_name(folds: list[dict], fold_file=None) -> str:
    """What kind of splits these are, read off them (a fold file's name where one was given).

    Examples
    --------
    >>> loso_like = {"test_speakers": ["a"], "overlap": []}
    >>> protocol_name([loso_like, loso_like]), protocol_name([loso_like], "f.csv")
    ('leave-one-speaker-out', 'the folds of f.csv')
    >>> protocol_name([loso_like, {"test_speakers": ["b", "c"], "overlap": []}])
    '1 leave-one-speaker-out splits and 1 other splits'
    """
    if fold_file is not None:
        return f"the folds of {Path(fold_file).name}"
    n = sum(len(f["test_speakers"]) == 1 and not f["overlap"] for f in folds)
    return "leave-one-speaker-out" if n == len(folds) else f"{n} leave-one-speaker-out splits and {len(folds) - n} other splits"


def leak_line(folds: list[dict]) -> str | None:
    """The stamp of a protocol whose folds share speakers (None when none does).

    Examples
    --------
    >>> leak_line([{"name": "fold_1", "overlap": ["a", "b"]}, {"name": "fold_2", "overlap": []}])
    'NOT speaker-independent: speakers a, b in train and test of fold_1'
    """
    leaky = [f for f in folds if f["overlap"]]
    if not leaky:
        return None
    return f"{STAMP_HEAD}: " + "; ".join(f"speakers {', '.join(f['overlap'])} in train and test of {f['name']}"
                                         for f in leaky)


# ---------------------------------------------------------------------------------- normalisation
def normalisation(norm_groups, speakers, folds: list[dict]) -> dict:
    """What the normalisation statistics see, read off the groups the runner z-scores by
    (``Dataset.norm_groups``; None: only the systems' standardisation with training statistics).

    Examples
    --------
    >>> spk = np.array(["a", "a", "b"])
    >>> normalisation(None, spk, [{"overlap": []}])["statistics_see"]
    'training speakers only'
    >>> normalisation(spk, spk, [{"overlap": []}])["statistics_see"]
    "each test speaker's own unlabelled audio"
    >>> normalisation(np.array(["c1", "c1", "c1"]), spk, [{"overlap": []}])["statistics_see"]
    'the whole corpus'
    """
    leaky = any(f["overlap"] for f in folds)
    if norm_groups is None:
        return {"statistics_see": "training utterances only, which include utterances of test speakers"
                                  if leaky else "training speakers only",
                "how": "each split's systems standardise with the statistics of its training utterances",
                "test_audio_seen": False}
    groups, speakers = np.asarray(norm_groups).astype(str), np.asarray(speakers).astype(str)
    names = np.unique(groups)
    by_speaker = all(len(np.unique(speakers[groups == g])) == 1 for g in names)
    return {"statistics_see": "each test speaker's own unlabelled audio" if by_speaker else "the whole corpus",
            "how": (f"every utterance z-scored with the mean and sd of its {'speaker' if by_speaker else 'group'} "
                    f"({len(names)} groups{'' if by_speaker else ': ' + ', '.join(names[:10])}), the test "
                    f"utterances included, before any split trains"),
            "test_audio_seen": True}


# ------------------------------------------------------------------------------------------ model
def script_of(alphabet) -> str | None:
    """The Unicode script of an alphabet's letters (the first word of their names), e.g. LATIN.

    Examples
    --------
    >>> script_of([" ", "a", "b", "'"]), script_of(["ա", "բ"]), script_of([" "])
    ('LATIN', 'ARMENIAN', None)
    """
    words = Counter(unicodedata.name(c, "?").split()[0] for a in alphabet for c in a if c.isalpha())
    return words.most_common(1)[0][0] if words else None


def _metadata_language(layer) -> str:
    """The language the weight file records (exported from the model's metadata_language), or ""."""
    language = layer.metadata.get("language")
    if language is None and str(layer.source).endswith(".npz"):
        try:
            with np.load(layer.source, allow_pickle=False) as z:
                language = str(z["language"]) if "language" in z.files else ""
        except (OSError, ValueError):
            language = ""
    return str(language or "").strip()


def model_record(layer) -> dict:
    """sha256 of the .tflite (``source_sha256``) and of the weight file read, language, origin.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> m = model_record(SimpleNamespace(source="w.npz", metadata={"source_sha256": MODEL_SHA256,
    ...                                  "language": "<language the model was trained on>", "alphabet": ["ա"]}))
    >>> m["language"], m["language_from"], m["alphabet_script"]
    ('hy', 'known hash', 'ARMENIAN')
    >>> model_record(SimpleNamespace(source="w.npz", metadata={"source_sha256": "00", "language": "en-US"}))["language"]
    'en-US'
    """
    meta = layer.metadata
    sha = meta.get("source_sha256")
    tag = _metadata_language(layer)
    known = KNOWN_MODELS.get(sha, {})
    if LANGUAGE_TAG.fullmatch(tag):
        language, source = tag, "model metadata"
    elif known:
        language, source = known["language"], "known hash"
    else:
        language, source = "unknown", "neither the model's metadata nor a known hash"
    return {"sha256": sha, "weights_file_sha256": meta.get("file_sha256"), "language": language,
            "language_name": known.get("language_name") if known.get("language") == language else None,
            "language_from": source, "metadata_language": tag,
            "alphabet_script": script_of(meta.get("alphabet") or []),
            "origin": known.get("origin", "unknown (not a model this project knows by its sha256)"),
            "paper_model": PAPER_MODEL}


# ---------------------------------------------------------------------------------------- corpora
def audio_formats(paths) -> dict:
    """{"sample_rates": {Hz: files}, "channels": {n: files}} read from the files' headers; files
    soundfile cannot read are counted under "unreadable".

    Examples
    --------
    >>> import tempfile, soundfile as sf
    >>> d = Path(tempfile.mkdtemp()); sf.write(d / "a.wav", np.zeros((800, 2)), 8000)
    >>> audio_formats([d / "a.wav", d / "missing.wav"])
    {'sample_rates': {'8000': 1}, 'channels': {'2': 1}, 'unreadable': 1}
    """
    import soundfile as sf

    rates, channels, bad = Counter(), Counter(), 0
    for p in paths:
        try:
            info = sf.info(str(p))
        except Exception:  # soundfile raises LibsndfileError / RuntimeError: the feature step names the file
            bad += 1
            continue
        rates[info.samplerate] += 1
        channels[info.channels] += 1
    return {"sample_rates": {str(k): v for k, v in sorted(rates.items())},
            "channels": {str(k): v for k, v in sorted(channels.items())}, "unreadable": bad}


def resampling(formats: dict) -> list[str]:
    """What ``frontend.audio.decode_audio`` does to each rate and channel count found.

    Examples
    --------
    >>> resampling({"sample_rates": {"16000": 3, "44100": 1}, "channels": {"1": 3, "2": 1}})
    ['16000 Hz: none', '44100 Hz: polyphase resampling to 16000 Hz (scipy.signal.resample_poly, up 160, down 441)', '2 channels: averaged to mono']
    """
    from math import gcd

    from ..frontend.audio import SAMPLE_RATE

    out = []
    for rate in map(int, formats["sample_rates"]):
        g = gcd(rate, SAMPLE_RATE)
        out.append(f"{rate} Hz: none" if rate == SAMPLE_RATE else
                   f"{rate} Hz: polyphase resampling to {SAMPLE_RATE} Hz (scipy.signal.resample_poly, "
                   f"up {SAMPLE_RATE // g}, down {rate // g})")
    out += [f"{n} channels: averaged to mono" for n in map(int, formats["channels"]) if n > 1]
    return out


def file_list_sha256(items) -> str:
    """sha256 of the sorted "speaker/file name<TAB>label<TAB>bytes" lines of the items: the files
    taking part, wherever the corpus lies.

    Examples
    --------
    >>> from ser_ref.corpora import Item
    >>> a, b = Item(Path("/x/a.wav"), "s", "anger"), Item(Path("/y/b.wav"), "t", "sadness")
    >>> file_list_sha256([a, b]) == file_list_sha256([b, a]) != file_list_sha256([a])
    True
    """
    def line(it) -> str:
        p = Path(it.path)
        size = p.stat().st_size if p.exists() else -1
        return f"{it.speaker}/{p.name}\t{it.label}\t{size}"

    return hashlib.sha256("\n".join(sorted(map(line, items))).encode()).hexdigest()


def corpus_record(name: str, items, report, used_items=None) -> dict:
    """One corpus: its files (loaded and used), their hash, formats and resampling, the class map
    (the corpus's own labels that reach the four classes) and the files left out, by label.

    Examples
    --------
    >>> from ser_ref.corpora import Item, LoadReport
    >>> import tempfile
    >>> report = LoadReport("x", Path(tempfile.mkdtemp())); report.skip("emotion fear", "f.wav")
    >>> r = corpus_record("x", [Item(Path("no/a.wav"), "s", "anger")], report)
    >>> r["n_files"], r["classes"]["left_out_by_loader"], r["classes"]["used_by_label"]["anger"]
    (1, {'emotion fear': 1}, 1)
    """
    used = list(items) if used_items is None else list(used_items)
    formats = audio_formats(it.path for it in items)
    failed = Counter(it.label for it in set(items) - set(used))
    return {"name": name, "n_files": len(items), "n_used": len(used), "file_list_sha256": file_list_sha256(used),
            **formats, "resampling": resampling(formats),
            "classes": {"index": {c: i for i, c in enumerate(LABELS)}, "corpus_labels": class_map(name),
                        "used_by_label": {c: sum(it.label == c for it in used) for c in LABELS},
                        "left_out_by_loader": {k: len(v) for k, v in sorted(report.skipped.items())},
                        "left_out_by_features": {c: failed[c] for c in LABELS if failed[c]}}}


def class_map(name: str) -> dict:
    """{the corpus's own label: one of the four classes} from its loader's table (empty if none).

    Examples
    --------
    >>> class_map("urdu")["Angry"], class_map("ravdess")["03"]
    ('anger', 'happiness')
    """
    from ..corpora import iemocap, named, synthetic, urdu

    tables = {"ravdess": named.RAVDESS_EMOTIONS, "emodb": named.EMODB_EMOTIONS, "emovo": named.EMOVO_EMOTIONS,
              "cremad": named.CREMAD_EMOTIONS, "urdu": urdu.URDU_FOLDERS, "iemocap": iemocap.CODES,
              "synthetic": {e: e for e in synthetic.EMOTIONS}}
    return {k: v for k, v in tables.get(name, {}).items() if v in LABELS}


# ------------------------------------------------------------------------------------------- card
def seeds(run) -> list[int]:
    """The run's seeds: ``run.seeds`` where it has several, else ``[run.seed]``.

    >>> from types import SimpleNamespace
    >>> seeds(SimpleNamespace(seed=3)), seeds(SimpleNamespace(seed=0, seeds=(0, 1, 2)))
    ([3], [0, 1, 2])
    """
    many = getattr(run, "seeds", None)
    return [int(s) for s in many] if many else [int(run.seed)]


def card(run, split_list, data, layer, corpora: dict, problems: dict | None = None, *, step_ms=None,
         normalize: str | None = None) -> dict:
    """The protocol card of one run.

    ``split_list`` the splits the runner used (None: leave-one-speaker-out over the speakers);
    ``data`` the runner's Dataset (None: the corpus items' speakers, no normalisation groups);
    ``corpora`` {name: (items, LoadReport)} as loaded; ``normalize`` the run's option's name, if any.
    """
    if data is None:
        all_items = [it for items, _ in corpora.values() for it in items]
        speakers, norm_groups, used = np.array([it.speaker for it in all_items]), None, None
    else:
        speakers, norm_groups, used = data.speakers, data.norm_groups, data.items
    split_list = loso(speakers) if split_list is None else split_list
    folds = fold_records(split_list, speakers)
    used_by = _used_by_corpus(corpora, used)
    return {
        "protocol": protocol_name(folds, getattr(run, "folds", None)),
        "speaker_disjoint": not any(f["overlap"] for f in folds),
        "stamp": leak_line(folds),
        "folds": folds,
        "normalisation": {"setting": normalize or "none", **normalisation(norm_groups, speakers, folds)},
        "mfcc": {"step_ms": int(step_ms if step_ms is not None else run.step_ms),
                 "window_ms": int(layer.metadata.get("win_len_ms", 32))},
        "model": model_record(layer),
        "corpora": [corpus_record(n, items, report, used_by.get(n)) for n, (items, report) in corpora.items()],
        "feature_errors": len((problems or {}).get("feature_errors", [])) if problems else None,
        "seeds": seeds(run),
    }


def _used_by_corpus(corpora: dict, used) -> dict:
    """{corpus name: its items among ``used``} (None: every item was used)."""
    if used is None:
        return {}
    kept = set(used)
    return {n: [it for it in items if it in kept] for n, (items, _) in corpora.items()}


def markdown(c: dict) -> str:
    """protocol.md: the card for a reader, the stamp (if any) first."""
    lines = ["# Protocol card", ""]
    if c["stamp"]:
        lines += [f"**{c['stamp']}**", ""]
    m = c["model"]
    lines += [f"- Protocol: {c['protocol']}, {len(c['folds'])} splits; speaker-disjoint: "
              f"{'yes' if c['speaker_disjoint'] else 'NO'}.",
              f"- Normalisation ({c['normalisation']['setting']}): the statistics see "
              f"{c['normalisation']['statistics_see']} ({c['normalisation']['how']}).",
              f"- MFCC: step {c['mfcc']['step_ms']} ms, window {c['mfcc']['window_ms']} ms.",
              f"- Model: sha256 {m['sha256']}; language {m['language']} (from {m['language_from']}; alphabet "
              f"script {m['alphabet_script']}); origin: {m['origin']}.",
              f"- Seeds: {', '.join(map(str, c['seeds']))}."]
    for r in c["corpora"]:
        cl = r["classes"]
        lines += [f"- Corpus {r['name']}: {r['n_used']} of {r['n_files']} files used (file list sha256 "
                  f"{r['file_list_sha256'][:16]}); sample rates {r['sample_rates']}, channels {r['channels']}; "
                  f"resampling: {'; '.join(r['resampling'])}.",
                  f"  Classes {cl['index']} from the corpus's labels {cl['corpus_labels']}; used by label "
                  f"{cl['used_by_label']}; left out by the loader {cl['left_out_by_loader'] or 'none'}, "
                  f"by the features {cl['left_out_by_features'] or 'none'}."]
    lines += ["", "| split | train files | test files | train speakers | test speakers | in both |",
              "|---|---:|---:|---:|---:|---|"]
    lines += [f"| {f['name']} | {f['n_train']} | {f['n_test']} | {len(f['train_speakers'])} | "
              f"{len(f['test_speakers'])} | {', '.join(f['overlap']) or '-'} |" for f in c["folds"]]
    return "\n".join(lines) + "\n"


def write(out: Path, c: dict) -> list[str]:
    """protocol.json and protocol.md in ``out``. Returns the lines to show: a leaky protocol's stamp,
    which the caller also puts first in its table (``report.write_all(..., stamp=...)``)."""
    out = Path(out)
    atomic.write_json(out / "protocol.json", c, sort_keys=False)
    atomic.write_text(out / "protocol.md", markdown(c))
    return [c["stamp"]] if c["stamp"] else []
