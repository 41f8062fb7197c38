"""Lesson 02's exercise checks: each reads the truth off the lab it is given (its runs, its
runner, its sweep), prints one line (a hint, never the answer) and returns True or False.

    from ftkit.lessons.l02_exercises import check_lowest_val_loss_run
    check_lowest_val_loss_run(answer, lab)    # lab = freeze_lab(...), after some lab.run(...)

No widget has to be clicked: `lab.run(...)` and `lab.sweep(...)` are the Train and Sweep buttons.
Built on `ftkit.lessons.exercise` (docs/NOTEBOOKS.md, "Learner material").
"""

from __future__ import annotations

import math

from ..errors import ConfigError
from ..history import History
from .exercise import close_to, feedback
from .l02_freeze_lab import FreezeLab

__all__ = ["check_backbone_lr", "check_half_depth", "check_lowest_val_loss_run", "check_sweep_best"]


def _lab(lab) -> FreezeLab:
    if not isinstance(lab, FreezeLab):
        raise ConfigError(f"Pass the lab panel (freeze_lab(...)), got {type(lab).__name__}.")
    return lab


def check_backbone_lr(answer, history: History) -> bool:
    """Exercise 1: the learning rate the unfrozen pretrained blocks of a lab run got."""
    config = getattr(history, "config", None) or {}
    if not isinstance(history, History) or "lr" not in config or "backbone_lr_mult" not in config:
        raise ConfigError("check_backbone_lr needs one lab run, e.g. lab.runs[3] (a History).")
    truth = config["lr"] * config["backbone_lr_mult"]
    return feedback(
        close_to(answer, truth, rel=0.01),
        right=f"the head learns at lr {config['lr']:g}, the unfrozen pretrained blocks at "
        f"lr x backbone multiplier: small steps for weights that already know useful features.",
        hint="the head gets `lr`; every unfrozen pretrained block gets `lr` times the run's "
        "'backbone x' (see the runs table).",
        answer=answer,
    )


def check_half_depth(answer, lab) -> bool:
    """Exercise 2: the smallest freeze depth at which at least half of the model's parameters train."""
    runner = _lab(lab).runner
    shares = [(d, runner.summary(d)) for d in range(runner.max_depth + 1)]
    truth = next(d for d, s in shares if s.trainable >= 0.5 * s.total)
    lab._on_depth()  # summary() re-froze the working copy: show the slider's depth again
    try:
        ok = int(answer) == truth and float(answer) == int(answer)
    except (TypeError, ValueError):
        ok = False
    return feedback(
        ok,
        right=f"depth {truth}: the top blocks hold most of the weights (channels grow towards the top "
        "and a layer's weights grow with channels squared), so a few blocks are most of the model.",
        hint="move the freeze depth slider (or print lab.runner.summary(d) for d = 0, 1, 2 ...) and "
        "compare trainable with total; the first depth where trainable >= total / 2 is the answer.",
        answer=answer,
    )


def check_lowest_val_loss_run(answer, lab) -> bool:
    """Exercise 3: the run number (the runs table's `run`) with the lowest validation loss."""
    table = _lab(lab).table()
    if table.empty:
        return feedback(
            False, right="", hint="this lab has no runs yet: press Train (or call lab.run()).", answer=answer
        )
    losses = table["val_loss"].where(table["val_loss"].map(lambda v: v is not None and math.isfinite(v)))
    if losses.isna().all():
        raise ConfigError("No run has a finite validation loss yet: train one with a smaller lr.")
    truth = int(table.loc[losses.idxmin(), "run"])
    try:
        ok = int(answer) == truth
    except (TypeError, ValueError):
        ok = False
    return feedback(
        ok,
        right=f"run #{truth}: the lowest validation loss is the most confident *and* right model, "
        "which accuracy alone on a small validation set often cannot separate.",
        hint="sort lab.table() by val_loss (not val_accuracy) and read the `run` column of the "
        "top row (a run whose loss became NaN does not count).",
        answer=answer,
    )


def check_sweep_best(answer, lab) -> bool:
    """Exercise 4: the best validation accuracy of the lab's last sweep."""
    table = _lab(lab).sweep_table
    if table is None or table.empty:  # the exercise cell as committed: no sweep run yet
        return feedback(
            False,
            right="",
            hint="this lab has no sweep yet: run lab.sweep(depths=[0, 1], lrs=[1e-4, 1e-3]) on it "
            "first, then read its best validation accuracy.",
            answer=answer,
        )
    truth = float(table["val_accuracy"].max())
    ok = close_to(answer, truth, abs_tol=0.0005) or close_to(answer, 100 * truth, abs_tol=0.05)
    return feedback(
        ok,
        right=f"the best cell of the sweep ({lab.best_sweep_config().label}) is the setting to test "
        "once; the others only chose it.",
        hint="read the highest val_accuracy in this lab's sweep table (lab.sweep_table), "
        "or the outlined cell of lab.heatmap(), as a number between 0 and 1.",
        answer=answer,
    )
