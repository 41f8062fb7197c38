"""Checks for lesson 05's exercises: each works the truth out from the run it is given.

    check_diagnosis("over-fitting", history)      # the verdict ftkit.diagnose gives this run
    check_wasted_epochs(12, history)              # epochs trained after the best one
    check_lowest_val_loss("wd 1.0", runs)         # which of these runs kept the lowest val loss
    check_stop_epoch(9, history, patience=5)      # when early stopping would have ended this run

Each prints one line (a hint, never the answer) and returns True or False; none raises on a
wrong or missing answer (ftkit.lessons.exercise).
"""

from __future__ import annotations

import math

from ..diagnose import VERDICTS, diagnose
from .exercise import feedback, one_of, unanswered

__all__ = ["check_diagnosis", "check_wasted_epochs", "check_lowest_val_loss", "check_stop_epoch"]


def _count(answer) -> bool:
    return isinstance(answer, (int, float)) and not isinstance(answer, bool)


def _val_losses(history) -> list:
    return [(r["epoch"], r.get("val_loss")) for r in history.epochs]


def check_diagnosis(answer, history) -> bool:
    """`answer`: the verdict you read from the curves of `history` (one of ftkit's VERDICTS)."""
    found = diagnose(history)
    truth = found.verdict
    choice = one_of(answer, VERDICTS)
    if choice is None and not unanswered(answer):
        return feedback(False, right="", hint=f"answer with one of: {', '.join(VERDICTS)}.", answer=answer)
    hints = {
        "over-fitting": "does the validation loss ever climb (or stay flat) while the train loss falls?",
        "under-fitting": "are both losses still high and close together at the end?",
        "diverged": "look for a loss that jumps far above where it started, or NaN.",
        "good fit": "where is the validation loss lowest, and does it level off or turn up after it?",
        "still improving": "is the validation loss still falling at the last epoch?",
    }
    generic = "find the epoch with the lowest val loss; what do both losses do before and after it?"
    hint = generic if unanswered(answer) else hints.get(truth, generic)  # unanswered: no giveaway
    why = f" ({found.evidence[-1]})" if found.evidence else ""
    return feedback(choice == truth, right=f"the curves show {truth}{why}.", hint=hint, answer=answer)


def check_wasted_epochs(answer, history) -> bool:
    """`answer`: how many epochs `history` trained after its best (kept) epoch."""
    best, last = history.best(), history.last()
    truth = int(last["epoch"] - best["epoch"]) if best and last else 0
    ok = _count(answer) and answer == truth
    return feedback(
        ok,
        right=f"{truth} epochs after the best one did not help; early stopping saves most of them.",
        hint="the kept epoch is the dashed line (or the table's 'kept epoch'); count from it to the last.",
        answer=answer,
    )


def check_lowest_val_loss(answer, runs: dict) -> bool:
    """`answer`: the name (a key of `runs`) of the run whose kept epoch has the lowest val loss."""
    kept = {name: (h.best() or {}).get("val_loss", math.nan) for name, h in runs.items()}
    kept = {name: v for name, v in kept.items() if v is not None and math.isfinite(v)}
    if not kept:
        return feedback(
            False, right="", hint="`runs` is empty: train the runs in the cell first.", answer=answer
        )
    truth = min(kept, key=kept.get)
    if not unanswered(answer) and answer not in runs:
        return feedback(False, right="", hint=f"answer with one of the names: {list(runs)}.", answer=answer)
    return feedback(
        answer == truth,
        right=f"{truth!r} kept the lowest val loss ({kept[truth]:.3f}); the others differ by "
        f"{max(kept.values()) - kept[truth]:.3f} at most.",
        hint="compare the runs at their kept (best) epoch: history.best()['val_loss'], not the last epoch.",
        answer=answer,
    )


def _stop_epoch(history, patience: int) -> int:
    """The last epoch `history` would have run with early stopping at `patience` (fit's rule:
    stop once the val loss has not beaten its best for `patience` epochs in a row)."""
    best, bad = None, 0
    for epoch, value in _val_losses(history):
        if value is not None and math.isfinite(value) and (best is None or value < best):
            best, bad = value, 0
        else:
            bad += 1
        if bad >= patience:
            return int(epoch)
    return int(history.last()["epoch"]) if history.last() else 0


def check_stop_epoch(answer, history, patience: int) -> bool:
    """`answer`: the epoch after which early stopping with `patience` would have stopped `history`
    (its last epoch if the rule never fires)."""
    truth = _stop_epoch(history, patience)
    ok = _count(answer) and answer == truth
    return feedback(
        ok,
        right=f"with patience {patience} the run stops after epoch {truth}, "
        f"{int(history.last()['epoch']) - truth} epochs earlier than it ran.",
        hint="walk through history.epochs keeping the best val loss so far and a counter of epochs "
        "without a strictly lower one; stop when the counter reaches the patience.",
        answer=answer,
    )
