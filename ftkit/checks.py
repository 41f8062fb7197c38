"""Validators: every ftkit config and knob checks its values with these, so a bad value gives the same
kind of one-line `ConfigError` everywhere (what is wrong, the value, an example that works).

    check_int("epochs", 0, minimum=1)   # ConfigError: epochs must be a whole number >= 1, got 0. ...
"""

from __future__ import annotations

import math

from .errors import ConfigError

__all__ = ["is_number", "check_positive", "check_int", "check_fraction", "check_choice", "check_bool"]


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_positive(name, value, allow_zero=False, example=None):
    """A finite number > 0 (>= 0 with allow_zero), else a one-line ConfigError."""
    bad = not is_number(value) or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero)
    if bad:
        need = "a number >= 0" if allow_zero else "a positive number"
        example = _EXAMPLES.get(name, 1) if example is None else example
        raise ConfigError(f"{name} must be {need}, got {value!r}. Example: {name}={example}.")


def check_int(name, value, minimum, maximum=None):
    """A whole number (not a bool) in [minimum, maximum], else a one-line ConfigError."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        span = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ConfigError(
            f"{name} must be a whole number {span}, got {value!r}. "
            f"Set e.g. {name}={max(minimum, _EXAMPLES.get(name, 1))}."
        )


def check_fraction(name, value, example=0.1):
    """A number in [0, 1), else a one-line ConfigError."""
    if not is_number(value) or not math.isfinite(value) or not 0 <= value < 1:
        raise ConfigError(f"{name} must be a number in [0, 1), got {value!r}. Example: {name}={example}.")


def check_choice(name, value, choices):
    """One of `choices`, else a one-line ConfigError listing them."""
    if value not in choices:
        raise ConfigError(f"Unknown {name} {value!r}. Use one of: {', '.join(map(repr, choices))}.")


def check_bool(name, value):
    """True or False (not 0/1 or a string), else a one-line ConfigError."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}.")


_EXAMPLES = {
    "r": 8,  # LoRA rank
    "max_steps": 60,
    "num_train_epochs": 3,
    "gradient_accumulation_steps": 2,
    "epochs": 5,
    "batch_size": 32,
    "lr": 1e-3,
    "backbone_lr_mult": 0.1,
    "layer_decay": 0.8,
    "weight_decay": 0.01,
    "grad_clip": 1.0,
}
