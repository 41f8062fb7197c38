"""Pictures of a training run and of a model's mistakes, readable on a classroom projector.

* `plot_history(history)` - train vs. validation loss and the validation metric, with the best
  epoch, the early-stopping point and the under-/good-/over-fitting regions shaded.  The
  regions and the title come from `ftkit.diagnose`, so picture and verdict always agree.
* `LivePlot()` - a callback that redraws that figure *in place* in JupyterLab while training.
* `compare_runs`, `sweep_heatmap` - several runs side by side (e.g. freeze depth x learning rate).

Every function returns its Figure already closed with `plt.close`: a notebook shows it once
(as the cell's value) instead of twice, and scripts and tests do not pile up open figures.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from .callbacks import Callback
from .diagnose import VERDICT_COLOURS, Diagnosis, diagnose
from .errors import ConfigError, DataError

__all__ = ["plot_history", "LivePlot", "compare_runs", "sweep_heatmap"]

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
TRAIN_COLOUR = "#0072B2"  # blue
VAL_COLOUR = "#E69F00"  # orange
REGION_COLOURS = {"under-fitting": "#56B4E9", "good fit": "#009E73", "over-fitting": "#D55E00"}
REGION_ALPHA = 0.13  # light enough to keep the curves readable on a washed-out projector
# Larger than matplotlib's defaults (10 pt): the back row of a classroom must read the labels.
STYLE = {
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.labelsize": 14,
    "legend.fontsize": 11,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "lines.linewidth": 2.5,
    "lines.markersize": 7,
}
PANEL_SIZE = (6.4, 4.6)  # inches per panel: two panels fill a 16:9 slide
METRIC_PREFERENCE = ("val_accuracy", "val_f1_macro", "val_roc_auc")  # the right-hand panel
CONFIG_COLUMNS = (
    "model",
    "lr",
    "learning_rate",
    "depth",
    "freeze_depth",
    "epochs",
    "num_train_epochs",
    "batch_size",
    "weight_decay",
    "augment",
)  # shown in compare_runs' table when present


# ---- training curves ----------------------------------------------------------------------
def plot_history(history_or_list, metric: str | None = None, ax=None, diagnosis=True, steps: bool = True):
    """Loss curves (left) and the validation metric (right) of one run, or of several runs.

    `metric`: the validation key for the right panel (default: val_accuracy or val_f1 if
    recorded).  `ax`: draw into your own Axes (one Axes: loss only; two: loss and metric).
    `diagnosis`: True to shade regions and title the figure with `diagnose(history)`'s
    verdict, a `Diagnosis` to use that one, False for plain curves.  `steps`: also draw the
    per-step training loss, faintly.
    """
    if isinstance(history_or_list, (list, tuple)):
        return _plot_overlay(list(history_or_list), metric, ax)
    history = history_or_list
    metric = metric or _default_metric([history])
    fig, loss_ax, metric_ax = _panels(ax, with_metric=metric is not None)
    diag = diagnosis if isinstance(diagnosis, Diagnosis) else (diagnose(history) if diagnosis else None)

    with plt.rc_context(STYLE):
        if steps and history.steps:
            xs, ys = _step_series(history.steps)
            loss_ax.plot(
                xs,
                ys,
                color=TRAIN_COLOUR,
                alpha=0.3,
                linewidth=1,
                label="train loss (each step)",
                gid="steps",
            )
        _line(loss_ax, history, "train_loss", TRAIN_COLOUR, "train loss", "train")
        _line(loss_ax, history, "val_loss", VAL_COLOUR, "validation loss", "val")
        _style_axes(loss_ax, "loss")
        loss_ax.set_title("Loss (lower is better)")
        if metric_ax is not None:
            _line(metric_ax, history, metric, VAL_COLOUR, metric.replace("_", " "), "metric")
            _style_axes(metric_ax, metric.replace("val_", "validation "))
            metric_ax.set_title(f"{metric.replace('_', ' ')} (per epoch)")
        for axis, key in ((loss_ax, "val_loss"), (metric_ax, metric)):
            if axis is not None:
                _mark_events(axis, history, diag, key)
                axis.legend(loc="best", framealpha=0.9)
        if diag is not None:
            colour = VERDICT_COLOURS.get(diag.verdict, "#333333")
            fig.suptitle(f"Verdict: {diag.verdict}", color=colour, fontsize=17, fontweight="bold")
        elif history.label:
            fig.suptitle(history.label, fontsize=17)
    return fig


def _plot_overlay(histories: list, metric, ax):
    if not histories:
        raise DataError("plot_history got an empty list of histories. Pass one History or a list of them.")
    metric = metric or _default_metric(histories)
    fig, loss_ax, metric_ax = _panels(ax, with_metric=metric is not None)
    with plt.rc_context(STYLE):
        for i, history in enumerate(histories):
            colour, label = PALETTE[i % len(PALETTE)], history.label or f"run {i + 1}"
            _line(loss_ax, history, "val_loss", colour, f"{label} (val)", f"val:{label}")
            _line(
                loss_ax, history, "train_loss", colour, f"{label} (train)", f"train:{label}", linestyle="--"
            )
            if metric_ax is not None:
                _line(metric_ax, history, metric, colour, label, f"metric:{label}")
                _best_dot(metric_ax, history, metric, colour)
            _best_dot(loss_ax, history, "val_loss", colour)
        _style_axes(loss_ax, "loss")
        loss_ax.set_title("Loss: solid = validation, dashed = train")
        loss_ax.legend(loc="best", framealpha=0.9)
        if metric_ax is not None:
            _style_axes(metric_ax, metric.replace("val_", "validation "))
            metric_ax.set_title(metric.replace("_", " "))
            metric_ax.legend(loc="best", framealpha=0.9)
        fig.suptitle(f"Comparing {len(histories)} runs", fontsize=17)
    return fig


def _panels(ax, with_metric: bool):
    """(figure, loss axes, metric axes or None): the caller's axes, or a new closed figure."""
    if ax is not None:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        return axes[0].figure, axes[0], (axes[1] if with_metric and len(axes) > 1 else None)
    n = 2 if with_metric else 1
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            1, n, figsize=(PANEL_SIZE[0] * n, PANEL_SIZE[1]), squeeze=False, layout="constrained"
        )
    plt.close(fig)  # the notebook shows the returned figure once; nothing stays open
    return fig, axes[0][0], (axes[0][1] if n == 2 else None)


