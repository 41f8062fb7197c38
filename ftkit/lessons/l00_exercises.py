"""Lesson 00's exercise checks: each computes the truth from what it is given, prints one line
(a hint, never the answer) and returns True or False.

    from ftkit.lessons.l00_exercises import check_trainable_count
    check_trainable_count(answer, model)      # after ftkit.freeze(model, depth=0)

Built on `ftkit.lessons.exercise` (docs/NOTEBOOKS.md, "Learner material").
"""

from __future__ import annotations

import numpy as np

from ..diagnose import VERDICTS, diagnose
from ..errors import ConfigError
from ..history import History
from .exercise import close_to, feedback, one_of, unanswered

__all__ = ["check_accuracy", "check_best_epoch", "check_trainable_count", "check_verdict"]


def _as_int(answer):
    try:
        value = float(str(answer).replace(",", "").replace("_", ""))
    except (TypeError, ValueError):
        return None
    return int(value) if value == int(value) else None


def check_trainable_count(answer, model) -> bool:
    """Exercise 1: how many parameters of `model` train (requires_grad) right now."""
    truth = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return feedback(
        _as_int(answer) == truth,
        right=f"{truth:,} parameters train: a Linear layer has inputs x outputs weights plus one bias "
        "per output, and nothing else is unfrozen.",
        hint="the head is Linear(in_features -> out_features): count one weight per (input, output) "
        "pair, then add one bias per output. Frozen blocks count zero.",
        answer=answer,
    )


def check_best_epoch(answer, history: History) -> bool:
    """Exercise 2: the epoch whose weights `ftkit.fit` keeps (lowest validation loss)."""
    if not isinstance(history, History) or history.best() is None:
        raise ConfigError("check_best_epoch needs a History with validation losses, e.g. `made_up`.")
    truth = history.best()["epoch"]
    return feedback(
        _as_int(answer) == truth,
        right=f"epoch {truth}: early stopping keeps the epoch with the lowest validation loss, "
        "not the last one and not the one with the lowest training loss.",
        hint="look only at the validation losses: which epoch has the smallest one? "
        "Training loss keeps falling while the model memorises, so it cannot tell you.",
        answer=answer,
    )


def check_accuracy(answer, preds, targets) -> bool:
    """Exercise 3: accuracy computed by hand from predictions and true labels."""
    preds, targets = np.asarray(preds).ravel(), np.asarray(targets).ravel()
    if preds.shape != targets.shape or preds.size == 0:
        raise ConfigError(
            f"check_accuracy needs predictions and labels of the same length, got {preds.size} and "
            f"{targets.size}. Pass `preds, targets` from ftkit.predict."
        )
    truth = float((preds == targets).mean())
    ok = close_to(answer, truth, rel=0.0, abs_tol=0.0005) or close_to(answer, 100 * truth, abs_tol=0.05)
    return feedback(
        ok,
        right=f"accuracy is the share of test images whose prediction equals the label "
        f"({int((preds == targets).sum())} of {preds.size}).",
        hint="compare `preds == targets` element by element, count the matches and divide by the "
        "number of test images (a number between 0 and 1).",
        answer=answer,
    )


def check_verdict(answer, verdict: str = "under-fitting") -> bool:
    """Exercise 4: a History (made up or trained) that `diagnose` gives `verdict`."""
    wanted = one_of(verdict, VERDICTS)
    if wanted is None:
        raise ConfigError(f"Unknown verdict {verdict!r}. Use one of: {', '.join(VERDICTS)}.")
    if unanswered(answer):
        return feedback(False, right="", hint=_VERDICT_HINTS.get(wanted, ""), answer=answer)
    if not isinstance(answer, History):
        return feedback(
            False,
            right="",
            hint=f"`answer` must be a History (got {type(answer).__name__}): build one with "
            "ftkit.History() and log_epoch(...), or use the one ftkit.fit returns.",
            answer=answer,
        )
    got = diagnose(answer).verdict
    return feedback(
        got == wanted,
        right=f"diagnose says {wanted!r}: {_VERDICT_RIGHT.get(wanted, 'the curves show it')}.",
        hint=f"diagnose says {got!r}. {_VERDICT_HINTS.get(wanted, 'Read its evidence lines.')}",
        answer=answer,
    )


_VERDICT_HINTS = {
    "under-fitting": "under-fitting means the model barely learned: the training loss stays above 70% "
    "of where it started and validation loss stays close to it (print(ftkit.diagnose(answer)) "
    "shows the numbers).",
    "over-fitting": "over-fitting needs validation loss to rise for at least two epochs after its best "
    "while training loss keeps falling.",
    "good fit": "a good fit needs validation loss to level off at its lowest point.",
}
_VERDICT_RIGHT = {
    "under-fitting": "both losses stay high and close together, so the fix is more learning "
    "(more epochs, a larger learning rate, more trainable layers), not less",
    "over-fitting": "training loss falls while validation loss climbs: the model memorises",
    "good fit": "validation loss has reached its lowest point and levelled off",
}
