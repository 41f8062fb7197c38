"""Check helpers for lesson 01's exercises (the helmet classifier).

Each check works the true answer out itself from what the lesson built (the model, the test
predictions, the pretraining race, the depth probe), prints one line (a hint, never the answer)
and returns True or False, so `solutions/01_helmet_classifier.ipynb` can assert it.
"""

from __future__ import annotations

import numpy as np

from .exercise import close_to, feedback, one_of

__all__ = ["check_trainable", "check_missed_bare_heads", "check_pretraining_gain", "check_best_probe_block"]


def check_trainable(answer, model) -> bool:
    """Exercise 1: how many weights train in the model as it is frozen now."""
    truth = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return feedback(
        close_to(answer, truth, rel=0.0, abs_tol=0.5),
        right=f"{truth:,} weights train: the unfrozen blocks plus the head, a small share of the model",
        hint="add up p.numel() for the parameters with p.requires_grad, or read the freeze table",
        answer=answer,
    )


def check_missed_bare_heads(answer, targets, preds, classes) -> bool:
    """Exercise 2: how many test pictures of a bare head the model called `helmet`."""
    bare, helmet = list(classes).index("no_helmet"), list(classes).index("helmet")
    targets, preds = np.asarray(targets), np.asarray(preds)
    truth = int(((targets == bare) & (preds == helmet)).sum())
    return feedback(
        close_to(answer, truth, rel=0.0, abs_tol=0.5),
        right=f"{truth} bare head(s) went through as helmets: the mistake a site cannot afford",
        hint="in the confusion matrix, find the row of the true class no_helmet and the column helmet",
        answer=answer,
    )


def check_pretraining_gain(answer, race) -> bool:
    """Exercise 3: test accuracy of the pretrained start minus the random start (a fraction, e.g. 0.25)."""
    acc = race.table["test accuracy"]
    truth = float(acc["pretrained"] - acc["random init"])
    return feedback(
        close_to(answer, truth, rel=0.0, abs_tol=0.006),
        right=f"pretraining is worth {truth:+.3f} test accuracy here, with the same images and epochs",
        hint="subtract the random-init row's test accuracy from the pretrained row's in race.table "
        "(a fraction such as 0.2, not percent)",
        answer=answer,
    )


def check_best_probe_block(answer, probe, column: str = "pretrained") -> bool:
    """Exercise 4: the block whose pooled output gives the best linear probe (ties: any of them)."""
    scores = probe[column]
    best = [block for (block, _), s in scores.items() if s >= scores.max() - 1e-12]
    blocks = [block for block, _ in scores.index]
    choice = one_of(answer, blocks)
    return feedback(
        choice is not None and choice in best,
        right=f"{choice} gives the best probe ({scores.max():.3f}); compare it with the blocks around it",
        hint=f"find the largest number in probe[{column!r}] and give its block name, e.g. 'stage3'",
        answer=answer,
    )
