"""`fit`: the one training loop of ftkit, written to be read.

    history = fit(model, data.train, data.val, TrainConfig(epochs=5), metrics=("accuracy", "f1_macro"))

What one call does, top to bottom:
  1. check every setting and the data size (a `ConfigError` before any slow work);
  2. freeze (if `freeze_depth` is set), seed everything, pick the device;
  3. optionally compute the frozen bottom of the network once (`ftkit.cache`);
  4. build the optimizer with one learning rate per block (`ftkit.freeze.param_groups`);
  5. per epoch: train on shuffled batches, evaluate on the validation set, log both into
     `History`, remember the best weights, maybe stop early;
  6. at the end load the best weights back and leave the model in eval mode.

It never loses your work: a NaN/inf loss stops training at once and restores the last
good weights (stop_reason "diverged"), and the notebook's stop button (KeyboardInterrupt)
returns the history so far with the best weights loaded (stop_reason "interrupted").
Call `fit(..., history=history)` again to continue where it stopped.
"""

from __future__ import annotations

import math
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from .callbacks import Callback
from .config import TrainConfig
from .errors import ConfigError, DataError, TrainingDiverged
from .freeze import freeze, mark_frozen, param_groups, set_train_mode, trainable_summary
from .history import History
from .infra.cache import prepare_cache
from .infra.runtime import is_out_of_memory, memory_advice, pick_device, seed_everything
from .metrics import resolve_metrics, score

__all__ = ["fit", "evaluate", "predict", "TrainState"]


# ---- the state callbacks see ------------------------------------------------------------------
@dataclass
class TrainState:
    """Everything a callback may look at (see ftkit/callbacks.py)."""

    model: nn.Module
    history: History
    config: TrainConfig
    epoch: int = 0  # current epoch number (1-based, continues after a resume)
    step: int = 0  # optimizer steps so far (continues after a resume)
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


class _Diverged(Exception):
    """Raised inside the loop when the loss is NaN/inf; turned into stop_reason 'diverged'."""


# ---- data ---------------------------------------------------------------------------------------
def _as_dataset(data, what: str):
    """Accept a Dataset, a DataLoader or an (inputs, targets) pair of tensors."""
    if data is None or isinstance(data, (Dataset, DataLoader)):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        return TensorDataset(*data)
    if hasattr(data, "train") and not hasattr(data, "__getitem__"):
        raise DataError(
            f"{what} is a whole data set object ({type(data).__name__}). Pass one split, e.g. data.train and data.val."
        )
    if hasattr(data, "__len__") and hasattr(data, "__getitem__") and not isinstance(data, (str, bytes, dict)):
        return data
    raise DataError(
        f"{what} must be a Dataset of (x, y) pairs, a DataLoader or (X, y) tensors, got {type(data).__name__}."
    )


