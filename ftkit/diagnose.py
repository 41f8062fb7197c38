"""`diagnose(history)`: read the loss curves the way a teacher would, and say what to do.

The seed lessons teach three states of a training run, all visible on the loss curves:

* **under-fitting** - the model "has not learned yet": train *and* validation loss are both
  still high.  Fix: train longer, give it more capacity (unfreeze more layers), raise the
  learning rate, check the data.
* **good fit** - validation loss has reached its lowest point and levelled off.  Stop here and
  evaluate on the test set.
* **over-fitting** - the model "has learned too much": training loss keeps falling while
  validation loss turns around and climbs.  It memorises the training examples (the green
  blanket behind the cat) instead of what matters.  Fix: early stopping, more or more varied
  data, regularisation, a smaller learning rate, fewer trainable layers.
  The same verdict covers a curve that never turns because it never went down: training
  loss falls a lot while validation loss stays where it started (for two classes, at
  chance, ln 2 = 0.69).  Nothing learned carries over to new data: memorising from the
  first epoch on (typical with very few training examples).

Two more verdicts cover practical cases: **still improving** (validation loss is still
dropping at the last epoch: give it more epochs) and **diverged** (a loss became NaN/inf:
the learning rate is too high or gradients exploded).  With fewer than two epochs nothing
can be said (**too short to tell**); a run stopped with Ctrl-C before that is
**interrupted**.

Every rule below uses a named threshold, so a learner can see exactly why a verdict was
given, and change it.  The same history always gives the same `Diagnosis`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

__all__ = ["diagnose", "Diagnosis", "VERDICTS"]

VERDICTS = (
    "under-fitting",
    "good fit",
    "over-fitting",
    "diverged",
    "still improving",
    "too short to tell",
    "interrupted",
)

# ---- thresholds (why each value) --------------------------------------------------------
MIN_EPOCHS = 2  # one point is not a curve: we need at least two epochs to see a trend
OVERFIT_MIN_EPOCHS_RISING = 2  # one worse epoch is often noise; two in a row is a pattern
OVERFIT_MIN_RISE = 0.05  # val loss must end >5% above its best: smaller wiggles are noise
UNDERFIT_LOSS_RATIO = 0.7  # train loss still >70% of where it started: it barely learned
UNDERFIT_MAX_REL_GAP = 0.25  # |val - train| within 25% of train: both equally poor, no memorising
UNDERFIT_MAX_TRAIN_ACC = 0.7  # under 70% right on its own training data is poor for any lesson here
UNDERFIT_MAX_ACC_GAP = 0.05  # train and val accuracy within 5 points: "train ~ val"
TREND_WINDOW = 3  # the slope is fitted on the last 3 epochs: recent, but not a single step
STILL_IMPROVING_SLOPE = 0.02  # val loss still falling >2% per epoch counts as real progress
PLATEAU_FRACTION = 0.1  # the curve has "levelled off" once 90% of its total drop is done
DIVERGED_LOSS_RATIO = 5.0  # an epoch's train loss 5x above the starting loss: it blew up, even if finite
NO_TRANSFER_MAX_VAL_GAIN = 0.05  # best val loss <5% below its start: noise-sized (see OVERFIT_MIN_RISE)
NO_TRANSFER_MAX_TRAIN_RATIO = 0.5  # ...while train loss fell below half its start: it learned *something*


@dataclass
class Diagnosis:
    """What `diagnose` concluded: the verdict, the numbers behind it, and what to try next."""

    verdict: str  # one of VERDICTS
    evidence: list = field(default_factory=list)  # sentences with the numbers behind the verdict
    advice: list = field(default_factory=list)  # what to try next, most useful first
    best_epoch: int | float | None = None  # epoch with the best monitored value
    stop_epoch: int | float | None = None  # last epoch that finished
    monitor: str = "val_loss"  # the key that decided "best"
    numbers: dict = field(default_factory=dict)  # the measured values (for tests and tables)
    regions: list = field(default_factory=list)  # (start, end, kind) spans for plot_history

    def __str__(self) -> str:
        lines = [f"Verdict: {self.verdict}"]
        lines += [f"  - {sentence}" for sentence in self.evidence]
        if self.advice:
            lines.append("What to try:")
            lines += [f"  - {tip}" for tip in self.advice]
        return "\n".join(lines)

    __repr__ = __str__  # a console or a plain-text notebook output shows the readable form too

    def _repr_html_(self) -> str:
        esc = html.escape
        colour = VERDICT_COLOURS.get(self.verdict, "#555555")
        parts = [f'<div><b style="color:{colour}">Verdict: {esc(self.verdict)}</b><ul>']
        parts += [f"<li>{esc(s)}</li>" for s in self.evidence]
        parts.append("</ul>")
        if self.advice:
            parts.append("<b>What to try:</b><ul>")
            parts += [f"<li>{esc(t)}</li>" for t in self.advice]
            parts.append("</ul>")
        parts.append("</div>")
        return "".join(parts)


# Okabe-Ito colours (colour-blind safe), shared with plots.py.
VERDICT_COLOURS = {
    "under-fitting": "#0072B2",
    "good fit": "#009E73",
    "over-fitting": "#D55E00",
    "diverged": "#CC0000",
    "still improving": "#56B4E9",
    "too short to tell": "#555555",
    "interrupted": "#555555",
}

ADVICE = {
    "over-fitting": [
        "Use early stopping and keep the weights of the best epoch (ftkit's fit does this).",
        "Get more training data, or make it more varied.",
        "Add data augmentation (random crops, flips, colour jitter) "
        "so the model cannot memorise exact pictures.",
        "Regularise: add weight decay or dropout.",
        "Freeze more layers (a smaller freeze depth): fewer trainable weights memorise less.",
        "Lower the learning rate, so the pretrained knowledge is adjusted gently.",
    ],
    "under-fitting": [
        "Train for more epochs.",
        "Give the model more capacity: unfreeze more layers, or pick a bigger model.",
        "Raise the learning rate (carefully, e.g. 3x).",
        "Check the data: are the labels right, do the inputs look as expected, are the classes learnable?",
    ],
    "diverged": [
        "Lower the learning rate.",
        "Clip gradients: TrainConfig(grad_clip=1.0), "
        "or TrainingArguments(max_grad_norm=1.0) for the Trainer.",
        "Warm the learning rate up over the first steps: TrainConfig(warmup_ratio=0.1) or"
        " train_sft(warmup_steps=0.1); for the Trainer TrainingArguments(warmup_steps=0.1)"
        " (a float below 1 is a share of the steps).",
    ],
    "still improving": [
        "Train for more epochs: validation loss has not levelled off yet.",
        "Keep early stopping on, so extra epochs cannot hurt.",
    ],
    "good fit": [
        "Keep these weights and evaluate them once on the test set.",
        "Look at the mistakes (confusion matrix, worst errors) to see what is left to fix.",
    ],
    "too short to tell": ["Train for at least two epochs with a validation set, then diagnose again."],
    "interrupted": ["Run training again to the end (or for at least two epochs), then diagnose again."],
}


def diagnose(history, monitor: str | None = None) -> Diagnosis:
    """Judge a finished (or stopped) run from its `History`.

    `monitor` picks the key that decides the best epoch (default: `history.monitor`).
    The shape of the curves is always judged on `train_loss` and `val_loss`.
    """
    monitor = monitor or getattr(history, "monitor", None) or "val_loss"
    mode = history.mode if monitor == history.monitor else ("min" if "loss" in monitor else "max")
    records = list(history.epochs)
    stop_reason = getattr(history, "stop_reason", "") or ""
    stop_epoch = records[-1]["epoch"] if records else None

    # ---- diverged: any non-finite loss, or the training loop said so -------------------
    bad = _first_non_finite(records, history.steps)
    if bad is None:
        bad = _exploded(records, history.steps)
    if bad is not None or stop_reason == "diverged":
        return _diverged(history, bad, stop_epoch, monitor)

    epochs = [r["epoch"] for r in records]
    train = [r.get("train_loss") for r in records]
    val = [r.get("val_loss") for r in records]
    has_val = all(v is not None for v in val) and len(val) > 0
    if len(records) < MIN_EPOCHS:
        verdict = "interrupted" if stop_reason == "interrupted" else "too short to tell"
        evidence = [
            f"Only {len(records)} epoch(s) finished; at least {MIN_EPOCHS} are needed to see a trend."
        ]
        return _result(verdict, evidence, None, stop_epoch, monitor, {}, [])

    best_epoch = _best_epoch(records, monitor, mode)
    n = len(records)
    numbers: dict = {"epochs": n}
    evidence: list = []
    if stop_reason == "interrupted":
        evidence.append(
            f"Training was interrupted after epoch {_fmt(stop_epoch)}; this covers the epochs that finished."
        )

    # ---- training loss: how far did it come down? -------------------------------------
    start_loss = _start_loss(history.steps, train)
    train_ratio = None
    if train[-1] is not None and start_loss:
        train_ratio = train[-1] / start_loss
        numbers.update(start_train_loss=start_loss, final_train_loss=train[-1], train_loss_ratio=train_ratio)
        evidence.append(
            f"Train loss went from {_fmt(start_loss)} to {_fmt(train[-1])} ({train_ratio:.0%} of its start)."
        )

    if not has_val:
        evidence.append(
            "No validation loss was recorded, so over-fitting cannot be seen; add a validation set."
        )
        train_slope = (
            _relative_slope(epochs[-TREND_WINDOW:], train[-TREND_WINDOW:]) if None not in train else 0.0
        )
        if train_ratio is not None and train_ratio > UNDERFIT_LOSS_RATIO:
            verdict = "under-fitting"
        elif train_slope < -STILL_IMPROVING_SLOPE:
            verdict = "still improving"
        else:
            verdict = "good fit"
        return _result(verdict, evidence, best_epoch, stop_epoch, monitor, numbers, [])

    # ---- validation loss: where was it best, what happened since? ----------------------
    b = min(range(n), key=lambda i: val[i])  # first epoch with the lowest val loss
    since_best = n - 1 - b
    rise = (val[-1] - val[b]) / abs(val[b]) if val[b] else 0.0
    rising_epochs = sum(1 for i in range(b + 1, n) if val[i] > val[i - 1])
    slope = _relative_slope(epochs[-TREND_WINDOW:], val[-TREND_WINDOW:])
    numbers.update(
        best_val_loss=val[b],
        best_val_loss_epoch=epochs[b],
        final_val_loss=val[-1],
        epochs_since_best=since_best,
        val_rise=rise,
        val_slope=slope,
    )
    evidence.append(
        f"Validation loss was lowest at epoch {_fmt(epochs[b])} ({_fmt(val[b])}); "
        f"at the last epoch ({_fmt(epochs[-1])}) it is {_fmt(val[-1])}."
    )
    if since_best:
        evidence.append(
            f"Since its best, val loss rose in {rising_epochs} of {since_best} epoch(s) "
            f"and ends {rise:+.1%} vs. its best."
        )
    evidence.append(
        f"Over the last {min(TREND_WINDOW, n)} epochs validation loss changed by {slope:+.1%} per epoch."
    )

    gap_best = gap_last = None
    if train[b] is not None and train[-1] is not None:
        gap_best, gap_last = val[b] - train[b], val[-1] - train[-1]
        numbers.update(gap=gap_last, gap_growth=gap_last - gap_best)
        growth = gap_last - gap_best
        change = (
            "stayed the same"
            if abs(growth) < 1e-9
            else f"{'grew' if growth > 0 else 'shrank'} by {_fmt(abs(growth))}"
        )
        evidence.append(
            f"Gap val - train loss: {_fmt(gap_best)} at the best epoch, "
            f"{_fmt(gap_last)} at the end ({change})."
        )
    train_kept_falling = train[-1] is not None and train[b] is not None and train[-1] < train[b]

    # Where did val loss start? The higher of its first epoch and the untrained (start) loss: a
    # first epoch that already learned a lot must not look like "val never improved".
    val_start = max(val[0], start_loss) if start_loss else val[0]
    val_gain = 1 - val[b] / val_start if val_start > 0 else 0.0
    numbers.update(val_start=val_start, val_gain=val_gain)
    no_transfer = (
        train_ratio is not None
        and train_ratio < NO_TRANSFER_MAX_TRAIN_RATIO
        and val_gain < NO_TRANSFER_MAX_VAL_GAIN
    )

    # ---- the rules, in order -----------------------------------------------------------
    val_turned_up = since_best >= OVERFIT_MIN_EPOCHS_RISING and rise > OVERFIT_MIN_RISE and train_kept_falling
    if val_turned_up:
        verdict = "over-fitting"
        evidence.append(
            f"Over-fitting rule: val loss {rise:.1%} above its best for {since_best} epochs "
            f"(>{OVERFIT_MIN_RISE:.0%} for >={OVERFIT_MIN_EPOCHS_RISING}) while train loss kept falling."
        )
    elif no_transfer:
        verdict = "over-fitting"
        evidence.append(
            f"Over-fitting rule (nothing carries over): train loss fell to {train_ratio:.0%} of its start "
            f"(<{NO_TRANSFER_MAX_TRAIN_RATIO:.0%}) but val loss never got more than "
            f"{max(val_gain, 0):.1%} below where it started ({_fmt(val_start)}; "
            f"needs >{NO_TRANSFER_MAX_VAL_GAIN:.0%}): the model memorises the training examples."
        )
    elif since_best == 0 and slope < -STILL_IMPROVING_SLOPE:
        verdict = "still improving"
        evidence.append(
            f"Still-improving rule: the last epoch is the best and val loss falls faster than "
            f"{STILL_IMPROVING_SLOPE:.0%} per epoch."
        )
    elif _under_fitting(train_ratio, train[-1], val[-1], records[-1], evidence):
        verdict = "under-fitting"
    else:
        verdict = "good fit"
        evidence.append("Validation loss has levelled off near its best value.")

    if stop_reason == "early_stopping":
        evidence.append(
            f"Early stopping ended training at epoch {_fmt(stop_epoch)}; best epoch kept: {_fmt(best_epoch)}."
        )
    if verdict == "over-fitting" and not val_turned_up:  # val never improved: no good-fit span to shade
        regions = [(epochs[0], epochs[-1], "over-fitting")]
    else:
        regions = _regions(verdict, epochs, val, b)
    return _result(verdict, evidence, best_epoch, stop_epoch, monitor, numbers, regions)


# ---- helpers -------------------------------------------------------------------------------
def _under_fitting(train_ratio, train_last, val_last, last: dict, evidence: list) -> bool:
    if train_ratio is not None and train_last:
        rel_gap = abs(val_last - train_last) / abs(train_last)
        if train_ratio > UNDERFIT_LOSS_RATIO and rel_gap < UNDERFIT_MAX_REL_GAP:
            evidence.append(
                f"Under-fitting rule: train loss is still {train_ratio:.0%} of its start "
                f"(>{UNDERFIT_LOSS_RATIO:.0%}) and val is within {rel_gap:.0%} of train: both are still poor."
            )
            return True
    acc_t, acc_v = last.get("train_accuracy"), last.get("val_accuracy")
    if acc_t is not None and acc_v is not None:
        if acc_t < UNDERFIT_MAX_TRAIN_ACC and abs(acc_t - acc_v) < UNDERFIT_MAX_ACC_GAP:
            evidence.append(
                f"Under-fitting rule: train accuracy is only {acc_t:.1%} (<{UNDERFIT_MAX_TRAIN_ACC:.0%}) "
                f"and val accuracy is close ({acc_v:.1%})."
            )
            return True
    return False


def _regions(verdict: str, epochs: list, val: list, b: int) -> list:
    """Shaded spans for plot_history, derived from the same numbers as the verdict."""
    first, last = epochs[0], epochs[-1]
    if verdict == "under-fitting":
        return [(first, last, "under-fitting")]
    if verdict not in ("good fit", "over-fitting", "still improving"):
        return []
    drop = val[0] - val[b]
    p = next(i for i in range(b + 1) if val[i] - val[b] <= PLATEAU_FRACTION * drop)  # levelled off here
    half = (epochs[1] - epochs[0]) / 2 if len(epochs) > 1 else 0.5
    regions = []
    good_start = max(first, epochs[p] - half) if p > 0 else first
    if p > 0:
        regions.append((first, good_start, "under-fitting"))
    good_end = min(last, epochs[b] + half) if verdict == "over-fitting" else last
    if good_end > good_start:
        regions.append((good_start, good_end, "good fit"))
    if verdict == "over-fitting":
        regions.append((good_end, last, "over-fitting"))
    return regions


def _diverged(history, bad, stop_epoch, monitor) -> Diagnosis:
    evidence = []
    if isinstance(bad, str):
        evidence.append(bad)
    elif bad is not None:
        where, key, value = bad
        evidence.append(f"{key} became {value} at {where}.")
    if history.stop_message:
        evidence.append(history.stop_message)
    elif history.stop_reason == "diverged":
        evidence.append("The training loop stopped because the loss diverged.")
    lr = _learning_rate(history)
    advice = list(ADVICE["diverged"])
    if lr:
        advice[0] = f"Lower the learning rate about 10x: from {lr:g} to {lr / 10:g}."
    finite = [r for r in history.epochs if all(_finite(r.get(k)) for k in ("train_loss", "val_loss"))]
    best = _best_epoch(finite, monitor, history.mode) if finite else None
    return Diagnosis("diverged", evidence, advice, best, stop_epoch, monitor, {"learning_rate": lr}, [])


def _result(verdict, evidence, best_epoch, stop_epoch, monitor, numbers, regions) -> Diagnosis:
    return Diagnosis(
        verdict, evidence, list(ADVICE[verdict]), best_epoch, stop_epoch, monitor, numbers, regions
    )


def _best_epoch(records: list, monitor: str, mode: str):
    scored = [(r["epoch"], r[monitor]) for r in records if _finite(r.get(monitor))]
    if not scored:
        return None
    pick = min if mode == "min" else max
    return pick(scored, key=lambda item: item[1])[0]  # ties: the earliest epoch wins


def _start_loss(steps: list, train: list):
    """The loss before much learning: the first logged step, else the first epoch's mean."""
    for rec in steps:
        if _finite(rec.get("train_loss")):
            return rec["train_loss"]
    return next((t for t in train if t is not None), None)