def _line(axis, history, key, colour, label, gid, linestyle="-"):
    xs, ys = history.series(key)
    ys = [y if _finite(y) else math.nan for y in ys]  # NaN leaves a gap; inf would wreck the scale
    if xs:
        axis.plot(xs, ys, color=colour, marker="o", linestyle=linestyle, label=label, gid=gid)


def _mark_events(axis, history, diag, key):
    """Shaded regions, the best epoch (line + star) and the early-stopping point."""
    if diag is not None:
        for start, end, kind in diag.regions:
            axis.axvspan(
                start,
                end,
                color=REGION_COLOURS[kind],
                alpha=REGION_ALPHA,
                lw=0,
                label=kind,
                gid=f"region:{kind}",
            )
    best = diag.best_epoch if diag is not None else history.best_epoch
    if best is None:
        best = (history.best() or {}).get("epoch")
    if best is not None:
        axis.axvline(
            best,
            color="#333333",
            linestyle="--",
            linewidth=1.5,
            label=f"best epoch ({best})",
            gid="best-epoch",
        )
        value = next((r.get(key) for r in history.epochs if r["epoch"] == best), None)
        if _finite(value):
            axis.plot(
                [best],
                [value],
                marker="*",
                markersize=18,
                color="#333333",
                linestyle="none",
                gid="best-marker",
            )
    if history.stop_reason == "early_stopping" and history.epochs:
        stop = history.epochs[-1]["epoch"]
        axis.axvline(
            stop,
            color="#CC79A7",
            linestyle=":",
            linewidth=2.5,
            label=f"early stop ({stop})",
            gid="early-stop",
        )


