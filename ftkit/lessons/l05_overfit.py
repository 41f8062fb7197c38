"""Plumbing for the over-/under-fitting lab (lesson 05): swap heads, take a few images, tabulate runs.

    set_head(loaded, hidden=512, dropout=0.5)   # a new, bigger head on the same frozen backbone
    few = few_per_class(data.train, 10)         # 10 training images per class, seeded
    overfit_table({"20 images": h1, "400 images": h2})
    accumulation_check(model, images, labels, 4)  # one batch of 4 vs 4 x 1 with gradient accumulation

The backbone stays frozen and untouched, so `fit`'s feature cache computes its outputs once and
every head after that trains on the stored features in seconds (`ftkit.cache`).
"""

from __future__ import annotations

import math
import random
import weakref

import torch
from torch import nn
from torch.utils.data import Subset

from ..checks import check_fraction, check_int
from ..diagnose import diagnose
from ..errors import ConfigError, DataError
from ..infra.runtime import saved_tensors_mb

__all__ = ["set_head", "few_per_class", "overfit_table", "FirstFeatures", "accumulation_check"]

# model -> the number of features its backbone gives the head, seen on the first set_head call
# (kept here, not on the model: after set_head(inputs=k) the head itself only shows k).
_BACKBONE_FEATURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class FirstFeatures(nn.Module):
    """Pass on only the first `k` features: a deliberately tiny model that cannot see enough."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x[:, : self.k]

    def extra_repr(self) -> str:
        return f"k={self.k}"


def set_head(
    loaded,
    hidden: int | None = None,
    dropout: float = 0.0,
    seed: int = 0,
    module: nn.Module | None = None,
    inputs: int | None = None,
) -> nn.Module:
    """Put a fresh head on `loaded.model` (in place) and return it.

    hidden=None: one Linear layer (the seed recipe's head).  hidden=k: Linear -> ReLU -> Linear
    with k hidden units, a head with far more weights that can memorise a small training set.
    dropout: share of the head's input features (and hidden units) zeroed at random while training.
    An EfficientNet's own dropout before its classifier is switched off, so the only dropout
    is the one you ask for here.  The new weights depend only on `seed`, not on what ran before.
    inputs=k: the head sees only the first k of the backbone's features (an under-sized model).
    module: put back a head returned earlier (trained weights and all) instead of a fresh one.
    """
    if module is not None and not isinstance(module, nn.Module):
        raise ConfigError(
            f"module must be a head returned by set_head (an nn.Module), got {type(module).__name__}."
        )
    if hidden is not None:  # None: one linear layer
        check_int("hidden", hidden, minimum=1)
    check_fraction("dropout", dropout, example=0.5)
    model, name = loaded.model, loaded.head_name
    old = model.get_submodule(name)
    linears = [m for m in old.modules() if isinstance(m, nn.Linear)]  # a Linear's modules() is itself
    if not linears:
        raise ConfigError(
            f"The head {name!r} has no Linear layer, so its input size is unknown. Load the model again."
        )
    first, last = linears[0], linears[-1]
    # the backbone's feature count, remembered beside the model: a head with inputs=k only shows k
    n_in = _BACKBONE_FEATURES.setdefault(model, first.in_features)
    n_out = last.out_features
    if inputs is not None:  # None: all n_in features
        check_int("inputs", inputs, minimum=1, maximum=n_in)
    with torch.random.fork_rng(devices=[]):  # the global random stream is left alone
        torch.manual_seed(seed)
        layers = [FirstFeatures(inputs)] if inputs is not None else []
        n_in = inputs or n_in
        layers += [nn.Dropout(dropout)] if dropout else []
        if hidden is None:
            layers.append(nn.Linear(n_in, n_out))
        else:
            layers += [nn.Linear(n_in, hidden), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
            layers.append(nn.Linear(hidden, n_out))
    head = module if module is not None else layers[0] if len(layers) == 1 else nn.Sequential(*layers)
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, head)
    if isinstance(getattr(model, "_dropout", None), nn.Dropout):  # EfficientNet-Lite: dropout 0.2 before _fc
        model._dropout = nn.Identity()
    return head


def few_per_class(dataset, n: int, seed: int = 0) -> Subset:
    """`n` randomly chosen examples of every class (seeded), keeping the dataset's class order.

    The result is a `torch.utils.data.Subset` that still answers `.classes`, `.targets` and
    `.random_transform`, so the feature cache and the run table treat it like the full set.
    """
    targets = list(getattr(dataset, "targets", []))
    if not targets:
        raise DataError(
            "few_per_class needs a dataset with .targets (e.g. data.train from ftkit.load_image_folder)."
        )
    check_int("n", n, minimum=1)  # examples per class
    by_class: dict = {}
    for i, t in enumerate(targets):
        by_class.setdefault(int(t), []).append(i)
    smallest = min(len(v) for v in by_class.values())
    if n > smallest:
        raise ConfigError(
            f"n={n} examples per class, but the smallest class has only {smallest}. Use n <= {smallest}."
        )
    rng = random.Random(seed)
    indices = sorted(i for c in sorted(by_class) for i in rng.sample(by_class[c], n))
    subset = Subset(dataset, indices)
    subset.classes = list(getattr(dataset, "classes", sorted(by_class)))
    subset.targets = [targets[i] for i in indices]
    subset.random_transform = bool(getattr(dataset, "random_transform", False))
    return subset


def overfit_table(runs: dict):
    """One row per run (label -> History): the kept (best) epoch's numbers and the verdict.

    gap = val loss - train loss at the kept epoch: how much worse the model does on pictures it
    has not trained on.  The train loss is the epoch's running mean in training mode (with dropout
    on), which is why dropout also shrinks the gap a little by making train loss look worse.
    last val loss = the validation loss after the final epoch: the model you would have without
    early stopping or keeping the best epoch.
    """
    import pandas as pd

    if not runs:
        raise DataError("overfit_table got no runs. Pass a dict like {'20 images': history, ...}.")
    rows = []
    for label, history in runs.items():
        best = history.best() or {}
        last = history.last() or {}
        train, val = best.get("train_loss", math.nan), best.get("val_loss", math.nan)
        rows.append(
            {
                "run": label,
                "lr": history.config.get("lr"),
                "epochs run": len(history),
                "kept epoch": best.get("epoch"),
                "train loss": train,
                "val loss": val,
                "val accuracy": best.get("val_accuracy", math.nan),
                "gap": val - train,
                "last val loss": last.get("val_loss", math.nan),  # without the best-epoch rule
                "verdict": diagnose(history).verdict,
                "stop reason": history.stop_reason,
                "time_s": last.get("time_s"),
            }
        )
    return pd.DataFrame(rows)


def accumulation_check(
    model: nn.Module, inputs, targets, accumulation_steps: int | None = None, loss_fn=None
):
    """Gradients of one batch vs the same examples in `accumulation_steps` micro-batches, accumulated.

    Each micro-batch's mean loss is divided by `accumulation_steps` before `backward()`, which adds
    to `.grad`, exactly what `fit` does with `TrainConfig(gradient_accumulation_steps=...)`.  Same
    gradients means the same optimizer step.  The model runs in eval mode (no dropout; BatchNorm uses
    its stored statistics), because in training mode BatchNorm normalises each micro-batch with
    its own statistics, and then the two ways are really different.  Returns a dict: max_abs_diff
    (largest gradient difference), max_abs_grad (for scale), and the activations one forward pass
    keeps for backward, in MB, for the whole batch and for one micro-batch.  Leaves .grad empty.
    """
    n = len(inputs)
    steps = n if accumulation_steps is None else accumulation_steps  # None: one example at a time
    check_int("accumulation_steps", steps, minimum=1)
    if n % steps or len(targets) != n:
        raise ConfigError(
            f"{n} inputs and {len(targets)} targets cannot be split into {steps} equal micro-batches. "
            f"Pass a batch whose size is a multiple of accumulation_steps."
        )
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("The model has no trainable parameters. Unfreeze it (ftkit.unfreeze) first.")
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    was_training = model.training
    model.eval()
    try:
        model.zero_grad(set_to_none=True)
        loss_fn(model(inputs), targets).backward()
        whole = [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in params]
        model.zero_grad(set_to_none=True)
        for x, y in zip(inputs.chunk(steps), targets.chunk(steps), strict=True):
            (loss_fn(model(x), y) / steps).backward()
        accumulated = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
        diff = max((a - w).abs().max().item() for a, w in zip(accumulated, whole, strict=True))
        scale = max(w.abs().max().item() for w in whole)
        model.zero_grad(set_to_none=True)
        micro = n // steps
        batch_mb = saved_tensors_mb(model, lambda: loss_fn(model(inputs), targets))
        micro_mb = saved_tensors_mb(model, lambda: loss_fn(model(inputs[:micro]), targets[:micro]))
    finally:
        model.train(was_training)
    return {
        "batch": n,
        "accumulation_steps": steps,
        "max_abs_diff": diff,
        "max_abs_grad": scale,
        "batch_activation_mb": batch_mb,
        "micro_batch_activation_mb": micro_mb,
    }
