"""`History`: what happened during training, one record per step and per epoch.

Both ftkit's own `fit` loop and the Hugging Face `Trainer` (through
`ftkit.hf.HistoryCallback`) fill the same structure, so every lesson gets the same
plots (`ftkit.plots.plot_history`) and the same verdict (`ftkit.diagnose`).

Epoch records are plain dicts with these keys (missing values are simply absent):
    epoch       1-based epoch number (float for Trainer's fractional epochs)
    train_loss  mean training loss over the epoch
    val_loss    loss on the validation set after the epoch
    val_<name>  any validation metric, e.g. val_accuracy, val_f1
    lr          learning rate of the first parameter group at the end of the epoch
    time_s      wall-clock seconds since training started
Step records: step, epoch, train_loss, lr, time_s.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["History"]


@dataclass
class History:
    epochs: list = field(default_factory=list)  # one dict per finished epoch (see module doc)
    steps: list = field(default_factory=list)  # one dict per optimizer step
    monitor: str = "val_loss"  # which epoch key decides "best" (and early stopping)
    mode: str = "min"  # "min" for losses, "max" for accuracy-like metrics
    best_epoch: int | None = None  # epoch number whose weights are kept at the end
    stop_reason: str = "not started"  # completed | early_stopping | diverged | interrupted
    stop_message: str = ""  # one human sentence about why training stopped
    config: dict = field(default_factory=dict)  # the settings of the run (for run tables)
    label: str = ""  # a short name for overlays and run tables

    # ---- filling ---------------------------------------------------------------------
    def log_step(self, **record) -> None:
        self.steps.append(record)

    def log_epoch(self, **record) -> dict:
        self.epochs.append(record)
        return record

    # ---- reading ---------------------------------------------------------------------
    def series(self, key: str) -> tuple[list, list]:
        """(epochs, values) for one key, skipping epochs where it is missing."""
        xs, ys = [], []
        for rec in self.epochs:
            if key in rec and rec[key] is not None:
                xs.append(rec["epoch"])
                ys.append(rec[key])
        return xs, ys

    def best(self) -> dict | None:
        """The epoch record of the best epoch (by `monitor`), or None."""
        xs, ys = self.series(self.monitor)
        pairs = zip(xs, ys, strict=True)
        finite = [(x, y) for x, y in pairs if isinstance(y, (int, float)) and math.isfinite(y)]
        if not finite:
            return None
        pick = min if self.mode == "min" else max
        x_best = pick(finite, key=lambda xy: xy[1])[0]
        return next(rec for rec in self.epochs if rec["epoch"] == x_best)

    def last(self) -> dict | None:
        return self.epochs[-1] if self.epochs else None

    def __len__(self) -> int:
        return len(self.epochs)

    # ---- saving ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(**data)

    def save(self, path) -> Path:
        from .infra.io import write_text_atomic  # an interrupted save never leaves half a file

        return write_text_atomic(path, json.dumps(self.to_dict(), indent=1, default=_jsonable))

    @classmethod
    def load(cls, path) -> History:
        return cls.from_dict(json.loads(Path(path).read_text()))


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)
