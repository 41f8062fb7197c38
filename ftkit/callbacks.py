"""Callbacks: small objects that react to named events of a training run.

`ftkit.train.fit` calls, in order:
    on_train_begin(state)
    for each epoch:  on_epoch_begin(state) -> on_step_end(state) per step -> on_epoch_end(state)
    on_train_end(state)          # always, also after early stopping, divergence or Ctrl-C

`state` is the running `TrainState` below: `.model`, `.history` (a `History`), `.config`,
`.epoch`, `.step`, `.optimizer`, and `.should_stop` (set it to True to stop after the
current epoch, with `.stop_reason`/`.stop_message` saying why).
The Hugging Face `Trainer` lessons reuse the same callbacks through `ftkit.hf.HistoryCallback`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:  # names for the annotations only: importing this module stays instant
    import torch
    from torch import nn

    from .config import TrainConfig
    from .history import History

__all__ = ["Callback", "ProgressBar", "TrainState", "EVENTS", "check_callbacks", "emit"]

EVENTS = ("on_train_begin", "on_epoch_begin", "on_step_end", "on_epoch_end", "on_train_end")


class Callback:
    """Base class: override only the events you need."""

    def on_train_begin(self, state) -> None:
        pass

    def on_epoch_begin(self, state) -> None:
        pass

    def on_step_end(self, state) -> None:
        pass

    def on_epoch_end(self, state) -> None:
        pass

    def on_train_end(self, state) -> None:
        pass


class ProgressBar(Callback):
    """A tqdm bar over the optimizer steps: 'epoch 2/5 ... loss=0.41 | val_loss=0.38 val_accuracy=0.89'.

    `fit(..., progress=True)` (the default) adds one after your own callbacks.
    """

    bar = None

    def on_train_begin(self, state) -> None:
        from tqdm.auto import tqdm

        self.last_epoch = state.epoch + state.config.epochs
        self.bar = tqdm(total=state.total_steps, unit="step", leave=True)

    def on_epoch_begin(self, state) -> None:
        self.bar.set_description(f"epoch {state.epoch}/{self.last_epoch}")

    def on_step_end(self, state) -> None:
        self.bar.update(1)
        self.bar.set_postfix_str(self.text(state), refresh=False)

    def on_epoch_end(self, state) -> None:
        self.bar.set_postfix_str(self.text(state))

    def on_train_end(self, state) -> None:
        if self.bar is not None:
            self.bar.close()

    @staticmethod
    def text(state) -> str:
        """'loss=0.4123 | val_loss=0.3810 val_accuracy=0.8875'."""
        text = f"loss={state.batch_loss:.4f}" if state.batch_loss is not None else ""
        if state.record:
            text += " | " + " ".join(
                f"{k}={v:.4g}" for k, v in state.record.items() if k.startswith("val_") and v is not None
            )
        return text


@dataclass
class TrainState:
    """Everything a callback may look at during `fit`."""

    model: nn.Module
    history: History
    config: TrainConfig
    epoch: int = 0  # current epoch number (1-based, continues after a resume)
    step: int = 0  # optimizer steps so far (continues after a resume)
    total_steps: int = 0  # optimizer steps this call of fit will take
    optimizer: torch.optim.Optimizer | None = None
    scheduler: object = None
    device: str = "cpu"
    batch_loss: float | None = None  # loss of the latest optimizer step
    record: dict | None = None  # the latest epoch record
    feature_cache: str = ""  # one line: was the frozen part computed once?
    should_stop: bool = False  # set True to stop after the current epoch
    stop_reason: str = ""
    stop_message: str = ""
    best_epoch: int | None = None
    best_value: float | None = None
    best_weights: dict | None = field(default=None, repr=False)  # CPU copy of the weights that can change
    bad_epochs: int = 0  # epochs in a row without improvement (early stopping)
    start_time: float = 0.0


def check_callbacks(callbacks) -> list:
    """The callbacks as a list (None entries dropped); ConfigError for anything that is not one."""
    callbacks = [cb for cb in (callbacks or ()) if cb is not None]
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ConfigError(f"Callbacks must subclass ftkit.Callback, got {type(cb).__name__}.")
    return callbacks


def emit(callbacks, event: str, state) -> None:
    """Call `event` (one of EVENTS) on every callback, in order."""
    for cb in callbacks:
        getattr(cb, event)(state)
