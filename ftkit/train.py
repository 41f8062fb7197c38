"""`fit`: the one training loop of ftkit, written to be read top to bottom.

    history = fit(model, data.train, data.val, TrainConfig(epochs=5), metrics=("accuracy", "f1_macro"))

What one call does (this file follows the same order: `fit`, then each thing it calls):
  1. check every setting and the data size (a `ConfigError` before any slow work);
  2. freeze (if `freeze_depth` is set), seed everything, pick the device;
  3. optionally compute the frozen bottom of the network once (`ftkit.infra.cache`);
  4. build the optimizer with one learning rate per block (`ftkit.freeze.param_groups`);
  5. per epoch: train on shuffled batches, evaluate on the validation set, log both into
     `History`, remember the best weights, maybe stop early;
  6. at the end load the best weights back and leave the model in eval mode.

It never loses your work: a NaN/inf loss stops training at once and restores the last
good weights (stop_reason "diverged"), and the notebook's stop button (KeyboardInterrupt)
returns the history so far with the best weights loaded (stop_reason "interrupted").
Call `fit(..., history=history)` again to continue where it stopped.
Batches and loaders come from `ftkit.data.loaders`.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .callbacks import ProgressBar, TrainState, check_callbacks, emit
from .config import TrainConfig
from .data.loaders import as_dataset, class_predictions, make_loader, model_forward, run_batches, to_device
from .errors import ConfigError, DataError, TrainingDiverged
from .freeze import freeze, mark_frozen, param_groups, restore, set_train_mode, snapshot, trainable_summary
from .history import History
from .infra.cache import prepare_cache
from .infra.runtime import is_out_of_memory, memory_advice, pick_device, seed_everything
from .metrics import resolve_metrics, score

__all__ = ["fit", "evaluate"]


class _Diverged(Exception):
    """Raised inside the loop when the loss is NaN/inf; turned into stop_reason 'diverged'."""


# ---- the loop ---------------------------------------------------------------------------------------
def fit(
    model: nn.Module,
    train_data,
    val_data=None,
    config: TrainConfig | None = None,
    metrics=("accuracy",),
    callbacks=(),
    loss_fn=None,
    history: History | None = None,
    *,
    progress: bool = True,
    strict: bool = False,
    cache="auto",
    **overrides,
) -> History:
    """Train `model` and return its `History` (see the module docstring).

    `overrides` change single settings: fit(model, tr, va, epochs=3) = TrainConfig(epochs=3).
    `cache`: "auto" computes a frozen, deterministic bottom once (ftkit.infra.cache), False never,
    True insists (ConfigError if impossible).  `progress=False` hides the progress bar.
    `strict=True` raises TrainingDiverged on a NaN/inf loss instead of returning.
    """
    config = (config or TrainConfig()).updated(**overrides)
    train_set, val_set = as_dataset(train_data, "train_data"), as_dataset(val_data, "val_data")
    metric_fns = resolve_metrics(metrics)
    device = pick_device(config.device)
    _check_inputs(config, train_set, val_set, metric_fns, device)
    callbacks = check_callbacks(callbacks) + ([ProgressBar()] if progress else [])
    if config.freeze_depth is not None:
        freeze(model, config.freeze_depth)
    else:
        mark_frozen(model)  # blocks you froze by hand also run in eval mode

    state = _new_state(model, history, config, device, has_val=val_set is not None)
    loss_fn = loss_fn or _default_loss(config, device)
    threads = torch.get_num_threads()
    try:
        _run(state, train_set, val_set, loss_fn, metric_fns, callbacks, cache)
    except _Diverged as err:
        _stop_early(state, "diverged", str(err))
    except KeyboardInterrupt:
        _stop_early(state, "interrupted")
    except RuntimeError as err:  # torch.OutOfMemoryError included
        if not is_out_of_memory(err):
            raise
        _stop_early(state, "out_of_memory")
    finally:
        torch.set_num_threads(threads)
    model.eval()
    history = state.history
    history.stop_reason, history.stop_message = state.stop_reason, state.stop_message
    history.best_epoch = state.best_epoch
    emit(callbacks, "on_train_end", state)
    if state.stop_reason == "diverged" and strict:
        raise TrainingDiverged(state.stop_message)
    return history


def _run(state: TrainState, train_set, val_set, loss_fn, metric_fns, callbacks, cache) -> None:
    """The epochs: train, evaluate, log, maybe stop."""
    config = state.config
    autocast, scaler = _autocast_factory(config, state.device)
    train_phase, val_phase = _prepare_phases(state, train_set, val_set, cache)
    cached = getattr(train_phase.loader.dataset, "features", None)
    if cached is not None and cached.ndim == 2 and state.device == "cpu":
        # A small head on stored feature vectors: one thread beats two threads waiting for
        # each other (10x on a busy 2-core machine). fit restores the thread count.
        torch.set_num_threads(1)
    state.optimizer = make_optimizer(state.model, config)
    state.total_steps = _steps_per_epoch(train_phase.loader, config) * config.epochs
    state.scheduler = make_scheduler(state.optimizer, config, state.total_steps)
    emit(callbacks, "on_train_begin", state)
    for epoch in range(state.epoch + 1, state.epoch + config.epochs + 1):
        state.epoch = epoch
        emit(callbacks, "on_epoch_begin", state)
        train_out = _train_epoch(state, train_phase, loss_fn, autocast, scaler, callbacks)
        _end_of_epoch(state, train_out, val_phase, loss_fn, autocast, metric_fns)
        emit(callbacks, "on_epoch_end", state)
        if state.should_stop:
            break
    _finish(state, val_phase is not None)


# ---- one epoch ------------------------------------------------------------------------------------
def _train_epoch(state: TrainState, phase, loss_fn, autocast, scaler, callbacks) -> dict:
    """One pass over the training batches; returns train_loss (+ train metrics inputs)."""
    config, model, optimizer = state.config, state.model, state.optimizer
    set_train_mode(model)
    limit = _batches_per_epoch(phase.loader, config)
    total, n, step_losses, preds, targets = 0.0, 0, [], [], []
    optimizer.zero_grad(set_to_none=True)
    for i, (x, y) in enumerate(phase.loader):
        if i >= limit:
            break
        x, y = to_device(x, state.device), to_device(y, state.device)
        with autocast():
            logits = phase.forward(x)
            loss = loss_fn(logits.float(), y)
        if not torch.isfinite(loss):
            raise _Diverged(f"{loss.item()}")
        scaled = loss / config.gradient_accumulation_steps
        (scaler.scale(scaled) if scaler else scaled).backward()
        total, n = total + loss.item() * len(y), n + len(y)
        step_losses.append(loss.item())
        p, t = class_predictions(logits.detach(), y)
        if p is not None:
            preds.append(p)
            targets.append(t)
        if (i + 1) % config.gradient_accumulation_steps == 0 or i + 1 == limit:
            _optimizer_step(state, scaler)
            state.step += 1
            state.batch_loss = float(np.mean(step_losses))
            step_losses = []
            state.history.log_step(
                step=state.step,
                epoch=round(state.epoch - 1 + (i + 1) / limit, 4),
                train_loss=state.batch_loss,
                lr=optimizer.param_groups[0]["lr"],
                time_s=round(time.perf_counter() - state.start_time, 4),
            )
            emit(callbacks, "on_step_end", state)
    return {
        "train_loss": total / max(n, 1),
        "preds": np.concatenate(preds) if preds else None,
        "targets": np.concatenate(targets) if targets else None,
    }


def _optimizer_step(state: TrainState, scaler) -> None:
    optimizer, clip = state.optimizer, state.config.grad_clip
    if clip is not None:
        if scaler is not None:
            scaler.unscale_(optimizer)
        params = [p for g in optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    state.scheduler.step()


def _end_of_epoch(state: TrainState, train_out, val_phase, loss_fn, autocast, metric_fns) -> dict:
    """Evaluate, log the epoch record and update the best weights / early-stopping counter."""
    record = {"epoch": state.epoch, "train_loss": train_out["train_loss"]}
    record.update(score(metric_fns, train_out["preds"], train_out["targets"], "train_"))
    if val_phase is not None:
        state.model.eval()
        out = run_batches(val_phase.forward, val_phase.loader, loss_fn, state.device, autocast)
        if out["loss"] is not None and not math.isfinite(out["loss"]):
            raise _Diverged(f"{out['loss']} (validation)")
        record["val_loss"] = out["loss"]
        record.update(score(metric_fns, out["preds"], out["targets"], "val_"))
    record["lr"] = state.optimizer.param_groups[0]["lr"]
    record["time_s"] = round(time.perf_counter() - state.start_time, 4)
    state.record = state.history.log_epoch(**record)
    _track_best(state, record)
    return record


def _track_best(state: TrainState, record: dict) -> None:
    value, monitor = record.get(state.history.monitor), state.history.monitor
    if value is None or not math.isfinite(value):
        state.bad_epochs += 1
        return
    better = state.best_value is None or (
        value < state.best_value if state.history.mode == "min" else value > state.best_value
    )
    if better:
        state.best_value, state.best_epoch, state.bad_epochs = value, state.epoch, 0
        state.best_weights = snapshot(state.model)
    else:
        state.bad_epochs += 1
    patience = state.config.patience
    if patience is not None and monitor.startswith("val_") and state.bad_epochs >= patience:
        state.should_stop = True
        state.stop_reason = "early_stopping"
        state.stop_message = (
            f"{monitor} did not improve for {patience} epoch(s): stopped after epoch {state.epoch} "
            f"and went back to the weights of epoch {state.best_epoch} ({monitor}={state.best_value:.4g})."
        )


# ---- how a run ends ---------------------------------------------------------------------------------
def _finish(state: TrainState, has_val: bool) -> None:
    """All epochs ran (or early stopping / a callback stopped): keep the best epoch's weights."""
    config, last = state.config, state.history.last()
    if not state.stop_reason and state.should_stop:
        state.stop_reason = "stopped_by_callback"
        state.stop_message = f"A callback stopped training after epoch {state.epoch}."
    if not state.stop_reason:
        state.stop_reason = "completed"
        state.stop_message = f"Completed {config.epochs} epoch(s)."
    if last is None:
        return
    if has_val and config.restore_best and state.best_epoch is not None:
        if state.best_epoch != last["epoch"]:
            restore(state.model, state.best_weights)
        if state.stop_reason == "completed":
            state.stop_message += (
                f" Kept the weights of epoch {state.best_epoch}, "
                f"the best {state.history.monitor} ({state.best_value:.4g})."
            )
    else:
        state.best_epoch = last["epoch"]  # no validation: the last weights are the ones kept


