"""Pictures of an image data set: a grid of samples and what augmentation does to one image."""

from __future__ import annotations

import numpy as np
from PIL import ImageOps

from ..checks import check_choice, check_int
from .image_files import open_rgb
from .images import ImageData

__all__ = ["show_samples", "preview_augmentations"]


def _display_image(path, size):
    return ImageOps.fit(open_rgb(path, size), (size, size))


def show_samples(data, n: int = 12, split: str = "train", cols: int = 6):
    """A grid of `n` training images (centre crops, no augmentation) titled with their class."""
    import matplotlib.pyplot as plt

    check_int("n", n, minimum=1)
    check_int("cols", cols, minimum=1)
    if isinstance(data, ImageData):
        check_choice("split", split, tuple(data.splits()))
    dataset = data.splits()[split] if isinstance(data, ImageData) else data
    by_class = [[i for i, t in enumerate(dataset.targets) if t == c] for c in range(len(dataset.classes))]
    picks = []
    for k in range(max(len(b) for b in by_class)):  # round robin over classes: every class shows up
        picks += [b[k] for b in by_class if k < len(b)]
    picks = picks[:n]
    rows = max(1, -(-len(picks) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.2 * rows), squeeze=False, layout="constrained")
    plt.close(fig)  # the notebook shows the returned figure once
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, picks, strict=False):  # the last row may have empty cells
        ax.imshow(_display_image(dataset.paths[i], dataset.image_size))
        ax.set_title(dataset.classes[dataset.targets[i]], fontsize=10)
    return fig


def preview_augmentations(dataset, index: int = 0, n: int = 8):
    """The original image and `n` random versions of it, as the training loop will see them."""
    import matplotlib.pyplot as plt

    index = int(index) if isinstance(index, np.integer) else index  # e.g. an np.argmax result
    check_int("index", index, minimum=0, maximum=len(dataset) - 1)
    check_int("n", n, minimum=1)
    cols = min(n + 1, 5)
    rows = -(-(n + 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.2 * rows), squeeze=False, layout="constrained")
    plt.close(fig)
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(_display_image(dataset.paths[index], dataset.image_size))
    axes.flat[0].set_title("original", fontsize=10)
    mean, std = np.asarray(dataset.mean)[:, None, None], np.asarray(dataset.std)[:, None, None]
    for k in range(n):
        x, _ = dataset[index]
        picture = np.clip(x.numpy() * std + mean, 0, 1).transpose(1, 2, 0)
        axes.flat[k + 1].imshow(picture)
        axes.flat[k + 1].set_title(f"version {k + 1}", fontsize=10)
    title = dataset.classes[dataset.targets[index]]
    if not dataset.random_transform:
        title += " (augment=False: every version is the same)"
    fig.suptitle(title)
    return fig