def _best_dot(axis, history, key, colour):
    xs, ys = history.series(key)
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if _finite(y)]
    if pairs:
        pick = min if "loss" in key else max
        x, y = pick(pairs, key=lambda p: p[1])
        axis.plot([x], [y], marker="*", markersize=16, color=colour, linestyle="none", gid="best-marker")


def _style_axes(axis, ylabel: str):
    axis.set_xlabel("epoch")
    axis.set_ylabel(ylabel)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(True, alpha=0.3)


def _default_metric(histories: list):
    keys = {k for h in histories for rec in h.epochs for k in rec if k.startswith("val_") and k != "val_loss"}
    for name in METRIC_PREFERENCE:
        if name in keys:
            return name
    return sorted(keys)[0] if keys else None


def _step_series(steps: list):
    """x positions (in epochs) of step records: fit logs the epoch number, the Trainer a fraction."""
    epochs = [rec.get("epoch", 0) for rec in steps]
    if all(float(e).is_integer() for e in epochs):  # whole epoch numbers: spread steps inside each epoch
        counts: dict = {}
        for e in epochs:
            counts[e] = counts.get(e, 0) + 1
        seen: dict = {}
        xs = []
        for e in epochs:
            seen[e] = seen.get(e, 0) + 1
            xs.append(e - 1 + seen[e] / counts[e])
    else:
        xs = [float(e) for e in epochs]
    ys = [rec.get("train_loss", math.nan) for rec in steps]
    return xs, [y if _finite(y) else math.nan for y in ys]


# ---- live plot ------------------------------------------------------------------------------
class LivePlot(Callback):
    """Redraw `plot_history` in place in a notebook after every epoch (and every N steps).

    It displays one figure once (`display(..., display_id=True)`) and then updates that same
    output, so nothing flickers or piles up.  Outside a Jupyter kernel it does nothing.
    """

    def __init__(self, metric: str | None = None, every_steps: int | None = None, diagnosis: bool = True):
        if every_steps is not None and (not isinstance(every_steps, int) or every_steps < 1):
            raise ConfigError(
                f"LivePlot every_steps must be a positive integer or None, got {every_steps!r}."
            )
        self.metric = metric  # None: accuracy/F1 when recorded
        self.every_steps = every_steps  # None: redraw only at epoch ends (cheapest)
        self.diagnosis = diagnosis  # shade regions and show the verdict while training
        self._handle = None  # the notebook output we update in place
        self._broken = False  # set after a drawing error: stop trying, keep training

    def on_train_begin(self, state) -> None:
        self._handle = None  # a new run gets a new output

    def on_step_end(self, state) -> None:
        if self.every_steps and getattr(state, "step", 0) % self.every_steps == 0:
            self._draw(state, diagnosis=False)  # verdicts need whole epochs

    def on_epoch_end(self, state) -> None:
        self._draw(state, diagnosis=self.diagnosis)

    def on_train_end(self, state) -> None:
        self._draw(state, diagnosis=self.diagnosis)

    def _draw(self, state, diagnosis: bool) -> None:
        if self._broken or not _in_notebook():
            return
        from IPython.display import display

        try:
            fig = plot_history(state.history, metric=self.metric, diagnosis=diagnosis)
            if self._handle is None:
                self._handle = display(fig, display_id=True)
            else:
                self._handle.update(fig)
        except Exception as exc:  # a drawing problem must never cost the training run
            self._broken = True
            print(f"LivePlot stopped drawing: {exc}")


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


