"""Scores, in one home: each name says what it measures.

    fit(model, train, val, config, metrics=("accuracy", "f1_macro"))   # history: val_f1_macro
    metrics_summary(y_true, y_pred, probs)    # accuracy, precision/recall/f1 (macro), roc_auc
    classification_report_df(y_true, y_pred, classes)                  # per class + averages

There is one F1 in the kit: **macro F1**, the F1 of every class averaged with equal weight.
It is what `fit`'s validation, `metrics_summary`'s test numbers and the `Trainer`'s
`compute_metrics` (`ftkit.classification_metrics`) all report, named `f1_macro`, so a lesson's
`val_f1_macro` and `test_f1_macro` are the same measure on two splits.  Macro F1 treats a
rare class as seriously as a common one (accuracy does not), and it means the same thing for
two classes or ten.  The F1 of one class (e.g. "no helmet", the costly miss) is a row of
`classification_report_df`.

Choosing a decision threshold for one class against the rest is `ftkit.thresholds`.
All computing is scikit-learn's; this module only picks and names.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError, DataError

__all__ = [
    "accuracy",
    "f1_macro",
    "METRICS",
    "resolve_metrics",
    "score",
    "metrics_summary",
    "classification_report_df",
    "as_labels",
]


# ---- per-epoch metrics for fit(): f(preds, targets) -> float --------------------------------------
def accuracy(preds: np.ndarray, targets: np.ndarray) -> float:
    """Share of examples whose predicted class is the true class."""
    return float((np.asarray(preds) == np.asarray(targets)).mean()) if len(targets) else float("nan")


def f1_macro(preds: np.ndarray, targets: np.ndarray) -> float:
    """Macro F1: the F1 of every class present in targets or predictions, averaged."""
    from sklearn.metrics import f1_score

    if not len(targets):
        return float("nan")
    labels = np.union1d(preds, targets)
    return float(f1_score(targets, preds, labels=labels, average="macro", zero_division=0))


METRICS = {"accuracy": accuracy, "f1_macro": f1_macro}


def resolve_metrics(metrics) -> dict:
    """Names (keys of METRICS) or functions f(preds, targets) -> float, as {name: function}."""
    out = {}
    for m in metrics or ():
        if callable(m):
            out[getattr(m, "__name__", "metric")] = m
        elif m in METRICS:
            out[m] = METRICS[m]
        else:
            raise ConfigError(
                f"Unknown metric {m!r}. Use {', '.join(map(repr, METRICS))} "
                "or a function f(preds, targets) -> float."
            )
    return out


def score(metric_fns: dict, preds, targets, prefix: str = "") -> dict:
    """{prefix + name: value} for every metric; {} when there are no predictions."""
    if preds is None:
        return {}
    return {f"{prefix}{name}": fn(preds, targets) for name, fn in metric_fns.items()}


# ---- a whole split at once --------------------------------------------------------------------------
def metrics_summary(y_true, y_pred, probs=None) -> dict:
    """accuracy, precision_macro, recall_macro, f1_macro, and roc_auc when class probabilities
    are given (binary: class 1's score ranks; 3+ classes: one-vs-rest, macro; None when
    undefined, e.g. one class only in y_true)."""
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

    y_true, y_pred = np.asarray(_numpy(y_true)).astype(int), np.asarray(_numpy(y_pred)).astype(int)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise DataError(
            f"y_true and y_pred must be 1-D and the same length, got {y_true.shape} and {y_pred.shape}."
        )
    probs = None if probs is None else np.asarray(_numpy(probs), dtype=float)
    if probs is not None and probs.ndim == 2:
        k = probs.shape[1]
    else:
        k = max(2, int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1)
    p, r, f, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(k)), average="macro", zero_division=0
    )
    out = {
        "accuracy": accuracy(y_pred, y_true),
        "precision_macro": float(p),
        "recall_macro": float(r),
        "f1_macro": float(f),
    }
    if probs is not None:
        out["roc_auc"] = _roc_auc(roc_auc_score, y_true, probs, k)
    return out


def _roc_auc(roc_auc_score, y_true, probs, k):
    if len(np.unique(y_true)) < 2:
        return None  # undefined with one class in y_true: nothing to rank against
    try:
        if k == 2:
            value = roc_auc_score(y_true, probs[:, 1] if probs.ndim == 2 else probs)
        else:
            value = roc_auc_score(y_true, probs, multi_class="ovr", average="macro", labels=list(range(k)))
    except ValueError:  # e.g. a class missing from y_true in a multi-class task
        return None
    return float(value) if math.isfinite(value) else None


def classification_report_df(y_true, y_pred, classes):
    """Precision, recall, F1 and support per class, plus macro/weighted averages and accuracy.

    Like scikit-learn's text report, the `accuracy` row carries its value in the f1 column.
    """
    import pandas as pd
    from sklearn.metrics import classification_report

    y_true, y_pred = as_labels(y_true, y_pred, classes)
    report = classification_report(
        y_true,
        y_pred,
        labels=list(range(len(classes))),
        target_names=list(classes),
        output_dict=True,
        zero_division=0,
    )
    rows = {}
    for name in list(classes) + ["macro avg", "weighted avg"]:
        r = report[name]
        rows[name] = {
            "precision": r["precision"],
            "recall": r["recall"],
            "f1": r["f1-score"],
            "support": int(r["support"]),
        }
    acc = report.get("accuracy", float(np.mean(y_true == y_pred)))
    rows["accuracy"] = {"precision": math.nan, "recall": math.nan, "f1": acc, "support": int(len(y_true))}
    return pd.DataFrame.from_dict(rows, orient="index")


# ---- checking labels --------------------------------------------------------------------------------
def as_labels(y_true, y_pred, classes) -> tuple:
    """Both as int arrays, checked: same length, every label in 0..len(classes)-1."""
    y_true, y_pred = np.asarray(_numpy(y_true)).astype(int), np.asarray(_numpy(y_pred)).astype(int)
    if y_true.shape != y_pred.shape:
        raise DataError(
            f"y_true and y_pred have different lengths: {len(y_true)} and {len(y_pred)}. "
            "Pass one label per example."
        )
    k = len(classes)
    bad = [int(v) for v in np.concatenate([y_true, y_pred]) if not 0 <= v < k]
    if bad:
        raise DataError(
            f"Label {bad[0]} is outside 0..{k - 1} for {k} classes {list(classes)}. Check the class list."
        )
    return y_true, y_pred


def _numpy(values):
    if hasattr(values, "detach"):  # a torch tensor
        return values.detach().cpu().numpy()
    return np.asarray(values)
