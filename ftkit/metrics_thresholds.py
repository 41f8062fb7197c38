"""One class against the rest: ROC and precision-recall curves, and a decision threshold chosen for a
recall target (e.g. "miss at most 1 urgent message in 10"), with what it costs in false alarms.

    y, score = one_vs_rest(labels, probs, positive=0)          # urgent vs the rest
    choice = pick_threshold(y, score, min_recall=0.9)           # on the VALIDATION split
    at_threshold(y_test, score_test, choice.threshold)          # then measured once on the test split
    pred = predict_with_threshold(probs, positive=0, threshold=choice.threshold)
    fig = plot_roc_pr(y, score, choice.threshold)

Everything is scikit-learn (`roc_curve`, `precision_recall_curve`, `roc_auc_score`,
`average_precision_score`); this module only adds the choice of a threshold and the plots.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .errors import ConfigError, DataError

__all__ = [
    "one_vs_rest",
    "ThresholdChoice",
    "pick_threshold",
    "at_threshold",
    "predict_with_threshold",
    "curves",
    "plot_roc_pr",
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


def pick_threshold(y_true, score, min_recall: float = 0.9) -> ThresholdChoice:
    """The HIGHEST threshold whose recall is at least `min_recall`: it reaches the target with the fewest
    false alarms. Choose it on the validation split; the test split then says what it really does."""
    from sklearn.metrics import roc_curve

    if not isinstance(min_recall, (int, float)) or not 0 < min_recall <= 1:
        raise ConfigError(
            f"min_recall is a share in (0, 1], got {min_recall!r}. E.g. 0.9: miss at most 1 in 10."
        )
    y, s = _binary(y_true, score)
    _, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    ok = np.flatnonzero(
        tpr >= min_recall - 1e-12
    )  # thresholds fall along the curve: the first ok is the highest
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


def plot_roc_pr(y_true, score, threshold: float | None = None, name: str = "positive"):
    """ROC curve (left) and precision-recall curve (right), the chosen threshold marked on both."""
    import matplotlib.pyplot as plt

    c = curves(y_true, score)
    fig, (roc, pr) = plt.subplots(1, 2, figsize=(10, 4))
    roc.plot(c["fpr"], c["tpr"], label=f"model (AUC {c['roc_auc']:.3f})")
    roc.plot([0, 1], [0, 1], "--", color="grey", label="random ranking (AUC 0.5)")
    roc.set(xlabel="false alarm rate (false positive rate)", ylabel=f"recall of {name}", title="ROC curve")
    pr.plot(c["recall"], c["precision"], label=f"model (AP {c['average_precision']:.3f})")
    pr.axhline(c["base_rate"], ls="--", color="grey", label=f"flag everything ({c['base_rate']:.2f})")
    pr.set(xlabel=f"recall of {name}", ylabel="precision", title="precision-recall curve")
    if threshold is not None:
        point = at_threshold(y_true, score, threshold)
        roc.plot(point.false_alarm_rate, point.recall, "o", color="red", label=f"threshold {threshold:.3f}")
        pr.plot(point.recall, point.precision, "o", color="red", label=f"threshold {threshold:.3f}")
    for ax in (roc, pr):
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="lower right" if ax is roc else "lower left", fontsize=8)
    fig.tight_layout()
    plt.close(fig)  # the notebook shows the returned figure once
    return fig
