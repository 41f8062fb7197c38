"""Lesson 01's plain PyTorch loop on Accelerate: the script path of `ftkit train` (helmet recipe).

The same steps as `ftkit.fit` (freeze, per-block learning rates from `make_optimizer`, the same
schedule, History records, best-epoch weights) written for data parallelism:

- `DataLoaderConfiguration(split_batches=True)`: every process draws the same global batch of
  `batch_size` examples and keeps its 1/N share, so N processes see exactly the batches one
  process sees; DDP averages the gradients (the mean loss of the global batch when shares are equal);
- the shuffle order of epoch e comes from `seed` and e alone (`EpochSampler`): the same on every
  process and after a resume;
- losses and predictions are gathered (`gather_for_metrics`), so every process logs the same
  numbers; only the main process prints, checkpoints and saves.
- a checkpoint after every epoch (`ckpt.pt`, written atomically): `resume=True` goes on from it.

`ftkit.fit` itself is untouched (feature cache, interrupt handling, notebook progress): this loop
runs the whole network every step and has no feature cache.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from ..config import TrainConfig
from ..data.loaders import class_predictions, model_forward
from ..freeze import freeze, restore, set_train_mode, snapshot
from ..history import History
from ..infra.runtime import seed_everything
from ..metrics import resolve_metrics, score
from ..train import make_optimizer, make_scheduler

__all__ = ["fit_accelerate", "EpochSampler"]

KILL_ENV = "FTKIT_TEST_KILL_AFTER"  # tests: "stage:epoch" ends the process (os._exit) after that checkpoint


class EpochSampler(Sampler):
    """A random order fixed by (seed, epoch): identical on every process and after a resume."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def fit_accelerate(
    accelerator,
    model: nn.Module,
    train_set,
    val_set,
    config: TrainConfig,
    metrics=("accuracy", "f1_macro"),
    checkpoint: Path | None = None,
    resume: bool = False,
    label: str = "",
) -> History:
    """Train like `ftkit.fit` under `accelerator`; returns the History (same on every process)."""
    if config.freeze_depth is not None:
        freeze(model, config.freeze_depth)
    seed_everything(config.seed)
    metric_fns = resolve_metrics(metrics)
    n_proc = accelerator.num_processes
    if config.batch_size % n_proc:
        from ..errors import ConfigError

        raise ConfigError(
            f"batch_size {config.batch_size} (the global batch) must divide by the {n_proc} processes. "
            f"Use e.g. batch_size={config.batch_size - config.batch_size % n_proc or n_proc}."
        )
    sampler = EpochSampler(len(train_set), config.seed)
    train_loader = DataLoader(train_set, batch_size=config.batch_size, sampler=sampler)
    val_loader = DataLoader(val_set, batch_size=config.batch_size, shuffle=False) if val_set else None
    optimizer = make_optimizer(model, config)
    limit = len(train_loader) if config.max_steps_per_epoch is None else config.max_steps_per_epoch
    limit = min(limit, len(train_loader))
    total_steps = math.ceil(limit / config.gradient_accumulation_steps) * config.epochs
    scheduler = make_scheduler(optimizer, config, total_steps)  # stepped by hand: once per optimizer step
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    history = History(label=label)
    history.monitor, history.mode = config.monitor, config.resolved_mode
    history.config = {**config.to_dict(), "processes": n_proc, "feature_cache": "off (script path)"}
    best = {"value": None, "epoch": None, "weights": snapshot(model)}
    start_epoch = 0
    if resume and checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = History.from_dict(_from_json(state["history"]))
        best = {"value": state["best_value"], "epoch": state["best_epoch"], "weights": state["best_weights"]}
        start_epoch = int(state["epoch"])
        if accelerator.is_main_process:
            print(f"[{label}] resumed after epoch {start_epoch} from {checkpoint}", flush=True)
    model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    if val_loader is not None:
        val_loader = accelerator.prepare(val_loader)
    raw = accelerator.unwrap_model(model)
    start = time.perf_counter() - (history.last() or {}).get("time_s", 0.0)
    step = len(history.steps)
    for epoch in range(start_epoch + 1, config.epochs + 1):
        sampler.epoch = epoch
        set_train_mode(raw)
        sums = torch.zeros(2)
        preds, targets, micro = [], [], []
        for i, (x, y) in enumerate(train_loader):
            if i >= limit:
                break
            last_micro = (i + 1) % config.gradient_accumulation_steps == 0 or i + 1 == limit
            with accelerator.no_sync(model) if not last_micro else _null():
                logits = model_forward(model, x)
                loss = loss_fn(logits.float(), y)
                accelerator.backward(loss / config.gradient_accumulation_steps)
            local = torch.stack([loss.detach() * len(y), torch.tensor(float(len(y)))])
            glob = accelerator.reduce(local, reduction="sum")
            sums += glob
            micro.append(float(glob[0] / glob[1]))
            p, t = class_predictions(*accelerator.gather_for_metrics((logits.detach(), y)))
            if p is not None:
                preds.append(p)
                targets.append(t)
            if last_micro:
                if config.grad_clip is not None:
                    accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                step += 1
                history.log_step(
                    step=step,
                    epoch=round(epoch - 1 + (i + 1) / limit, 4),
                    train_loss=float(np.mean(micro)),
                    lr=optimizer.param_groups[0]["lr"],
                    time_s=round(time.perf_counter() - start, 4),
                )
                micro = []
        record = {"epoch": epoch, "train_loss": float(sums[0] / sums[1])}
        if preds:
            record.update(score(metric_fns, np.concatenate(preds), np.concatenate(targets), "train_"))
        if val_loader is not None:
            record.update(_evaluate(accelerator, model, val_loader, loss_fn, metric_fns))
        record["lr"] = optimizer.param_groups[0]["lr"]
        record["time_s"] = round(time.perf_counter() - start, 4)
        history.log_epoch(**record)
        value = record.get(history.monitor)
        if value is not None and (
            best["value"] is None
            or (value < best["value"] if history.mode == "min" else value > best["value"])
        ):
            best = {"value": value, "epoch": epoch, "weights": snapshot(raw)}
        if accelerator.is_main_process:
            shown = {k: round(v, 4) for k, v in record.items() if isinstance(v, float) and k != "time_s"}
            print(f"[{label}] epoch {epoch}/{config.epochs} {shown}", flush=True)
            if checkpoint is not None:
                _save_checkpoint(checkpoint, raw, optimizer, scheduler, history, best, epoch)
        accelerator.wait_for_everyone()
        if os.environ.get(KILL_ENV) == f"{label}:{epoch}":
            os._exit(17)  # a test's stand-in for a killed run: no clean-up at all
    if config.restore_best and val_loader is not None and best["epoch"] is not None:
        restore(raw, best["weights"])
    history.best_epoch = best["epoch"]
    history.stop_reason, history.stop_message = "completed", f"Completed {config.epochs} epoch(s)."
    raw.eval()
    return history


@torch.no_grad()
def _evaluate(accelerator, model, loader, loss_fn, metric_fns) -> dict:
    model.eval()
    all_logits, all_y = [], []
    for x, y in loader:
        logits, y = accelerator.gather_for_metrics((model_forward(model, x).float(), y))
        all_logits.append(logits)
        all_y.append(y)
    logits, y = torch.cat(all_logits), torch.cat(all_y)
    out = {"val_loss": float(loss_fn(logits, y))}
    p, t = class_predictions(logits, y)
    out.update(score(metric_fns, p, t, "val_"))
    return out


def _save_checkpoint(path: Path, raw, optimizer, scheduler, history, best, epoch) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": raw.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "history": json.dumps(history.to_dict(), default=float),
        "best_value": best["value"],
        "best_epoch": best["epoch"],
        "best_weights": best["weights"],
        "epoch": epoch,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a kill mid-write leaves the previous checkpoint whole


def _from_json(text: str) -> dict:
    import json

    return json.loads(text)


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