def _seed_worker(worker_id: int) -> None:
    """DataLoader workers: seed NumPy and `random` from the torch seed torch gave the worker."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(data, batch_size: int, shuffle: bool, seed: int, num_workers: int = 0):
    """A DataLoader with its own seeded generator (the global random stream is left alone)."""
    if isinstance(data, DataLoader):
        return data
    generator = torch.Generator()
    generator.manual_seed(seed)
    batch_fetch = getattr(data, "batch_fetch", False)  # cached tensors: index a whole batch at once
    if batch_fetch:
        sampler = (
            torch.utils.data.RandomSampler(data, generator=generator)
            if shuffle
            else torch.utils.data.SequentialSampler(data)
        )
        batches = torch.utils.data.BatchSampler(sampler, batch_size, drop_last=False)
        return DataLoader(data, sampler=batches, batch_size=None, generator=generator)
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        worker_init_fn=_seed_worker if num_workers else None,
    )


def _to_device(x, device):
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, dict):
        return {k: _to_device(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_device(v, device) for v in x)
    return x


def model_forward(model: nn.Module, x):
    """Call the model on a batch and return the logits tensor (HF outputs have `.logits`)."""
    out = model(**x) if isinstance(x, dict) else model(x)
    if hasattr(out, "logits"):
        return out.logits
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


def _default_loss(config: TrainConfig, device):
    weight = (
        None
        if config.class_weights is None
        else torch.tensor(config.class_weights, dtype=torch.float32, device=device)
    )
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)


def _predictions(logits: torch.Tensor, y) -> tuple:
    """(predicted class, target) as NumPy arrays, or (None, None) if this is not classification."""
    if not isinstance(y, torch.Tensor) or logits.ndim != 2 or y.ndim != 1 or y.is_floating_point():
        return None, None
    return logits.argmax(1).cpu().numpy(), y.cpu().numpy()


# ---- evaluation and prediction ------------------------------------------------------------------
@torch.no_grad()
def _run_eval(forward, loader, loss_fn, device, autocast) -> dict:
    """Mean loss and all predictions over a loader (no gradients)."""
    total, n, preds, targets, probs = 0.0, 0, [], [], []
    for x, y in loader:
        x, y = _to_device(x, device), _to_device(y, device)
        with autocast():
            logits = forward(x)
        if loss_fn is not None:
            total += float(loss_fn(logits.float(), y)) * len(y)
        n += len(y)
        probs.append(torch.softmax(logits.float(), dim=-1).cpu())
        p, t = _predictions(logits, y)
        if p is not None:
            preds.append(p)
            targets.append(t)
    return {
        "loss": total / max(n, 1) if loss_fn is not None else None,
        "probs": torch.cat(probs).numpy() if probs else np.zeros((0, 0)),
        "preds": np.concatenate(preds) if preds else None,
        "targets": np.concatenate(targets) if targets else None,
    }


def evaluate(
    model: nn.Module,
    data,
    metrics=("accuracy",),
    loss_fn=None,
    batch_size: int = 64,
    device: str | None = None,
) -> dict:
    """{'loss': ..., 'accuracy': ..., ...} of `model` on `data` (eval mode, no gradients)."""
    device = device or str(next(model.parameters()).device)
    loader = make_loader(_as_dataset(data, "data"), batch_size, shuffle=False, seed=0)
    model.eval()
    out = _run_eval(
        lambda x: model_forward(model, x), loader, loss_fn or nn.CrossEntropyLoss(), device, nullcontext
    )
    return {"loss": out["loss"], **score(resolve_metrics(metrics), out["preds"], out["targets"], "")}


def predict(model: nn.Module, data, batch_size: int = 64, device: str | None = None) -> tuple:
    """(probs, preds, targets) as NumPy arrays, in the data's order."""
    device = device or str(next(model.parameters()).device)
    loader = make_loader(_as_dataset(data, "data"), batch_size, shuffle=False, seed=0)
    model.eval()
    out = _run_eval(lambda x: model_forward(model, x), loader, None, device, nullcontext)
    preds = out["probs"].argmax(-1) if out["probs"].size else np.zeros(0, dtype=int)
    return out["probs"], preds, out["targets"]


# ---- weights we may have to go back to ----------------------------------------------------------
def snapshot(model: nn.Module) -> dict:
    """A CPU copy of what training can change: trainable parameters and unfrozen buffers."""
    snap = {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}
    for mod_name, module in model.named_modules():
        if getattr(module, "_ftkit_frozen", False):
            continue  # frozen BatchNorm statistics never change
        for name, b in module.named_buffers(recurse=False):
            snap[f"{mod_name}.{name}" if mod_name else name] = b.detach().to("cpu", copy=True)
    return snap


@torch.no_grad()
def restore(model: nn.Module, snap: dict) -> None:
    """Copy a `snapshot` back, touching nothing else.

    (Not `load_state_dict(strict=False)`: BatchNorm rewrites its own step counter there,
    which would look like a changed frozen weight to the feature cache.)
    """
    targets = dict(model.named_parameters())
    targets.update(model.named_buffers())
    for name, value in snap.items():
        targets[name].copy_(value)


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
            f"batch_size {config.batch_size} is larger than the training set ({n} examples). Use batch_size <= {n}."
        )
    if val_set is None and config.monitor.startswith("val_") and config.patience is not None:
        raise ConfigError(
            f"Early stopping (patience={config.patience}) watches {config.monitor}, but no validation data was given. Pass val_data."
        )
    name = config.monitor[4:] if config.monitor.startswith("val_") else None
    if name and name != "loss" and name not in metric_fns:
        raise ConfigError(
            f"monitor={config.monitor!r} needs the metric {name!r}. Add it: metrics=({name!r},) or use monitor='val_loss'."
        )
    if config.mixed_precision in ("bf16", "fp16") and not device.startswith("cuda"):
        raise ConfigError(
            f"mixed_precision={config.mixed_precision!r} needs a CUDA GPU; this run uses {device}. Use mixed_precision='auto'."
        )


def _autocast_factory(config: TrainConfig, device: str):
    """(autocast context factory, GradScaler or None). Half precision only on CUDA."""
    if not device.startswith("cuda") or config.mixed_precision == "no":
        return nullcontext, None
    dtype = torch.bfloat16
    if config.mixed_precision == "fp16" or (
        config.mixed_precision == "auto" and not torch.cuda.is_bf16_supported()
    ):
        dtype = torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return (lambda: torch.autocast("cuda", dtype=dtype)), scaler


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


