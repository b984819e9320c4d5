"""When speakers differ, the utterance bootstrap is too narrow and McNemar's test too eager: a seeded simulation.

    python bench/speaker_coverage.py            # ~15 s on one core; writes bench/results/speaker-coverage.json

Corpora shaped like RAVDESS under LOSO: S = 24 speakers x n = 28 utterances, 4 classes. Speaker s
is right with probability p_s = expit(logit(theta0) + sigma z_s), z_s ~ N(0, 1) (a speaker random
effect on the logit scale; sigma = 0: every utterance independent with the same accuracy). The
quantity a reader wants an interval for is the accuracy on the population of speakers,
theta = E_z[p_s] (Gauss-Hermite quadrature). Per replicate, both 95 % intervals of
``ser_ref.evaluation.metrics`` are computed on the same predictions:

    utterance  bootstrap_ci          resample the S n utterances
    speaker    speaker_bootstrap_ci  resample the S speakers, keep their utterances

Coverage = share of replicates whose interval holds theta (nominal 0.95; Monte Carlo standard
error sqrt(0.95 0.05 / reps) ~ 0.018 at 150 replicates).

Tests: two systems a, b with the same population accuracy whose advantage varies by speaker,
p_{a,s} = expit(logit(theta0) + sigma z_s + tau u_s), p_{b,s} = the same with -tau u_s, u_s ~ N(0, 1),
so H0 (equal accuracy on the population of speakers) holds; sigma = 0.5 there. Size = share of replicates with
p < 0.05 (nominal 0.05) for McNemar's test (utterances) and the exact sign-flip test (speakers).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import expit, logit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ser_ref.evaluation.metrics import bootstrap_ci, mcnemar, speaker_bootstrap_ci, speaker_sign_flip  # noqa: E402
from ser_ref.files import atomic  # noqa: E402


def population_accuracy(theta0: float, sigma: float) -> float:
    """theta = E_z[expit(logit(theta0) + sigma z)], z ~ N(0, 1), by 80-point Gauss-Hermite quadrature.

    >>> population_accuracy(0.6, 0.0)
    0.6
    """
    z, w = np.polynomial.hermite_e.hermegauss(80)
    return float(np.sum(w * expit(logit(theta0) + sigma * z)) / np.sqrt(2 * np.pi)) if sigma else theta0


def predictions(rng, p_speaker, n: int, y):
    """Right with probability p_s on each of speaker s's n utterances, else one of the 3 wrong classes."""
    right = rng.random((len(p_speaker), n)) < p_speaker[:, None]
    wrong = (y + rng.integers(1, 4, y.shape)) % 4
    return np.where(right.ravel(), y, wrong)


def coverage(rng, theta0, sigma, S, n, reps, n_boot) -> dict:
    theta = population_accuracy(theta0, sigma)
    speakers = np.repeat(np.arange(S), n)
    hit = {"utterance": 0, "speaker": 0}
    width = {"utterance": [], "speaker": []}
    for r in range(reps):
        y = rng.integers(0, 4, S * n)
        pred = predictions(rng, expit(logit(theta0) + sigma * rng.standard_normal(S)), n, y)
        for kind, (lo, hi) in (("utterance", bootstrap_ci(y, pred, "accuracy", n_boot=n_boot, seed=r)),
                               ("speaker", speaker_bootstrap_ci(y, pred, speakers, "accuracy", n_boot=n_boot,
                                                                seed=r))):
            hit[kind] += lo <= theta <= hi
            width[kind].append(hi - lo)
    return {"sigma": sigma, "theta": theta, "coverage": {k: v / reps for k, v in hit.items()},
            "mean_width": {k: float(np.mean(v)) for k, v in width.items()}}


def size(rng, theta0, sigma, tau, S, n, reps, alpha=0.05) -> dict:
    speakers = np.repeat(np.arange(S), n)
    reject = {"mcnemar": 0, "speaker_sign_flip": 0}
    for _ in range(reps):
        y = rng.integers(0, 4, S * n)
        base, u = logit(theta0) + sigma * rng.standard_normal(S), rng.standard_normal(S)
        a, b = predictions(rng, expit(base + tau * u), n, y), predictions(rng, expit(base - tau * u), n, y)
        reject["mcnemar"] += mcnemar(y, a, b) < alpha
        reject["speaker_sign_flip"] += speaker_sign_flip(y, a, b, speakers) < alpha
    return {"sigma": sigma, "tau": tau, "rejection_rate": {k: v / reps for k, v in reject.items()}}


def run(seed=0, S=24, n=28, theta0=0.6, sigmas=(0.0, 0.5, 1.0), taus=(0.0, 0.5), reps=150, n_boot=200,
        test_reps=400) -> dict:
    rng_ci, rng_test = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return {"settings": {"seed": seed, "S": S, "n_per_speaker": n, "theta0": theta0, "reps": reps,
                         "n_boot": n_boot, "test_reps": test_reps, "test_sigma": 0.5, "level": 0.95, "alpha": 0.05},
            "intervals": [coverage(rng_ci, theta0, s, S, n, reps, n_boot) for s in sigmas],
            "tests": [size(rng_test, theta0, 0.5, t, S, n, test_reps) for t in taus]}


def markdown(res) -> str:
    lines = ["| sigma (speaker sd, logit) | theta | coverage utt. | coverage spk. | mean width utt. "
             "| mean width spk. |", "|---:|---:|---:|---:|---:|---:|"]
    for r in res["intervals"]:
        c, w = r["coverage"], r["mean_width"]
        lines.append(f"| {r['sigma']} | {r['theta']:.3f} | {c['utterance']:.3f} | {c['speaker']:.3f} | "
                     f"{w['utterance']:.3f} | {w['speaker']:.3f} |")
    lines += ["", "| tau (speaker x system sd, logit) | P(p < 0.05) McNemar | P(p < 0.05) speaker sign-flip |",
              "|---:|---:|---:|"]
    for r in res["tests"]:
        rr = r["rejection_rate"]
        lines.append(f"| {r['tau']} | {rr['mcnemar']:.3f} | {rr['speaker_sign_flip']:.3f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=150)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "speaker-coverage.json"))
    args = ap.parse_args()
    t, cpu = time.perf_counter(), time.process_time()
    res = run(seed=args.seed, reps=args.reps)
    res["cpu_s"] = round(time.process_time() - cpu, 1)  # wall time depends on what else the machine runs
    res["command"] = "python bench/speaker_coverage.py" + (f" --seed {args.seed}" if args.seed else "") + \
        (f" --reps {args.reps}" if args.reps != 150 else "")
    res["wall_s"] = round(time.perf_counter() - t, 1)
    atomic.write_json(args.out, res)
    print(markdown(res))
    print(f"\n{res['wall_s']} s ({res['cpu_s']} s CPU); wrote {args.out}")


if __name__ == "__main__":
    main()
