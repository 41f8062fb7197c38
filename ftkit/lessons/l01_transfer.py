"""What lesson 01 measures about transfer: the value of pretraining and what each depth has learned.

    race = pretraining_race(loaded.requested, data, config, profile=profile, seed=SEED)
    race.table                      # one row per start: test accuracy, best val accuracy, time
    show_filters(model, random_model)   # the first convolution's filters as two image grids
    probe = depth_probe(model, data)    # features after each block -> logistic regression accuracy

`pretraining_race` trains the same architecture twice, from the pretrained weights and from a
seeded random initialisation (`load_vision(..., pretrained=False)`), with the same data, the
same config and the same number of epochs; every weight trains in both. `depth_probe` asks, for
every block of a CNN, how well a linear classifier separates the classes using only that
block's output averaged over the image: the linear-probe test of what a depth has learned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..archs import is_batchnorm, split_forward
from ..checks import check_int
from ..data.loaders import make_loader, predict
from ..errors import ConfigError
from ..freeze import freeze, max_depth
from ..infra.presets import load_vision
from ..infra.runtime import seed_everything
from ..metrics import metrics_summary
from ..train import fit

__all__ = ["Race", "pretraining_race", "first_conv", "show_filters", "filter_smoothness", "depth_probe"]
__all__ += ["plot_probe"]


@dataclass
class Race:
    """The two runs of `pretraining_race`: their histories, models and one summary table."""

    histories: dict  # start ("pretrained" / "random init") -> History
    models: dict  # start -> the trained model
    table: object  # pandas DataFrame, one row per start


def pretraining_race(
    model_name, data, config, *, profile=None, seed: int = 0, metrics=("accuracy",), bn_momentum=0.1
):
    """Train `model_name` from its pretrained weights and from random weights, same data and budget.

    Every weight trains in both runs (the random network has nothing worth freezing) and the
    BatchNorm layers re-estimate their statistics in both (`bn_stats="update"`), so the only
    difference between the two runs is where the weights start. `bn_momentum` (PyTorch's
    default, 0.1) replaces EfficientNet-Lite's 0.01, with which the running statistics of a
    run this short would still be mostly those it started with when the model is evaluated.
    """
    import pandas as pd

    histories, models, rows = {}, {}, []
    for start, pretrained in (("pretrained", True), ("random init", False)):
        seed_everything(seed)
        loaded = load_vision(
            model_name, num_classes=len(data.classes), profile=profile, seed=seed, pretrained=pretrained
        )
        model = loaded.model
        freeze(model, max_depth(model), bn_stats="update")  # everything trains, the same way in both
        if bn_momentum is not None:
            for module in model.modules():
                if is_batchnorm(module):
                    module.momentum = bn_momentum
        began = time.perf_counter()
        history = fit(model, data.train, data.val, config, metrics=metrics, progress=False, cache=False)
        history.label = f"{start} ({loaded.name})"
        _, preds, targets = predict(model, data.test)
        test = metrics_summary(targets, preds)
        best = history.best() or {}
        rows.append(
            {
                "start": start,
                "model": loaded.name,
                "epochs": len(history.epochs),
                "best val accuracy": best.get("val_accuracy"),
                "test accuracy": test["accuracy"],
                "test macro F1": test["f1_macro"],
                "time (s)": time.perf_counter() - began,
            }
        )
        histories[start], models[start] = history, model
    return Race(histories, models, pd.DataFrame(rows).set_index("start"))


# ---- the first layer's filters --------------------------------------------------------------------
def first_conv(model: nn.Module) -> nn.Conv2d:
    """The model's first convolution (the one that looks at the pixels)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None or conv.in_channels != 3:
        raise ConfigError(
            f"{type(model).__name__} has no first convolution over 3 colour channels. Pass an image CNN "
            "such as loaded.model from ftkit.load_vision."
        )
    return conv


def _tiles(weight: torch.Tensor) -> np.ndarray:
    """(out, 3, k, k) filters -> (out, k, k, 3) RGB tiles, each scaled to 0..1 on its own."""
    w = weight.detach().float().cpu()
    low = w.amin(dim=(1, 2, 3), keepdim=True)
    high = w.amax(dim=(1, 2, 3), keepdim=True)
    return ((w - low) / (high - low).clamp_min(1e-12)).permute(0, 2, 3, 1).numpy()