def _start_history(history: History | None, config: TrainConfig, has_val: bool) -> History:
    history = history if history is not None else History()
    history.monitor = config.monitor if has_val or not config.monitor.startswith("val_") else "train_loss"
    history.mode = config.resolved_mode if history.monitor == config.monitor else "min"
    history.config = {**history.config, **config.to_dict()}
    history.stop_reason, history.stop_message = "running", ""
    return history


def _emit(callbacks, event: str, state: TrainState) -> None:
    for cb in callbacks:
        getattr(cb, event)(state)


# ---- one epoch ------------------------------------------------------------------------------------
def _train_epoch(state: TrainState, phase, loss_fn, autocast, scaler, callbacks, bar) -> dict:
    """One pass over the training batches; returns train_loss (+ train metrics inputs)."""
    config, model, optimizer = state.config, state.model, state.optimizer
    set_train_mode(model)
    limit = (
        len(phase.loader)
        if config.max_steps_per_epoch is None
        else min(len(phase.loader), config.max_steps_per_epoch)
    )
    total, n, step_losses, preds, targets = 0.0, 0, [], [], []
    optimizer.zero_grad(set_to_none=True)
    for i, (x, y) in enumerate(phase.loader):
        if i >= limit:
            break
        x, y = _to_device(x, state.device), _to_device(y, state.device)
        with autocast():
            logits = phase.forward(x)
            loss = loss_fn(logits.float(), y)
        if not torch.isfinite(loss):
            raise _Diverged(f"{loss.item()}")
        _backward(loss / config.gradient_accumulation_steps, scaler)
        total, n = total + loss.item() * len(y), n + len(y)
        step_losses.append(loss.item())
        p, t = _predictions(logits.detach(), y)
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
            _emit(callbacks, "on_step_end", state)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(_bar_text(state), refresh=False)
    return {
        "train_loss": total / max(n, 1),
        "preds": np.concatenate(preds) if preds else None,
        "targets": np.concatenate(targets) if targets else None,
    }


def _bar_text(state: TrainState) -> str:
    """'loss=0.4123 | val_loss=0.3810 val_accuracy=0.8875' for the progress bar."""
    text = f"loss={state.batch_loss:.4f}" if state.batch_loss is not None else ""
    if state.record:
        text += " | " + " ".join(
            f"{k}={v:.4g}" for k, v in state.record.items() if k.startswith("val_") and v is not None
        )
    return text


def _backward(loss, scaler) -> None:
    (scaler.scale(loss) if scaler is not None else loss).backward()


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
        out = _run_eval(val_phase.forward, val_phase.loader, loss_fn, state.device, autocast)
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
    value = record.get(state.history.monitor)
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
    if patience is not None and state.history.monitor.startswith("val_") and state.bad_epochs >= patience:
        state.should_stop = True
        state.stop_reason = "early_stopping"
        state.stop_message = (
            f"{state.history.monitor} did not improve for {patience} epoch(s): stopped after epoch {state.epoch} "
            f"and went back to the weights of epoch {state.best_epoch} ({state.history.monitor}={state.best_value:.4g})."
        )


# ---- the loop ---------------------------------------------------------------------------------------
@dataclass
class _Phase:
    loader: object
    forward: object


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
    train_set, val_set = _as_dataset(train_data, "train_data"), _as_dataset(val_data, "val_data")
    metric_fns = resolve_metrics(metrics)
    device = pick_device(config.device)
    _check_inputs(config, train_set, val_set, metric_fns, device)
    callbacks = _check_callbacks(callbacks)
    if config.freeze_depth is not None:
        freeze(model, config.freeze_depth)
    else:
        mark_frozen(model)  # blocks you froze by hand also run in eval mode

    state = _new_state(model, history, config, device, has_val=val_set is not None)
    loss_fn = loss_fn or _default_loss(config, device)
    threads = torch.get_num_threads()
    try:
        _run(state, train_set, val_set, loss_fn, metric_fns, callbacks, progress, cache)
    except _Diverged as err:
        _finish_diverged(state, str(err))
    except KeyboardInterrupt:
        _finish_interrupted(state)
    except RuntimeError as err:  # torch.OutOfMemoryError included
        if not is_out_of_memory(err):
            raise
        _finish_out_of_memory(state)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    history = state.history
    history.stop_reason, history.stop_message, history.best_epoch = (
        state.stop_reason,
        state.stop_message,
        state.best_epoch,
    )
    _emit(callbacks, "on_train_end", state)
    if state.stop_reason == "diverged" and strict:
        raise TrainingDiverged(state.stop_message)
    return history


def _check_callbacks(callbacks) -> list:
    callbacks = [cb for cb in (callbacks or ()) if cb is not None]
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ConfigError(f"Callbacks must subclass ftkit.Callback, got {type(cb).__name__}.")
    return callbacks


