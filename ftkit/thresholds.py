"""One class against the rest: ROC and precision-recall curves, and a decision threshold chosen for a
recall target ("miss at most 1 urgent message in 10"), with what it costs in false alarms.

    y, score = one_vs_rest(labels, probs, positive=0)          # urgent vs the rest
    choice = pick_threshold(y, score, min_recall=0.9)           # chosen on the VALIDATION split
    choice = pick_threshold(y_oof, s_oof, 0.9, confidence=0.95)  # or on out-of-fold scores, with a margin
    at_threshold(y_test, score_test, choice.threshold)          # then measured once on the test split
    pred = predict_with_threshold(probs, positive=0, threshold=choice.threshold)

Accuracy judges one threshold (0.5, or the most likely class); the ROC curve and its AUC judge the
ranking of the scores, every threshold at once.  A recall measured on a few positives is noisy:
`recall_lower_bound` says what it guarantees (Clopper-Pearson), and `pick_threshold(..., confidence=)`
picks the highest threshold whose lower bound still reaches the target (it needs many positives:
out-of-fold scores, `ftkit.out_of_fold_proba`, give every training row one).  Everything is
scikit-learn (`roc_curve`, `precision_recall_curve`, `roc_auc_score`, `average_precision_score`);
this module adds the choice of a threshold.  The picture is `ftkit.error_plots.plot_roc_pr`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .errors import ConfigError, DataError

__all__ = [
    "one_vs_rest",
    "ThresholdChoice",
    "pick_threshold",
    "recall_lower_bound",
    "at_threshold",
    "predict_with_threshold",
    "curves",
]


def _binary(y_true, score):
    y = np.asarray(y_true)
    s = np.asarray(score, dtype=float)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise DataError(
            f"y_true and score must be two 1-D arrays of the same length, got shapes {y.shape} and {s.shape}."
        )
    if not np.isin(y, (0, 1, True, False)).all():
        raise DataError(
            "y_true must be 0/1 (1 = the positive class). Build it with one_vs_rest(labels, probs, positive)."
        )
    y = y.astype(int)
    if y.sum() == 0 or y.sum() == len(y):
        which = "positive" if y.sum() == 0 else "negative"
        raise DataError(
            f"y_true has no {which} example, so recall or false alarms are undefined. "
            "Use a split that holds both (a stratified split does)."
        )
    return y, s


def one_vs_rest(labels, probs, positive: int):
    """(y, score): y = 1 where `labels` == `positive`, score = the predicted probability of `positive`."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or not 0 <= positive < probs.shape[1]:
        raise ConfigError(
            f"positive must be a class id of probs (0..{probs.shape[-1] - 1}), got {positive!r}."
        )
    labels = np.asarray(labels)
    if len(labels) != len(probs):
        raise DataError(
            f"{len(labels)} labels but {len(probs)} rows of probabilities. Pass the same split's."
        )
    return (labels == positive).astype(int), probs[:, positive]


@dataclass(frozen=True)
class ThresholdChoice:
    """What a threshold does on one split: flag a message when its score is >= threshold."""

    threshold: float
    recall: float  # share of the positives flagged (sensitivity)
    precision: float  # share of the flagged that are positive
    false_alarm_rate: float  # share of the negatives flagged (false positive rate)
    flagged: int  # how many messages are flagged
    positives: int
    negatives: int

    def as_dict(self) -> dict:
        return asdict(self)


def at_threshold(y_true, score, threshold: float) -> ThresholdChoice:
    """Recall, precision and false-alarm rate when everything with score >= `threshold` is flagged."""
    y, s = _binary(y_true, score)
    flag = s >= threshold
    tp, fp = int((flag & (y == 1)).sum()), int((flag & (y == 0)).sum())
    pos, neg = int(y.sum()), int((y == 0).sum())
    return ThresholdChoice(
        float(threshold), tp / pos, tp / max(tp + fp, 1), fp / neg, int(flag.sum()), pos, neg
    )


def recall_lower_bound(caught: int, positives: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound on the true recall when `caught` of `positives` were flagged:
    with probability `confidence`, the recall on new cases is at least this. 18 of 18 caught gives 0.847
    at 95 %: a small sample cannot show a 90 % recall, however good the model."""
    from scipy.stats import beta

    if not isinstance(confidence, float) or not 0 < confidence < 1:
        raise ConfigError(f"confidence is a share in (0, 1), got {confidence!r}. E.g. 0.95.")
    if not 0 <= caught <= positives or positives < 1:
        raise DataError(f"need 0 <= caught <= positives and positives >= 1, got {caught} of {positives}.")
    return 0.0 if caught == 0 else float(beta.ppf(1 - confidence, caught, positives - caught + 1))


def pick_threshold(
    y_true, score, min_recall: float = 0.9, confidence: float | None = None
) -> ThresholdChoice:
    """The HIGHEST threshold whose recall is at least `min_recall`: it reaches the target with the fewest
    false alarms. Choose it on the validation split (or out-of-fold scores); the test split then says
    what it really does. With `confidence` (e.g. 0.95) the recall's Clopper-Pearson lower bound, not the
    recall itself, must reach `min_recall`: a safety margin that shrinks as positives grow."""
    from sklearn.metrics import roc_curve

    if not isinstance(min_recall, (int, float)) or not 0 < min_recall <= 1:
        raise ConfigError(
            f"min_recall is a share in (0, 1], got {min_recall!r}. E.g. 0.9: miss at most 1 in 10."
        )
    y, s = _binary(y_true, score)
    _, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    if confidence is None:
        ok = np.flatnonzero(tpr >= min_recall - 1e-12)
    else:
        pos = int(y.sum())
        bound = np.array([recall_lower_bound(int(round(t * pos)), pos, confidence) for t in tpr])
        ok = np.flatnonzero(bound >= min_recall - 1e-12)
        if not len(ok):
            need = int(np.ceil(np.log(1 - confidence) / np.log(min_recall)))
            raise DataError(
                f"{pos} positives cannot show a recall of {min_recall} with {confidence:.0%} confidence, "
                f"even all caught (at least {need} are needed). Use out-of-fold scores or lower confidence."
            )
    # thresholds fall along the curve: the first ok is the highest
    threshold = float(min(thresholds[ok[0]], 1.0))  # roc_curve's first threshold is +inf (flag nothing)
    return at_threshold(y, s, threshold)


def predict_with_threshold(probs, positive: int, threshold: float) -> np.ndarray:
    """Class ids: `positive` wherever its probability is >= `threshold`, else the most likely other class."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or not 0 <= positive < probs.shape[1]:
        raise ConfigError(
            f"positive must be a class id of probs (0..{probs.shape[-1] - 1}), got {positive!r}."
        )
    others = probs.copy()
    others[:, positive] = -np.inf
    return np.where(probs[:, positive] >= threshold, positive, others.argmax(axis=1))


def curves(y_true, score) -> dict:
    """ROC (fpr, tpr) and precision-recall curves with their areas (ROC AUC, average precision)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    y, s = _binary(y_true, score)
    fpr, tpr, roc_t = roc_curve(y, s)
    precision, recall, pr_t = precision_recall_curve(y, s)
    return dict(
        fpr=fpr,
        tpr=tpr,
        roc_thresholds=roc_t,
        precision=precision,
        recall=recall,
        pr_thresholds=pr_t,
        roc_auc=float(roc_auc_score(y, s)),
        average_precision=float(average_precision_score(y, s)),
        base_rate=float(y.mean()),
    )
