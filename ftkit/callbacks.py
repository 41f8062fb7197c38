"""Callbacks: small objects that react to named events of a training run.

`ftkit.train.fit` calls, in order:
    on_train_begin(state)
    for each epoch:  on_epoch_begin(state) -> on_step_end(state) per step -> on_epoch_end(state)
    on_train_end(state)          # always, also after early stopping, divergence or Ctrl-C

`state` is the running `ftkit.train.TrainState`: `.model`, `.history` (a `History`),
`.config`, `.epoch`, `.step`, `.optimizer`, and `.should_stop` (set it to True to stop
after the current epoch, with `.stop_reason`/`.stop_message` saying why).
The Hugging Face `Trainer` lessons reuse the same callbacks through `ftkit.hf.HistoryCallback`.
"""

from __future__ import annotations

__all__ = ["Callback", "EVENTS"]

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