# ---- several runs --------------------------------------------------------------------------
def compare_runs(histories, metric: str | None = None):
    """Overlay the validation curve of several runs and tabulate them.

    Returns (figure, table): one row per run with its label, the settings that differ
    between lessons (lr, freeze depth, epochs...), the best value of `metric`, its epoch,
    the stop reason and the training time.
    """
    histories = list(histories)
    if not histories:
        raise DataError("compare_runs got no histories. Pass a list of History objects (one per run).")
    metric = metric or _default_metric(histories) or "val_loss"
    lower_is_better = "loss" in metric
    with plt.rc_context(STYLE):
        fig, axis = plt.subplots(figsize=PANEL_SIZE, layout="constrained")
        plt.close(fig)
        for i, history in enumerate(histories):
            colour, label = PALETTE[i % len(PALETTE)], history.label or f"run {i + 1}"
            _line(axis, history, metric, colour, label, f"metric:{label}")
            _best_dot(axis, history, metric, colour)
        _style_axes(axis, metric.replace("val_", "validation "))
        axis.set_title(f"{metric.replace('_', ' ')}: {len(histories)} runs")
        axis.legend(loc="best", framealpha=0.9)

    config_keys = [k for k in CONFIG_COLUMNS if any(k in (h.config or {}) for h in histories)]
    rows = []
    for i, history in enumerate(histories):
        xs, ys = history.series(metric)
        pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if _finite(y)]
        best = (min if lower_is_better else max)(pairs, key=lambda p: p[1]) if pairs else (None, math.nan)
        last = history.last() or {}
        row = {"label": history.label or f"run {i + 1}"}
        row.update({k: (history.config or {}).get(k) for k in config_keys})
        row.update(
            {
                f"best {metric}": best[1],
                "best epoch": best[0],
                "epochs run": len(history),
                "stop reason": history.stop_reason,
                "time_s": last.get("time_s"),
            }
        )
        rows.append(row)
    return fig, pd.DataFrame(rows)


def sweep_heatmap(
    df: pd.DataFrame, x: str, y: str, value: str, fmt: str = ".3f", higher_is_better: bool | None = None
):
    """A grid of results, e.g. freeze depth (y) x learning rate (x) -> best val accuracy.

    Repeated (x, y) cells are averaged; the best cell is outlined.
    """
    import seaborn as sns
    from matplotlib.patches import Rectangle

    missing = [c for c in (x, y, value) if c not in df.columns]
    if missing:
        raise DataError(
            f"sweep_heatmap: column(s) {missing} not in the table. Columns are: {list(df.columns)}."
        )
    grid = df.pivot_table(index=y, columns=x, values=value, aggfunc="mean").sort_index().sort_index(axis=1)
    if higher_is_better is None:
        higher_is_better = "loss" not in value
    label = lambda v: f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)  # noqa: E731  1e-05 not 0.00001
    with plt.rc_context(STYLE):
        fig, axis = plt.subplots(
            figsize=(1.4 * grid.shape[1] + 3, 0.9 * grid.shape[0] + 2.5), layout="constrained"
        )
        plt.close(fig)
        sns.heatmap(
            grid,
            annot=True,
            fmt=fmt,
            cmap="viridis" if higher_is_better else "viridis_r",
            ax=axis,
            xticklabels=[label(v) for v in grid.columns],
            yticklabels=[label(v) for v in grid.index],
            cbar_kws={"label": value},
            annot_kws={"fontsize": 13},
        )
        values = grid.to_numpy(dtype=float)
        if np.isfinite(values).any():
            flat = np.nanargmax(values) if higher_is_better else np.nanargmin(values)
            r, c = np.unravel_index(flat, values.shape)
            axis.add_patch(
                Rectangle((c, r), 1, 1, fill=False, edgecolor="#D55E00", linewidth=4, gid="best-cell")
            )
        axis.set_xlabel(x)
        axis.set_ylabel(y)
        axis.tick_params(axis="y", rotation=0)
        axis.set_title(f"{value} by {y} and {x}")
    return fig


# ---- small helpers -------------------------------------------------------------------------
def _numpy(values):
    if hasattr(values, "detach"):  # a torch tensor
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