def _stop_early(state: TrainState, reason: str, value: str = "") -> None:
    """A diverged loss, Ctrl-C or out of memory: go back to the best (or starting) weights, say why."""
    restore(state.model, state.best_weights)
    epoch = state.best_epoch
    kept = "the weights from before training" if epoch is None else f"the weights of epoch {epoch}"
    lr, config = state.config.lr, state.config
    state.stop_reason = reason
    if reason == "diverged":
        state.stop_message = (
            f"The loss became {value} in epoch {state.epoch} (step {state.step + 1}): the learning rate "
            f"lr={lr:g} is most likely too high; try lr={lr / 10:g}. Went back to {kept}."
        )
    elif reason == "interrupted":
        state.stop_message = (
            f"Interrupted in epoch {state.epoch}; kept {kept}. To continue, "
            "run fit(model, train_data, val_data, config, history=history)."
        )
    else:
        state.stop_message = f"Kept {kept}. " + memory_advice(
            config.batch_size, config.gradient_accumulation_steps
        )
    print(state.stop_message)


# ---- setting up ---------------------------------------------------------------------------------
def _check_inputs(config: TrainConfig, train_set, val_set, metric_fns, device: str) -> None:
    """Every complaint about settings or data, before any slow work."""
    if train_set is None:
        raise DataError("fit needs training data. Pass e.g. fit(model, data.train, data.val).")
    n = len(train_set.dataset) if isinstance(train_set, DataLoader) else len(train_set)
    if n == 0:
        raise DataError("The training set is empty. Check the data folder or file you loaded.")
    if not isinstance(train_set, DataLoader) and config.batch_size > n:
        raise ConfigError(
            f"batch_size {config.batch_size} is larger than the training set ({n} examples). "
            f"Use batch_size <= {n}."
        )
    if val_set is None and config.monitor.startswith("val_") and config.patience is not None:
        raise ConfigError(
            f"Early stopping (patience={config.patience}) watches {config.monitor}, "
            "but no validation data was given. Pass val_data."
        )
    name = config.monitor[4:] if config.monitor.startswith("val_") else None
    if name and name != "loss" and name not in metric_fns:
        raise ConfigError(
            f"monitor={config.monitor!r} needs the metric {name!r}. "
            f"Add it: metrics=({name!r},) or use monitor='val_loss'."
        )
    if config.mixed_precision in ("bf16", "fp16") and not device.startswith("cuda"):
        raise ConfigError(
            f"mixed_precision={config.mixed_precision!r} needs a CUDA GPU; this run uses {device}. "
            "Use mixed_precision='auto'."
        )


