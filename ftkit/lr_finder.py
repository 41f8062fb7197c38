"""The learning-rate range test (L. Smith 2015; fastai's `lr_find`): which learning rates train?

    test = lr_range_test(model, data.train, TrainConfig(batch_size=16))   # 1e-6 .. 10, 60 steps
    print(test)            # the lowest smoothed loss and the suggestion (min/10)
    test.plot()            # smoothed loss against the learning rate, log x-axis

One mini-batch per step, and after every step the learning rate is multiplied by the same
factor, so it grows geometrically from `start_lr` to `end_lr`.  The loss is smoothed the way
fastai does it (an exponential moving average with bias correction), because one mini-batch's
loss is noisy.  Too small a rate: the loss barely moves.  A good one: it falls fast.  Too large:
it climbs and explodes; the test stops once the smoothed loss is `explode` times its lowest.

The suggestion is fastai's `lr_min` rule: a tenth of the rate where the smoothed loss was lowest
(at the lowest point the rate is already about to be too high).  fastai's other rules (steepest
fall, valley) read the slope of a noisy curve; whichever rule, it is a starting point to try.

The test trains the real weights, so it puts them back afterwards: the model leaves exactly as
it came (trainable weights, buffers, train/eval mode; no gradients).  It uses the same optimizer
(`make_optimizer`, one learning rate per block) and the same feature cache as `fit`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .checks import check_fraction, check_int, check_positive
from .config import TrainConfig
from .data.loaders import as_dataset, make_loader, model_forward, to_device
from .errors import ConfigError, DataError
from .freeze import mark_frozen, restore, set_train_mode, snapshot
from .infra.cache import prepare_cache
from .infra.runtime import pick_device
from .train import make_optimizer

__all__ = ["lr_range_test", "LRRangeTest"]


@dataclass
class LRRangeTest:
    """What `lr_range_test` measured: one entry per step in `lrs`, `losses` and `smoothed`."""

    lrs: list  # the learning rate of each step (of the first parameter group)
    losses: list  # the mini-batch loss of each step
    smoothed: list  # exponentially smoothed losses (bias-corrected, as fastai)
    stop_reason: str  # "completed" or why it stopped early
    min_lr: float  # the learning rate at the lowest smoothed loss
    suggestion: float  # min_lr / 10: fastai's lr_min rule

    def __str__(self) -> str:
        low = int(np.argmin(self.smoothed))
        return (
            f"LR range test: {len(self.lrs)} steps, lr {self.lrs[0]:.1e} .. {self.lrs[-1]:.1e} "
            f"({self.stop_reason}). Lowest smoothed loss {self.smoothed[low]:.3f} at lr {self.min_lr:.1e}; "
            f"suggested lr {self.suggestion:.1e} (min/10)."
        )

    def plot(self, ax=None):
        """Smoothed (and raw) loss against the learning rate on a log axis, suggestion marked."""
        import matplotlib.pyplot as plt

        fig = None
        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
            plt.close(fig)  # the notebook shows the returned figure once
        ax.plot(self.lrs, self.losses, color="0.75", lw=1, label="mini-batch loss")
        ax.plot(self.lrs, self.smoothed, color="C0", lw=2, label="smoothed loss")
        ax.axvline(self.suggestion, color="C2", ls="--", label=f"suggestion (min/10) {self.suggestion:.1e}")
        ax.plot([self.min_lr], [min(self.smoothed)], "o", color="C3", label="lowest smoothed loss")
        top = max(self.smoothed[: int(np.argmin(self.smoothed)) + 1]) * 1.5
        ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="loss", title="LR range test")
        ax.set_ylim(min(self.smoothed) * 0.8 if min(self.smoothed) > 0 else None, top)
        ax.legend(fontsize=8)
        return fig if fig is not None else ax.figure


def _check(start_lr, end_lr, steps, smoothing, explode) -> None:
    check_positive("start_lr", start_lr, example=1e-6)
    check_positive("end_lr", end_lr, example=10)
    if start_lr >= end_lr:
        raise ConfigError(
            f"start_lr ({start_lr:g}) must be below end_lr ({end_lr:g}). Example: start_lr=1e-6, end_lr=10."
        )
    check_int("steps", steps, minimum=2)
    check_fraction("smoothing", smoothing, example=0.98)
    check_positive("explode", explode, example=4)
    if explode <= 1:
        raise ConfigError(f"explode must be above 1, got {explode!r}. Example: explode=4.")


def lr_range_test(
    model: nn.Module,
    train_data,
    config: TrainConfig | None = None,
    *,
    start_lr: float = 1e-6,
    end_lr: float = 10.0,
    steps: int = 60,
    smoothing: float = 0.98,
    explode: float = 4.0,
    loss_fn=None,
    cache="auto",
) -> LRRangeTest:
    """Train `steps` mini-batches with a geometrically growing learning rate; weights restored after.

    `config` gives batch_size, optimizer, weight_decay, seed, device (its `lr` is not used).
    Stops early once the smoothed loss exceeds `explode` x its lowest or becomes NaN/inf.
    """
    _check(start_lr, end_lr, steps, smoothing, explode)
    config = (config or TrainConfig()).updated(lr=start_lr)
    train_set = as_dataset(train_data, "train_data")
    if train_set is None or len(train_set) == 0:
        raise DataError("lr_range_test needs training data. Pass e.g. lr_range_test(model, data.train).")
    device = pick_device(config.device)
    mark_frozen(model)  # blocks frozen by hand run in eval mode, as in fit
    model.to(device)
    was_training, saved = model.training, snapshot(model)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    factor = (end_lr / start_lr) ** (1 / (steps - 1))
    lrs, losses, smoothed, stop = [], [], [], "completed"
    try:
        plan = prepare_cache(model, train_set, None, config, device, mode=cache)
        forward = plan.forward if plan.on else (lambda x: model_forward(model, x))
        loader = make_loader(plan.train if plan.on else train_set, config.batch_size, True, config.seed)
        optimizer = make_optimizer(model, config)
        base = [group["lr"] for group in optimizer.param_groups]  # one rate per block, scaled together
        batches, average = iter(loader), 0.0
        trainable = [p for p in model.parameters() if p.requires_grad]
        with torch.random.fork_rng(devices=[]):  # dropout is seeded; the global stream is left alone
            torch.manual_seed(config.seed)
            set_train_mode(model)
            for step in range(steps):
                for group, lr in zip(optimizer.param_groups, base, strict=True):
                    group["lr"] = lr * factor**step
                try:
                    x, y = next(batches)
                except StopIteration:  # one pass over the data was not enough: start another
                    batches = iter(loader)
                    x, y = next(batches)
                x, y = to_device(x, device), to_device(y, device)
                loss = loss_fn(forward(x).float(), y)
                if not torch.isfinite(loss):
                    stop = f"stopped at step {step + 1}: the loss became {loss.item()}"
                    break
                loss.backward()
                if config.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                average = smoothing * average + (1 - smoothing) * loss.item()
                lrs.append(optimizer.param_groups[0]["lr"])
                losses.append(loss.item())
                smoothed.append(average / (1 - smoothing ** (step + 1)))
                if smoothed[-1] > explode * min(smoothed):
                    stop = f"stopped at step {step + 1}: smoothed loss above {explode:g}x its lowest"
                    break
    finally:
        restore(model, saved)
        model.zero_grad(set_to_none=True)
        if was_training:
            set_train_mode(model)
        else:
            model.eval()
    return _result(lrs, losses, smoothed, stop)


def _result(lrs, losses, smoothed, stop) -> LRRangeTest:
    if len(lrs) < 2:
        raise ConfigError(
            f"The LR range test stopped after {len(lrs)} step(s) ({stop}): start_lr is already too high. "
            "Use a smaller start_lr."
        )
    min_lr = float(lrs[int(np.argmin(smoothed))])  # an exploding last step is never the lowest
    return LRRangeTest(lrs, losses, smoothed, stop, min_lr, min_lr / 10)
