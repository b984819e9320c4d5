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
    out, current = {}, None
    for line in Path(path).read_text(errors="replace").splitlines():
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


def load(root: Path, report: LoadReport, *, agreement: str = "unanimous", improvised_only: bool = True,
         merge_excited: bool = False, annotator_prefix: str = "C-E"):
    if agreement not in AGREEMENT:
        raise CorpusError(f"iemocap: agreement must be one of {AGREEMENT}, got {agreement!r}")
    sessions = sorted(p for p in root.glob("Session*") if p.is_dir())
    if not sessions:
        raise CorpusError(f"iemocap: no Session*/ folders under {root}")
    items, missing = [], []
    for session in sessions:
        # macOS copies of the release carry "._name" resource forks beside the real files
        evals = sorted(p for p in (session / "dialog" / "EmoEvaluation").glob("*.txt") if not p.name.startswith("."))
        if not evals:
            raise CorpusError(f"iemocap: {session}/dialog/EmoEvaluation holds no .txt annotation files")
        annotated = set()
        for ev in evals:
            for utt, (category, evaluators) in parse_evaluation(ev, annotator_prefix).items():
                dialog = utt.rsplit("_", 1)[0]
                wav = session / "sentences" / "wav" / dialog / f"{utt}.wav"
                annotated.add(wav)
                if improvised_only and "_impro" not in dialog:
                    report.skip("scripted", utt)
                    continue
                label = decide(category, evaluators, agreement, merge_excited)
                if label not in LABELS:
                    report.skip(label, utt)
                    continue
                if not wav.is_file():
                    missing.append(str(wav.relative_to(root)))
                    continue
                gender = utt.rsplit("_", 1)[1][0]
                n = int(utt[3:5])
                items.append(Item(wav, f"Ses{n:02d}{gender}", label, session=n,
                                  improvised="_impro" in dialog, gender=gender.lower()))
        for wav in sorted((session / "sentences" / "wav").glob("*/*.wav")):
            if wav not in annotated and not wav.name.startswith("."):
                report.skip("no EmoEvaluation entry", wav.name)
    if missing:
        raise CorpusError(f"iemocap: {len(missing)} annotated utterances have no wav file "
                          f"(e.g. {', '.join(missing[:5])})")
    return items