def _new_state(model, history, config, device, has_val) -> TrainState:
    """Seed, move the model, and start (or continue) the history."""
    history = history if history is not None else History()
    history.monitor = config.monitor if has_val or not config.monitor.startswith("val_") else "train_loss"
    history.mode = config.resolved_mode if history.monitor == config.monitor else "min"
    history.config = {**history.config, **config.to_dict(), "trainable": str(trainable_summary(model))}
    history.stop_reason, history.stop_message = "running", ""
    seed_everything(config.seed)
    model.to(device)
    last = history.last()
    epoch = int(last["epoch"]) if last else 0
    state = TrainState(model=model, history=history, config=config, device=device, epoch=epoch)
    state.step = len(history.steps)
    state.start_time = time.perf_counter() - (float(last.get("time_s", 0.0)) if last else 0.0)
    state.best_weights = snapshot(model)  # what to go back to if the very first epoch fails
    return state


@dataclass
class _Phase:
    loader: object
    forward: object


def _prepare_phases(state: TrainState, train_set, val_set, cache):
    """Loaders and forward functions; with the feature cache, the frozen bottom runs once here."""
    config = state.config
    plan = prepare_cache(state.model, train_set, val_set, config, state.device, mode=cache)
    state.feature_cache = state.history.config["feature_cache"] = plan.reason
    full = lambda x: model_forward(state.model, x)  # noqa: E731 - the whole network

    def phase(data, cached, shuffle: bool) -> _Phase:  # stored features + the top, or the whole network
        data = data if cached is None else cached
        loader = make_loader(data, config.batch_size, shuffle, config.seed, config.num_workers)
        return _Phase(loader, full if cached is None else plan.forward)

    val_phase = phase(val_set, plan.val, shuffle=False) if val_set is not None else None
    return phase(train_set, plan.train, shuffle=True), val_phase


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    groups = param_groups(model, config.lr, config.backbone_lr_mult, config.layer_decay, config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    return torch.optim.AdamW(groups, lr=config.lr)


def make_scheduler(optimizer, config: TrainConfig, total_steps: int):
    """Warm-up from 0, then constant / linear to 0 / cosine to 0 (factors of each group's lr)."""
    warmup = int(round(config.warmup_ratio * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        progress = (step - warmup) / max(1, total_steps - warmup)
        if config.schedule == "linear":
            return max(0.0, 1.0 - progress)
        if config.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _autocast_factory(config: TrainConfig, device: str):
    """(autocast context factory, GradScaler or None). Half precision only on CUDA."""
    if not device.startswith("cuda") or config.mixed_precision == "no":
        return nullcontext, None
    fp16 = config.mixed_precision == "fp16" or (
        config.mixed_precision == "auto" and not torch.cuda.is_bf16_supported()
    )
    dtype = torch.float16 if fp16 else torch.bfloat16
    return (lambda: torch.autocast("cuda", dtype=dtype)), torch.amp.GradScaler("cuda") if fp16 else None


def _default_loss(config: TrainConfig, device):
    weights = config.class_weights
    weight = None if weights is None else torch.tensor(weights, dtype=torch.float32, device=device)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)


def _batches_per_epoch(loader, config: TrainConfig) -> int:
    limit = config.max_steps_per_epoch
    return len(loader) if limit is None else min(len(loader), limit)


def _steps_per_epoch(loader, config: TrainConfig) -> int:
    return math.ceil(_batches_per_epoch(loader, config) / config.gradient_accumulation_steps)


# ---- evaluation ----------------------------------------------------------------------------------
def evaluate(model: nn.Module, data, metrics=("accuracy",), loss_fn=None, batch_size=64, device=None) -> dict:
    """{'loss': ..., 'accuracy': ..., ...} of `model` on `data` (eval mode, no gradients)."""
    device = device or str(next(model.parameters()).device)
    loader = make_loader(as_dataset(data, "data"), batch_size, shuffle=False, seed=0)
    model.eval()
    forward = lambda x: model_forward(model, x)  # noqa: E731
    out = run_batches(forward, loader, loss_fn or nn.CrossEntropyLoss(), device)
    return {"loss": out["loss"], **score(resolve_metrics(metrics), out["preds"], out["targets"], "")}
