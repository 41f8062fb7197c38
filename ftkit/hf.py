"""Hugging Face `Trainer` helpers: the same History, plots and verdicts as ftkit's own `fit`.

    record = HistoryCallback(LivePlot())          # LivePlot redraws after each evaluation
    trainer = Trainer(..., compute_metrics=classification_metrics,
                      callbacks=[record, EarlyStoppingCallback(early_stopping_patience=2)])
    trainer.train()
    diagnose(record.history); plot_history(record.history)

* `HistoryCallback` turns the Trainer's logs into an `ftkit.History` (one record per
  evaluation) and forwards the events to ftkit callbacks such as `LivePlot`.
* `classification_metrics` is a ready `compute_metrics`: accuracy, precision, recall, F1 and
  ROC AUC from the logits (2 or more classes).
* `WeightedLossTrainer` weights the cross-entropy by class, for imbalanced labels (weights:
  `ftkit.class_weights`).
* `release_training_memory(trainer)` after `trainer.train()`: drops the optimizer's state (for
  AdamW twice the trained weights), which evaluation and prediction never use.

Importing this module imports transformers (a few seconds); `import ftkit` does not.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from .infra.compat import ensure_torchvision

ensure_torchvision()  # transformers imports torchvision when installed (see ftkit/infra/compat.py)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import Trainer, TrainerCallback  # noqa: E402

from .callbacks import Callback  # noqa: E402
from .errors import ConfigError  # noqa: E402
from .history import History  # noqa: E402

__all__ = ["HistoryCallback", "classification_metrics", "WeightedLossTrainer", "release_training_memory"]

# Keys of an evaluation result that are bookkeeping, not model quality.
_EVAL_BOOKKEEPING = ("eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "epoch")


@dataclass
class HFTrainState:
    """What ftkit callbacks see during a Trainer run (the same names as `ftkit.TrainState`)."""

    history: History
    model: object = None
    config: dict = field(default_factory=dict)
    epoch: float = 0  # Trainer epochs are fractional while an epoch runs
    step: int = 0  # optimizer steps done (Trainer's global_step)
    optimizer: object = None
    should_stop: bool = False  # an ftkit callback sets this to stop the Trainer
    stop_reason: str = ""
    stop_message: str = ""


class HistoryCallback(TrainerCallback):
    """Fill an ftkit `History` from the Trainer's logs; forward events to ftkit callbacks.

    * every logged training loss -> `history.steps`
    * every evaluation -> one epoch record: train_loss (mean of the losses logged since the
      previous evaluation), val_loss (= eval_loss), val_<name> for each eval_<name>, lr, time_s
    * a NaN/inf loss, gradient norm or eval loss stops training with stop_reason "diverged"
      (the Trainer hides NaN training losses unless `logging_nan_inf_filter=False`; the
      gradient norm and the eval loss still show them)
    Pass ftkit callbacks (e.g. `LivePlot()`) to have them called as in `fit`.
    """

    def __init__(self, *callbacks: Callback, history: History | None = None, label: str = ""):
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(
                    f"HistoryCallback takes ftkit callbacks (e.g. LivePlot()), got {type(cb).__name__}."
                )
        self.callbacks = list(callbacks)  # ftkit callbacks to forward events to
        self.history = history if history is not None else History(label=label)
        self.state: HFTrainState | None = None
        self._pending: list = []  # training losses logged since the last evaluation
        self._last_lr = None
        self._start = None
        self._training = False  # evaluations outside trainer.train() are not epochs

    # ---- Trainer events ----------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        h = self.history
        metric = args.metric_for_best_model or "loss"
        h.monitor = "val_" + metric.removeprefix("eval_")
        h.mode = "max" if args.greater_is_better else "min"
        h.stop_reason, h.stop_message = "running", ""
        h.config = {
            "lr": args.learning_rate,
            "epochs": args.num_train_epochs,
            "batch_size": args.per_device_train_batch_size,
            "weight_decay": args.weight_decay,
            "warmup_steps": args.warmup_steps,
            "label_smoothing": args.label_smoothing_factor,
            "seed": args.seed,
            "model": type(model).__name__ if model is not None else None,
            **h.config,  # settings the caller put there first win
        }
        self._pending, self._start, self._training = [], time.perf_counter(), True
        self.state = HFTrainState(history=h, model=model, config=h.config, optimizer=optimizer)
        self._forward("on_train_begin", state)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._forward("on_epoch_begin", state)

    def on_step_end(self, args, state, control, **kwargs):
        self._ask_for_loss(control)
        self._forward("on_step_end", state)
        self._obey(control)

    def on_epoch_end(self, args, state, control, **kwargs):
        self._ask_for_loss(control)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" not in logs or "train_loss" in logs:  # eval logs and the final summary ("train_loss")
            return
        loss = float(logs["loss"])
        self._last_lr = logs.get("learning_rate", self._last_lr)
        self.history.log_step(
            step=state.global_step,
            epoch=round(float(state.epoch or 0), 4),
            train_loss=loss,
            lr=self._last_lr,
            time_s=self._elapsed(),
        )
        self._pending.append(loss)
        grad_norm = logs.get("grad_norm")
        if not math.isfinite(loss) or (grad_norm is not None and not math.isfinite(float(grad_norm))):
            what = "loss" if not math.isfinite(loss) else "gradient norm"
            self._diverged(
                control,
                f"The training {what} became {loss if what == 'loss' else grad_norm} "
                f"at step {state.global_step}.",
            )

    def on_evaluate(self, args, state, control, metrics=None, optimizer=None, **kwargs):
        if not self._training or not metrics:
            return
        record = {"epoch": _epoch_number(state.epoch)}
        if self._pending:
            record["train_loss"] = sum(self._pending) / len(self._pending)
        for key, value in metrics.items():
            if key in _EVAL_BOOKKEEPING or not key.startswith("eval_") or not isinstance(value, (int, float)):
                continue
            record["val_" + key.removeprefix("eval_")] = float(value)
        lr = optimizer.param_groups[0]["lr"] if optimizer is not None else self._last_lr
        record.update(lr=lr, time_s=self._elapsed())
        self.history.log_epoch(**record)
        self._pending = []
        best = self.history.best()
        self.history.best_epoch = best["epoch"] if best else None
        if "val_loss" in record and not math.isfinite(record["val_loss"]):
            self._diverged(
                control, f"The validation loss became {record['val_loss']} at epoch {record['epoch']}."
            )
        self._forward("on_epoch_end", state)
        self._obey(control)

    def on_train_end(self, args, state, control, **kwargs):
        h = self.history
        self._training = False
        last = h.last() or {}
        if h.stop_reason == "running":
            if self.state is not None and self.state.should_stop:
                h.stop_reason = self.state.stop_reason or "early_stopping"
                h.stop_message = self.state.stop_message
            elif state.max_steps and state.global_step < state.max_steps:
                h.stop_reason = "early_stopping"
                h.stop_message = (
                    f"Stopped early at epoch {last.get('epoch')} of {args.num_train_epochs}: "
                    f"{h.monitor} did not improve after epoch {h.best_epoch}."
                )
            else:
                h.stop_reason = "completed"
                h.stop_message = f"Finished all {args.num_train_epochs} epochs."
            if args.load_best_model_at_end and h.best_epoch is not None:
                h.stop_message += f" The weights of the best epoch ({h.best_epoch}) were restored."
        self._forward("on_train_end", state)

    # ---- helpers -----------------------------------------------------------------------
    def _ask_for_loss(self, control):
        """Make the Trainer log the training loss just before an evaluation if nothing was
        logged since the last one (e.g. logging_steps larger than an epoch)."""
        if control.should_evaluate and not self._pending:
            control.should_log = True

    def _diverged(self, control, message: str):
        control.should_training_stop = True
        self.history.stop_reason = "diverged"
        self.history.stop_message = message + " Lower the learning rate (e.g. 10x) or clip gradients."

    def _forward(self, event: str, state):
        if self.state is None:
            return
        self.state.epoch, self.state.step = float(state.epoch or 0), state.global_step
        for cb in self.callbacks:
            getattr(cb, event)(self.state)

    def _obey(self, control):
        if self.state is not None and self.state.should_stop:
            control.should_training_stop = True

    def _elapsed(self) -> float:
        return round(time.perf_counter() - self._start, 3) if self._start is not None else 0.0


def release_training_memory(trainer) -> int:
    """Free what only training needs, once `trainer.train()` has returned; returns the bytes freed.

    AdamW keeps two running averages per trained weight: two extra copies of what trains. A Trainer
    keeps them after `train()` returns, so a notebook that trains several models holds every one
    (on Binder's 2 GB, lesson 03 ran out of memory). Gradients left by a run stopped mid-step go too
    (the Trainer itself sets them to None after each optimizer step).
    The model, `trainer.evaluate()` and `trainer.predict()` are unaffected; a later
    `trainer.train()` starts the same optimizer (same parameter groups) from fresh averages.
    """
    from .infra.runtime import free_memory

    freed = 0
    optimizer = trainer.optimizer
    if optimizer is not None:  # an accelerate wrapper exposes the wrapped optimizer's state
        freed += sum(
            t.numel() * t.element_size()
            for s in optimizer.state.values()
            for t in s.values()
            if torch.is_tensor(t)
        )
        optimizer.state.clear()
    for p in trainer.model.parameters():
        if p.grad is not None:
            freed += p.grad.numel() * p.grad.element_size()
            p.grad = None
    free_memory()  # hand the freed blocks back to the OS (malloc keeps them otherwise)
    return freed


def _epoch_number(epoch) -> int | float:
    epoch = float(epoch or 0)
    return int(round(epoch)) if abs(epoch - round(epoch)) < 1e-6 else round(epoch, 3)


# ---- metrics ----------------------------------------------------------------------------------
def classification_metrics(eval_pred) -> dict:
    """`compute_metrics` for `Trainer`: accuracy, precision/recall/f1 (macro) and roc_auc.

    The same numbers as `ftkit.metrics.metrics_summary` (one F1 in the kit: macro F1).
    ROC AUC comes from the softmax of the logits and is left out when undefined
    (e.g. the evaluation set holds only one class).
    """
    from .metrics import metrics_summary

    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, (tuple, list)):  # some models return (logits, hidden_states, ...)
        logits = logits[0]
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)  # stable softmax
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
    out = metrics_summary(np.asarray(labels), probs.argmax(axis=-1), probs)
    return {k: v for k, v in out.items() if v is not None}


class WeightedLossTrainer(Trainer):
    """A `Trainer` whose cross-entropy weights each class (for imbalanced data).

    `class_weights`: one weight per class, e.g. `ftkit.class_weights(data.train, data.num_labels)`.
    Label smoothing still comes from `TrainingArguments(label_smoothing_factor=...)`.
    """

    # our loss is a per-batch mean: the Trainer divides it for gradient accumulation
    loss_is_scaled_for_ga = False

    def __init__(self, *args, class_weights=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weights = (
            None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float)
        )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        if weight is not None and weight.numel() != logits.shape[-1]:
            raise ConfigError(
                f"class_weights has {weight.numel()} values but the model has {logits.shape[-1]} classes."
            )
        loss = torch.nn.functional.cross_entropy(
            logits.view(-1, logits.shape[-1]),
            labels.view(-1),
            weight=weight,
            label_smoothing=self.args.label_smoothing_factor,
        )
        return (loss, outputs) if return_outputs else loss
