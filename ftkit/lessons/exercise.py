"""What every lesson's `check_*` helpers share: one way to answer a learner.

A check never raises on a wrong or missing answer (the exercise cell must run in class and
under nbval); it prints one line, a hint rather than a bare "wrong", and returns True or
False so a solutions notebook can `assert` it. Each lesson's checks live in its own module
(`ftkit.lessons.l01_exercises` ...), next to the lesson they belong to.
"""

from __future__ import annotations

import math

__all__ = ["close_to", "feedback", "one_of", "unanswered"]


def unanswered(answer) -> bool:
    """An exercise cell starts with `answer = None` (or `...`): the learner has not tried yet."""
    return answer is None or answer is Ellipsis


def feedback(ok: bool, *, right: str, hint: str, answer=None) -> bool:
    """Print one line for the learner and return `ok`.

    right: what to say when the answer is right (the idea it confirms, not just "correct").
    hint: what to look at when it is not: a pointer to the cell, knob or idea, never the answer.
    """
    if unanswered(answer):
        print(f"No answer yet: set `answer` in the cell above and run it again. Hint: {hint}")
        return False
    print(f"Right: {right}" if ok else f"Not yet: {hint}")
    return bool(ok)


def close_to(answer, expected: float, *, rel: float = 0.05, abs_tol: float = 0.0) -> bool:
    """A number within `rel` (relative) or `abs_tol` (absolute) of `expected`; False for non-numbers."""
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return False
    return math.isclose(value, float(expected), rel_tol=rel, abs_tol=abs_tol)


def one_of(answer, choices) -> str | None:
    """The normalised choice (case and surrounding spaces ignored) if `answer` is one, else None."""
    if not isinstance(answer, str):
        return None
    norm = answer.strip().lower()
    return next((c for c in choices if c.strip().lower() == norm), None)