def _relative_slope(xs: list, ys: list) -> float:
    """Least-squares slope of ys over xs, as a fraction of the mean of ys (per epoch)."""
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0 or my == 0:
        return 0.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
    return slope / abs(my)


def _first_non_finite(records: list, steps: list):
    for rec in steps:
        if rec.get("train_loss") is not None and not _finite(rec["train_loss"]):
            return (f"step {rec.get('step', '?')}", "train_loss", rec["train_loss"])
    for rec in records:
        for key in ("train_loss", "val_loss"):
            if rec.get(key) is not None and not _finite(rec[key]):
                return (f"epoch {_fmt(rec['epoch'])}", key, rec[key])
    return None


def _exploded(records: list, steps: list):
    """A sentence when an epoch's train loss is far above where training started, else None."""
    train = [r.get("train_loss") for r in records]
    start = _start_loss(steps, train)
    for rec in records:
        loss = rec.get("train_loss")
        if start and loss is not None and loss > DIVERGED_LOSS_RATIO * start:
            return (
                f"Train loss exploded to {_fmt(loss)} at epoch {_fmt(rec['epoch'])}, "
                f"{loss / start:.3g}x its start ({_fmt(start)}; limit {DIVERGED_LOSS_RATIO:g}x)."
            )
    return None


def _learning_rate(history):
    for key in ("lr", "learning_rate"):
        value = history.config.get(key) if isinstance(history.config, dict) else None
        if _finite(value) and value > 0:
            return float(value)
    for rec in history.epochs + history.steps:
        if _finite(rec.get("lr")) and rec["lr"] > 0:
            return float(rec["lr"])
    return None


def _finite(value) -> bool:
    try:
        return value is not None and not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _fmt(value) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.4g}"
    return str(value)
