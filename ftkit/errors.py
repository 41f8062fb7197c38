"""ftkit's exceptions: one line that says what is wrong and how to fix it.

Every error a learner can cause (a bad folder, a typo in a preset name, a learning
rate of zero) is raised as a subclass of `FtkitError` *before* any slow work starts,
so nothing is wasted and nothing is overwritten.  The message is always one line:
"<what is wrong>: <the value or file>. <how to fix it>."
"""

from __future__ import annotations

__all__ = ["FtkitError", "DataError", "ConfigError", "ModelError", "TrainingDiverged", "SaveError"]


class FtkitError(Exception):
    """Base class: catch this to handle any ftkit complaint about user input."""

    def __init__(self, message: str):
        # Keep messages to one line so they read well in a notebook traceback.
        super().__init__(" ".join(str(message).split()))


class DataError(FtkitError, ValueError):
    """A data folder or file cannot be used as it is (missing, empty, malformed)."""


class ConfigError(FtkitError, ValueError):
    """A setting is out of range (learning rate, epochs, freeze depth, preset name...)."""


class ModelError(FtkitError, RuntimeError):
    """A model cannot be loaded or saved (unreachable weights, refused checkpoint...)."""


class TrainingDiverged(FtkitError, RuntimeError):
    """The loss became NaN or infinite; raised only when the caller asks for strict mode."""


class SaveError(FtkitError, OSError):
    """A save would overwrite an earlier result, or could not be completed safely."""