def _new_state(model, history, config, device, has_val) -> TrainState:
    """Seed, move the model, and start (or continue) the history."""
    history = _start_history(history, config, has_val)
    history.config["trainable"] = str(trainable_summary(model))
    seed_everything(config.seed)
    model.to(device)
    last = history.last()
    state = TrainState(
        model=model,
        history=history,
        config=config,
        device=device,
        epoch=int(last["epoch"]) if last else 0,
        step=len(history.steps),
    )
    state.start_time = time.perf_counter() - (float(last.get("time_s", 0.0)) if last else 0.0)
    state.best_weights = snapshot(model)  # what to go back to if the very first epoch fails
    return state


def _run(state: TrainState, train_set, val_set, loss_fn, metric_fns, callbacks, progress, cache) -> None:
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
    total_steps = _steps_per_epoch(train_phase.loader, config) * config.epochs
    state.scheduler = make_scheduler(state.optimizer, config, total_steps)
    first, last = state.epoch + 1, state.epoch + config.epochs
    bar = _progress_bar(progress, total_steps)
    try:
        _emit(callbacks, "on_train_begin", state)
        for epoch in range(first, last + 1):
            state.epoch = epoch
            if bar is not None:
                bar.set_description(f"epoch {epoch}/{last}")
            _emit(callbacks, "on_epoch_begin", state)
            train_out = _train_epoch(state, train_phase, loss_fn, autocast, scaler, callbacks, bar)
            _end_of_epoch(state, train_out, val_phase, loss_fn, autocast, metric_fns)
            if bar is not None:
                bar.set_postfix_str(_bar_text(state))
            _emit(callbacks, "on_epoch_end", state)
            if state.should_stop:
                break
        _finish_completed(state, val_phase is not None)
    finally:
        if bar is not None:
            bar.close()


def _prepare_phases(state: TrainState, train_set, val_set, cache):
    """Loaders and forward functions; with the feature cache, the frozen bottom runs once here."""
    config = state.config
    plan = prepare_cache(state.model, train_set, val_set, config, state.device, mode=cache)
    state.feature_cache = plan.reason
    state.history.config["feature_cache"] = plan.reason
    full = lambda x: model_forward(state.model, x)  # noqa: E731 - the whole network
    train = plan.train if plan.train is not None else train_set
    train_phase = _Phase(
        make_loader(train, config.batch_size, True, config.seed, config.num_workers),
        plan.forward if plan.train is not None else full,
    )
    val_phase = None
    if val_set is not None:
        val = plan.val if plan.val is not None else val_set
        val_phase = _Phase(
            make_loader(val, config.batch_size, False, config.seed, config.num_workers),
            plan.forward if plan.val is not None else full,
        )
    return train_phase, val_phase


def _steps_per_epoch(loader, config: TrainConfig) -> int:
    batches = (
        len(loader) if config.max_steps_per_epoch is None else min(len(loader), config.max_steps_per_epoch)
    )
    return math.ceil(batches / config.gradient_accumulation_steps)


def _progress_bar(progress: bool, total: int):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", leave=True)


# ---- how a run ends ---------------------------------------------------------------------------------
def _finish_completed(state: TrainState, has_val: bool) -> None:
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
            state.stop_message += f" Kept the weights of epoch {state.best_epoch}, the best {state.history.monitor} ({state.best_value:.4g})."
    else:
        state.best_epoch = last["epoch"]  # no validation: the last weights are the ones kept


def _finish_diverged(state: TrainState, value: str) -> None:
    lr = state.config.lr
    restore(state.model, state.best_weights)
    kept = (
        f"the weights of epoch {state.best_epoch}"
        if state.best_epoch is not None
        else "the weights from before training"
    )
    state.stop_reason = "diverged"
    state.stop_message = (
        f"The loss became {value} in epoch {state.epoch} (step {state.step + 1}): the learning rate lr={lr:g} is most likely "
        f"too high; try lr={lr / 10:g}. Went back to {kept}."
    )
    print(state.stop_message)


def _finish_out_of_memory(state: TrainState) -> None:
    restore(state.model, state.best_weights)
    kept = (
        f"the weights of epoch {state.best_epoch}"
        if state.best_epoch is not None
        else "the weights from before training"
    )
    state.stop_reason = "out_of_memory"
    state.stop_message = f"Kept {kept}. " + memory_advice(
        state.config.batch_size, state.config.gradient_accumulation_steps
    )
    print(state.stop_message)


def _finish_interrupted(state: TrainState) -> None:
    restore(state.model, state.best_weights)
    kept = (
        f"the weights of epoch {state.best_epoch}"
        if state.best_epoch is not None
        else "the weights from before training"
    )
    state.stop_reason = "interrupted"
    state.stop_message = f"Interrupted in epoch {state.epoch}; kept {kept}. To continue, run fit(model, train_data, val_data, config, history=history)."
    print(state.stop_message)
