"""Batches: from a dataset to seeded DataLoaders, and a model run over them without gradients.

`ftkit.fit` builds its loaders here and validates with `run_batches`; `predict(model, data)`
is the same pass for you, after training:

    probs, preds, targets = ftkit.predict(model, data.test)

Data may be a Dataset of (x, y) pairs, a DataLoader, or an (inputs, targets) pair of tensors;
x may be a tensor or a dict of tensors (a tokenized batch for a Hugging Face model).
"""

from __future__ import annotations

import random
from contextlib import nullcontext

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ..errors import DataError

__all__ = ["as_dataset", "make_loader", "to_device", "model_forward", "run_batches", "predict"]


def as_dataset(data, what: str):
    """Accept a Dataset, a DataLoader or an (inputs, targets) pair of tensors."""
    if data is None or isinstance(data, (Dataset, DataLoader)):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        return TensorDataset(*data)
    if hasattr(data, "train") and not hasattr(data, "__getitem__"):
        raise DataError(
            f"{what} is a whole data set object ({type(data).__name__}). "
            "Pass one split, e.g. data.train and data.val."
        )
    if hasattr(data, "__len__") and hasattr(data, "__getitem__") and not isinstance(data, (str, bytes, dict)):
        return data
    raise DataError(
        f"{what} must be a Dataset of (x, y) pairs, a DataLoader or (X, y) tensors, "
        f"got {type(data).__name__}."
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
    if getattr(data, "batch_fetch", False):  # cached tensors: index a whole batch at once
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


def to_device(x, device):
    """A tensor, or a dict / list / tuple of them, moved to `device`."""
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(v, device) for v in x)
    return x


def model_forward(model: nn.Module, x):
    """Call the model on a batch and return the logits tensor (HF outputs have `.logits`)."""
    out = model(**x) if isinstance(x, dict) else model(x)
    if hasattr(out, "logits"):
        return out.logits
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


def class_predictions(logits: torch.Tensor, y) -> tuple:
    """(predicted class, target) as NumPy arrays, or (None, None) if this is not classification."""
    if not isinstance(y, torch.Tensor) or logits.ndim != 2 or y.ndim != 1 or y.is_floating_point():
        return None, None
    return logits.argmax(1).cpu().numpy(), y.cpu().numpy()


@torch.no_grad()
def run_batches(forward, loader, loss_fn, device, autocast=nullcontext) -> dict:
    """Mean loss, probabilities, predictions and targets over a loader (no gradients)."""
    total, n, preds, targets, probs = 0.0, 0, [], [], []
    for x, y in loader:
        x, y = to_device(x, device), to_device(y, device)
        with autocast():
            logits = forward(x)
        if loss_fn is not None:
            total += float(loss_fn(logits.float(), y)) * len(y)
        n += len(y)
        probs.append(torch.softmax(logits.float(), dim=-1).cpu())
        p, t = class_predictions(logits, y)
        if p is not None:
            preds.append(p)
            targets.append(t)
    return {
        "loss": total / max(n, 1) if loss_fn is not None else None,
        "probs": torch.cat(probs).numpy() if probs else np.zeros((0, 0)),
        "preds": np.concatenate(preds) if preds else None,
        "targets": np.concatenate(targets) if targets else None,
    }


def predict(model: nn.Module, data, batch_size: int = 64, device: str | None = None) -> tuple:
    """(probs, preds, targets) as NumPy arrays, in the data's order (eval mode, no gradients)."""
    device = device or str(next(model.parameters()).device)
    loader = make_loader(as_dataset(data, "data"), batch_size, shuffle=False, seed=0)
    model.eval()
    out = run_batches(lambda x: model_forward(model, x), loader, None, device)
    preds = out["probs"].argmax(-1) if out["probs"].size else np.zeros(0, dtype=int)
    return out["probs"], preds, out["targets"]