def filter_smoothness(model: nn.Module) -> float:
    """Mean correlation between horizontally or vertically neighbouring weights of the first filters.

    Learned edge and colour detectors are smooth (neighbours alike: well above 0); random filters
    are noise (about 0). One number for what the filter grid shows.
    """
    w = first_conv(model).weight.detach().float().cpu()
    if w.shape[-1] < 2 or w.shape[-2] < 2:
        raise ConfigError("filter_smoothness needs filters of at least 2x2 pixels.")
    w = w - w.mean(dim=(1, 2, 3), keepdim=True)
    pairs = [(w[..., :, 1:], w[..., :, :-1]), (w[..., 1:, :], w[..., :-1, :])]
    a = torch.cat([p[0].flatten(1) for p in pairs], 1)
    b = torch.cat([p[1].flatten(1) for p in pairs], 1)
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    corr = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
    return float(corr.mean())


def show_filters(models: dict, columns: int = 16):
    """One image grid per model (name -> model) of its first-layer filters; returns the figure."""
    import matplotlib.pyplot as plt

    tiles = {name: _tiles(first_conv(m).weight) for name, m in models.items()}
    rows = {name: -(-len(t) // columns) for name, t in tiles.items()}
    fig, axes = plt.subplots(
        sum(rows.values()), columns, figsize=(columns * 0.55, sum(rows.values()) * 0.62 + 0.4 * len(tiles))
    )
    axes = np.atleast_2d(axes)
    r = 0
    for name, t in tiles.items():
        k = t.shape[1]
        for i in range(rows[name] * columns):
            ax = axes[r + i // columns, i % columns]
            ax.axis("off")
            if i < len(t):
                ax.imshow(t[i], interpolation="nearest")
        axes[r, 0].set_title(f"{name}: {len(t)} filters of {k}x{k} px", loc="left", fontsize=9)
        r += rows[name]
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.95, wspace=0.15, hspace=0.45)
    plt.close(fig)
    return fig


# ---- a linear probe at every depth ------------------------------------------------------------------
@torch.no_grad()
def _block_features(model: nn.Module, dataset, batch_size: int = 64) -> tuple:
    """{block name: (n, channels) features averaged over the image} and the labels."""
    steps = split_forward(model)
    if steps is None:
        raise ConfigError(
            f"depth_probe cannot split {type(model).__name__} into blocks. Use a ResNet or "
            "EfficientNet-Lite from ftkit.load_vision."
        )
    model.eval()
    feats: dict = {}
    labels = []
    for x, y in make_loader(dataset, batch_size, shuffle=False, seed=0):
        for step in steps:
            if step.kind == "block":
                x = step.run(x)
                feats.setdefault(step.name, []).append(x.float().mean(dim=(2, 3)))
        labels.append(torch.as_tensor(y))
    return {k: torch.cat(v).numpy() for k, v in feats.items()}, torch.cat(labels).numpy()


def depth_probe(models: dict, data, *, max_iter: int = 2000, C: float = 1.0):
    """Test accuracy of a logistic regression on each block's pooled output, one column per model.

    models: name -> model (e.g. {"pretrained": model, "random init": random_model}). The probe
    trains on `data.train` and is scored once on `data.test`; the network itself never changes.
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    check_int("max_iter", max_iter, minimum=1)
    columns = {}
    for name, model in models.items():
        train_x, train_y = _block_features(model, data.train)
        test_x, test_y = _block_features(model, data.test)
        scores = {}
        for block, x in train_x.items():
            probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
            probe.fit(x, train_y)
            scores[(block, x.shape[1])] = float(probe.score(test_x[block], test_y))
        columns[name] = scores
    table = pd.DataFrame(columns)
    table.index = pd.MultiIndex.from_tuples(table.index, names=["block", "features"])
    return table


def plot_probe(probe):
    """Probe accuracy against depth, one line per model (a table from `depth_probe`); returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    names = [block for block, _ in probe.index]
    for column in probe.columns:
        ax.plot(range(len(names)), probe[column].to_numpy(), marker="o", label=column)
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set(ylim=(0.4, 1.02), ylabel="probe test accuracy", xlabel="block, input -> output")
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    plt.close(fig)
    return fig
