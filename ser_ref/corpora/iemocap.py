"""IEMOCAP (Busso et al. 2008), full-release layout, as the paper uses it.

    SessionN/dialog/EmoEvaluation/<dialog>.txt   one block per utterance:
        [6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]
        C-E2:	Neutral state;	()
        C-E3:	Neutral state; Frustration;	()
        A-E3:	val 3; act 2; dom  2;	()
    SessionN/sentences/wav/<dialog>/<utterance>.wav

The header's category is IEMOCAP's majority vote ("xxx": none); ``C-E*`` lines are the
categorical evaluators (an evaluator may give several labels; ``C-F*``/``C-M*`` self-ratings are
left out by default). Speakers are session x gender of the utterance's speaker (the letter that
starts the utterance's last name part), 10 in all.

``agreement="unanimous"`` (the paper's rule) keeps an utterance only when the header category
is one of the four classes and every categorical evaluator included it among their labels;
``"majority"`` keeps the header category as it is. ``improvised_only`` (default, the paper's)
drops scripted dialogues; ``merge_excited`` counts "excited" as happiness (off by default).
"""
from __future__ import annotations

import re
from pathlib import Path

from .items import LABELS, Item, LoadReport
from ..errors import CorpusError

HEADER = re.compile(r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(Ses\d\d[FM]_\S+)\s+(\w+)\s+\[")
ANNOTATOR = re.compile(r"^(C-[A-Z]+\d*):\s*([^(\t]*)")
CODES = {"neu": "neutral", "hap": "happiness", "sad": "sadness", "ang": "anger", "exc": "excited",
         "fru": "frustration", "sur": "surprise", "fea": "fear", "dis": "disgust", "oth": "other",
         "xxx": "no majority"}
NAMES = {"neutral state": "neutral", "neutral": "neutral", "happiness": "happiness", "sadness": "sadness",
         "anger": "anger", "excited": "excited"}
AGREEMENT = ("unanimous", "majority")


def parse_evaluation(path: Path, annotator_prefix: str = "C-E") -> dict:
    """utterance -> (header category, [set of labels of each categorical evaluator]).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "Ses01F_impro01.txt"
    >>> _ = p.write_text('''[6.2901 - 8.2357]  Ses01F_impro01_F000  neu  [2.5000, 2.5000, 2.5000]
    ... C-E2:  Neutral state;  ()
    ... C-E3:  Neutral state; Frustration;  ()
    ... ''')
    >>> category, evaluators = parse_evaluation(p)["Ses01F_impro01_F000"]
    >>> category, [sorted(e) for e in evaluators]
    ('neutral', [['neutral'], ['frustration', 'neutral']])
    """
    from ..files.regular import read_regular_text

    out, current = {}, None
    for line in read_regular_text(path, MAX_EVALUATION_BYTES, "EmoEvaluation file").splitlines():
        m = HEADER.match(line)
        if m:
            current = m.group(1)
            out[current] = (CODES.get(m.group(2), m.group(2)), [])
            continue
        m = ANNOTATOR.match(line)
        if m and current is not None and m.group(1).startswith(annotator_prefix):
            labels = {NAMES.get(s.strip().lower(), s.strip().lower()) for s in m.group(2).split(";") if s.strip()}
            out[current][1].append(labels)
    if not out:
        raise CorpusError(f"iemocap: {path} holds no utterance header lines ('[start - end] name category [v, a, d]')")
    return out


def decide(category: str, evaluators: list, agreement: str, merge_excited: bool) -> str:
    """The utterance's class, or a skip reason (which is never one of LABELS).

    Examples
    --------
    >>> decide("excited", [{"excited"}, {"happiness"}], "unanimous", True)   # excitement merged into happiness
    'happiness'
    >>> decide("anger", [{"anger"}, {"sadness"}], "unanimous", True)
    'evaluators not unanimous'
    """
    def m(lab):
        return "happiness" if merge_excited and lab == "excited" else lab

    category = m(category)
    if category not in LABELS:
        return f"category {category}"
    if agreement == "unanimous":
        if not evaluators:
            return "no categorical evaluations"
        if not all(category in {m(lab) for lab in labels} for labels in evaluators):
            return "evaluators not unanimous"
    return category


MAX_EVALUATION_BYTES = 16 << 20  # one dialogue's EmoEvaluation file (the largest in the release: 40 KB)
WAV_DIR = re.compile(r"(Session[^/]*)/sentences/wav/([^/]+)/([^/]+)")


def _annotations(root: Path, report: LoadReport, annotator_prefix: str) -> dict:
    """utterance -> (session, category, evaluators) from every SessionN/dialog/EmoEvaluation/*.txt
    (each such file is ignored as an entry: read, not an utterance)."""
    sessions = sorted(p for p in root.glob("Session*") if p.is_dir())
    if not sessions:
        raise CorpusError(f"iemocap: no Session*/ folders under {root}")
    files = report.files()
    out = {}
    for session in sessions:
        folder = f"{session.name}/dialog/EmoEvaluation/"
        evals = [e for e in files if e.rel.startswith(folder) and "/" not in e.rel[len(folder):]
                 and e.rel.endswith(".txt")]
        if not evals:
            raise CorpusError(f"iemocap: {session}/dialog/EmoEvaluation holds no .txt annotation files")
        for ev in evals:
            report.ignore("annotations (read for the labels)", ev.rel)
            for utt, (category, evaluators) in parse_evaluation(ev.path, annotator_prefix).items():
                out[utt] = (session.name, category, evaluators)
    return out


def load(root: Path, report: LoadReport, *, agreement: str = "unanimous", improvised_only: bool = True,
         merge_excited: bool = False, annotator_prefix: str = "C-E"):
    """The annotated utterances of the four classes, by the rule chosen (see the module doc).

    Every file under SessionN/sentences/wav/<dialog>/ is used, ignored (scripted, another class, not
    unanimous, no EmoEvaluation entry) or left out (a name that almost fits an annotated utterance's);
    annotations are ignored as entries (read), every other file under the root is ignored as not
    part of the layout read. An annotated utterance of the four classes with no file stops the run.
    """
    if agreement not in AGREEMENT:
        raise CorpusError(f"iemocap: agreement must be one of {AGREEMENT}, got {agreement!r}")
    notes = _annotations(root, report, annotator_prefix)
    walked = {e.rel: e for e in report.entries}
    items, found = [], set()
    for e in report.files():
        m = WAV_DIR.fullmatch(e.rel)
        utt = e.path.name[:-4] if m and e.path.name.endswith(".wav") else None
        if utt in notes and utt.rsplit("_", 1)[0] == m.group(2):
            found.add(utt)
            why = _decision(utt, notes[utt], agreement, improvised_only, merge_excited)
            if why not in LABELS:
                report.ignore(why, e.rel)
            else:
                items.append(_item(e.path, utt, why))
        elif m:
            _other_wav_dir_file(e, m.group(2), notes, found, report)
        else:
            report.ignore("not read (outside SessionN/sentences/wav/<dialog>/ and the annotations)", e.rel)
    missing = []
    for utt, (session, category, evaluators) in notes.items():
        rel = f"{session}/sentences/wav/{utt.rsplit('_', 1)[0]}/{utt}.wav"
        if utt not in found and rel not in walked \
                and _decision(utt, notes[utt], agreement, improvised_only, merge_excited) in LABELS:
            missing.append(rel)
    if missing:
        raise CorpusError(f"iemocap: {len(missing)} annotated utterances have no wav file "
                          f"(e.g. {', '.join(sorted(missing)[:5])})")
    return items


def _decision(utt: str, note, agreement, improvised_only, merge_excited) -> str:
    """The utterance's class, or why it is ignored (scripted, or ``decide``'s reason)."""
    _, category, evaluators = note
    if improvised_only and "_impro" not in utt.rsplit("_", 1)[0]:
        return "scripted"
    return decide(category, evaluators, agreement, merge_excited)


def _item(path: Path, utt: str, label: str) -> Item:
    gender = utt.rsplit("_", 1)[1][0]
    n = int(utt[3:5])
    return Item(path, f"Ses{n:02d}{gender}", label, session=n, improvised="_impro" in utt.rsplit("_", 1)[0],
                gender=gender.lower())


def _other_wav_dir_file(e, dialog: str, notes: dict, found: set, report: LoadReport) -> None:
    """A file in a dialogue's utterance folder that is no annotated utterance's exact name: left out
    when its name almost fits one (that utterance then counts as found), else ignored."""
    from .walk import is_audio_name, near_miss

    names = {f"{u}.wav": u for u in notes if u.rsplit("_", 1)[0] == dialog}
    folded = {n.casefold(): u for n, u in names.items()}
    hit = []

    def fits(candidate: str, ignore_case: bool) -> bool:
        u = folded.get(candidate.casefold()) if ignore_case else names.get(candidate)
        if u is not None:
            hit.append(u)
        return u is not None

    why = near_miss(e.path.name, fits) or (f"another audio format of an annotated utterance (IEMOCAP is read "
                                           f"as .wav)" if is_audio_name(e.path.name) and hit else None)
    if why:
        found.add(hit[-1])
        report.leave_out(f"name almost fits an annotated utterance: {why}", e.rel)
    elif is_audio_name(e.path.name):
        report.ignore("no EmoEvaluation entry", e.rel)
    else:
        report.ignore("not audio (by name)", e.rel)
