"""Pictures of a model's errors: which classes get confused, its most confident wrong answers, and
how a decision threshold trades recall for false alarms.

* `plot_confusion` - counts and shares of true class x predicted class.
* `show_mistakes` (images) and `mistakes_table` (texts) - the most confident wrong answers, worst first.
* `plot_roc_pr` - ROC and precision-recall curves for one class against the rest, a threshold marked.

The numbers behind them live in `ftkit.metrics`; the style (fonts, colours) is `ftkit.plots`'s.
Every function returns its Figure already closed, as in `ftkit.plots`.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .errors import ConfigError, DataError
from .metrics import as_labels
from .plots import STYLE, _numpy
from .thresholds import at_threshold, curves

__all__ = ["plot_confusion", "show_mistakes", "mistakes_table", "plot_roc_pr"]


# ---- how good is the model? --------------------------------------------------------------
def plot_confusion(y_true, y_pred, classes, normalize: str | None = None, ax=None):
    """Confusion matrix heatmap.  Rows: true class, columns: predicted class.

    Cells are coloured by the share of their row (so a rare class reads as clearly as a
    common one) and show `count` and `row %`; `normalize="true"` shows only the %.
    """
    import seaborn as sns
    from sklearn.metrics import confusion_matrix

    if normalize not in (None, "true"):
        raise ConfigError(f"plot_confusion normalize must be None or 'true', got {normalize!r}.")
    y_true, y_pred = as_labels(y_true, y_pred, classes)
    k = len(classes)
    counts = confusion_matrix(y_true, y_pred, labels=list(range(k)))
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=float), where=rows > 0)
    if normalize == "true":
        text = np.array([[f"{s:.0%}" for s in row] for row in share])
    else:
        text = np.array(
            [
                [f"{c}\n{s:.0%}" for c, s in zip(cr, sr, strict=True)]
                for cr, sr in zip(counts, share, strict=True)
            ]
        )
    if ax is None:
        size = max(4.5, 1.1 * k + 2.5)  # grow with the number of classes so labels never overlap
        with plt.rc_context(STYLE):
            fig, ax = plt.subplots(figsize=(size + 1, size), layout="constrained")
        plt.close(fig)
    with plt.rc_context(STYLE):
        sns.heatmap(
            share,
            annot=text,
            fmt="",
            cmap="Blues",
            vmin=0,
            vmax=1,
            square=True,
            ax=ax,
            xticklabels=classes,
            yticklabels=classes,
            cbar_kws={"label": "share of the true class"},
            annot_kws={"fontsize": 13},
        )
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(
            f"Confusion matrix\n{counts.sum()} examples, "
            f"accuracy {np.trace(counts) / max(counts.sum(), 1):.1%}"
        )
        ax.tick_params(axis="y", rotation=0)
    return ax.figure


# ---- the worst mistakes --------------------------------------------------------------------
def show_mistakes(
    images_or_dataset, y_true, y_pred, probs, classes, n: int = 12, mean=None, std=None, cols: int = 4
):
    """A gallery of the most confident wrong predictions, worst first.

    `images_or_dataset`: a batch tensor (N, C, H, W), a list of CHW tensors or arrays, a list
    of image file paths, or a dataset of (image, label) pairs.  Normalised tensors are shown
    with `mean`/`std` undone (taken from the dataset's `.mean`/`.std` when it has them).
    """
    order, conf = _worst(y_true, y_pred, probs, n)
    y_true, y_pred = _numpy(y_true), _numpy(y_pred)
    if (
        mean is None and std is None
    ):  # an ftkit dataset knows its normalisation (a tensor's .mean is a method)
        mean, std = (
            None if callable(v) else v for v in (getattr(images_or_dataset, k, None) for k in ("mean", "std"))
        )
    rows = max(1, math.ceil(len(order) / cols))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            rows, cols, figsize=(3.2 * cols, 3.6 * rows), squeeze=False, layout="constrained"
        )
        plt.close(fig)
        for axis in axes.flat:
            axis.axis("off")
        if not order:
            axes[0][0].text(0, 0.5, "No mistakes to show.", fontsize=16)
        for axis, i in zip(axes.flat, order, strict=False):  # fewer mistakes than panels
            image = _image(images_or_dataset, i, mean, std)
            axis.imshow(image, cmap="gray" if image.ndim == 2 else None)
            axis.set_title(
                f"true: {classes[int(y_true[i])]}\npred: {classes[int(y_pred[i])]} ({conf[i]:.0%})",
                color="#D55E00",
                fontsize=12,
            )
        fig.suptitle(f"Most confident mistakes ({len(order)} shown)", fontsize=16)
    return fig


def mistakes_table(texts, y_true, y_pred, probs, classes, n: int = 15) -> pd.DataFrame:
    """The most confident wrong predictions on a text dataset, worst first."""
    order, conf = _worst(y_true, y_pred, probs, n)
    y_true, y_pred = _numpy(y_true), _numpy(y_pred)
    table = pd.DataFrame(
        {
            "text": [texts[i] for i in order],
            "true": [classes[int(y_true[i])] for i in order],
            "predicted": [classes[int(y_pred[i])] for i in order],
            "confidence": [float(conf[i]) for i in order],
        },
        index=pd.Index(order, name="index"),
    )
    return table


def _worst(y_true, y_pred, probs, n):
    y_true, y_pred = np.asarray(_numpy(y_true)).astype(int), np.asarray(_numpy(y_pred)).astype(int)
    probs = np.asarray(_numpy(probs), dtype=float)
    if not (len(y_true) == len(y_pred) == len(probs)):
        raise DataError(
            "y_true, y_pred and probs must have the same length, "
            f"got {len(y_true)}, {len(y_pred)}, {len(probs)}."
        )
    conf = probs[np.arange(len(y_pred)), y_pred] if probs.ndim == 2 else probs
    wrong = np.flatnonzero(y_true != y_pred)
    order = wrong[np.argsort(-conf[wrong], kind="stable")][:n]  # stable: ties keep dataset order
    return [int(i) for i in order], conf


def _image(source, i, mean, std) -> np.ndarray:
    item = source[i]
    if isinstance(item, tuple):  # a dataset item (image, label)
        item = item[0]
    if isinstance(item, (str, Path)):
        from PIL import Image

        with Image.open(item) as img:
            return np.asarray(img.convert("RGB"))
    if hasattr(item, "convert") and hasattr(item, "size"):  # a PIL image
        return np.asarray(item.convert("RGB"))
    arr = np.asarray(_numpy(item), dtype=float)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(1, 2, 0)  # CHW -> HWC for imshow
    if mean is not None and std is not None:
        arr = arr * np.asarray(std, dtype=float) + np.asarray(mean, dtype=float)
    elif arr.max() > 1.0 or arr.min() < 0.0:
        arr = (
            arr / 255.0
            if arr.min() >= 0 and arr.max() > 1.0
            else (arr - arr.min()) / max(arr.max() - arr.min(), 1e-8)
        )
    arr = np.clip(arr, 0.0, 1.0)
    return arr[..., 0] if arr.ndim == 3 and arr.shape[-1] == 1 else arr


# ---- one class against the rest ------------------------------------------------------------
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
