"""Lesson 06's exercise checks (`notebooks/06_triage_case.ipynb`, `solutions/06_triage_case.ipynb`).

Each check computes the right answer itself from what the cell gives it (the labels and scores, the two
label sets, the recall target), prints one line (a hint, never the answer) and returns True or False;
an unanswered exercise (`answer = None`) prints a hint and never raises.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import FtkitError
from ..thresholds import at_threshold, pick_threshold, recall_lower_bound
from .exercise import close_to, feedback

__all__ = [
    "check_false_alarms",
    "check_cases_needed",
    "check_kappa",
    "check_threshold",
    "check_small_sample_risk",
]


def check_false_alarms(answer, y_true, score, threshold: float) -> bool:
    """Exercise 1: how many NON-urgent messages are flagged when p(urgent) >= threshold."""
    truth = at_threshold(y_true, score, threshold)
    ok = close_to(answer, round(truth.false_alarm_rate * truth.negatives), rel=0, abs_tol=0.5)
    return feedback(
        ok,
        right=f"each of them costs a call; {truth.flagged} flagged in all, "
        f"{truth.negatives} non-urgent messages in the split.",
        hint="count the messages with y == 0 whose score is >= the threshold "
        "(or read false_alarm_rate x negatives from ftkit.at_threshold). A count, not a share.",
        answer=answer,
    )


def check_cases_needed(answer, target: float = 0.9, confidence: float = 0.95) -> bool:
    """Exercise 2: the fewest positives, ALL caught, whose recall lower bound reaches `target`."""
    n = 1
    while recall_lower_bound(n, n, confidence) < target:
        n += 1
    ok = close_to(answer, n, rel=0, abs_tol=0)
    return feedback(
        ok,
        right=f"with fewer, even a perfect score cannot show a recall of {target} at "
        f"{confidence:.0%} confidence; the validation split has far fewer urgent messages.",
        hint="try ftkit.recall_lower_bound(n, n, CONFIDENCE) for n = 18, 20, 25, ... and find the first n "
        f"where it reaches {target} (or solve (1 - confidence) ** (1 / n) >= target).",
        answer=answer,
    )


def check_kappa(answer, labels_a, labels_b) -> bool:
    """Exercise 3: Cohen's kappa of two label lists, computed by hand (checked against scikit-learn)."""
    from sklearn.metrics import cohen_kappa_score

    truth = cohen_kappa_score(list(labels_a), list(labels_b))
    ok = close_to(answer, truth, rel=0, abs_tol=0.005)
    return feedback(
        ok,
        right="kappa = (p_o - p_e) / (1 - p_e): the agreement beyond what chance alone gives.",
        hint="p_o = share of rows where the readers agree; p_e = sum over classes of "
        "(share of A's labels in the class) x (share of B's labels in the class).",
        answer=answer,
    )


def check_threshold(answer, y_true, score, min_recall: float, confidence: float | None = None) -> bool:
    """Exercise 4: the threshold `pick_threshold` chooses on these scores for this target."""
    try:
        truth = pick_threshold(y_true, score, min_recall=min_recall, confidence=confidence)
    except FtkitError as err:  # too few positives for this target: say so, never raise in class
        print(f"Not possible on these scores: {err}")
        return False
    ok = close_to(answer, truth.threshold, rel=1e-6, abs_tol=1e-6)
    return feedback(
        ok,
        right=f"it catches {truth.recall:.3f} of these urgent messages with {truth.false_alarm_rate:.3f} "
        "false alarms: a higher target costs more false alarms.",
        hint="choose on the out-of-fold scores (y_oof, s_oof), never on the test split, with the same "
        "confidence as the lesson; answer the threshold (a probability), not the recall.",
        answer=answer,
    )


def check_small_sample_risk(
    answer, y_true, score, threshold: float, n: int, target: float = 0.9, tol: float = 0.04
) -> bool:
    """Exercise 5: the chance that `n` urgent messages drawn (with replacement) from these scores show a
    recall below `target` at `threshold`. The exact value is binomial: P(caught < target * n) when each
    draw is caught with the recall measured on all the positives here; a simulation lands within `tol`."""
    from scipy.stats import binom

    recall = at_threshold(y_true, score, threshold).recall
    truth = float(binom.cdf(math.ceil(target * n - 1e-9) - 1, n, recall))
    ok = close_to(answer, truth, rel=0, abs_tol=tol)
    return feedback(
        ok,
        right=f"the recall measured on {n} cases lands under {target} that often, although the "
        f"threshold catches {recall:.3f} of all {int(np.sum(y_true))} urgent messages here.",
        hint=f"draw {n} of the urgent scores with replacement many times (numpy's rng.choice), count the "
        f"draws whose share >= threshold is below {target}; answer that share (between 0 and 1).",
        answer=answer,
    )
