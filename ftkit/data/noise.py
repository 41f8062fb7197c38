"""Label noise on purpose: flip a share of the labels to other classes, seeded, on a copy.

    noisy = flip_labels(data.train, 0.25, seed=0)   # 25 % of the training labels now wrong
    noisy.flipped                                   # which examples (indices) were flipped
    flip_labels([0, 1, 1, 0], 0.5, num_classes=2)   # a plain list of label ids works too

Used to measure "clean data beats more noisy data" (seed 001 §4.1): only ever flip the
*training* labels; validation and test labels must stay the truth you measure against.
The input is never changed.  A dataset comes back as a `NoisyLabels` view: the same inputs
(same order, same transform), new `.targets`, and a `.fingerprint` that includes the new
labels.  It names the dataset whose inputs it shares (`.same_inputs_as`), so the feature
cache (`ftkit.infra.cache`) re-uses that dataset's stored features and takes the labels
from the view: a noisy copy of a cached training set costs nothing to train on.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from ..checks import check_fraction, check_int
from ..errors import DataError

__all__ = ["flip_labels", "NoisyLabels"]


class NoisyLabels(torch.utils.data.Dataset):
    """`dataset`'s inputs with other labels: items are `(dataset[i][0], targets[i])`."""

    def __init__(self, dataset, targets, flipped):
        self.same_inputs_as = dataset  # the feature cache reads the inputs' features from here
        self.targets = [int(t) for t in targets]
        self.flipped = sorted(int(i) for i in flipped)
        self.classes = list(getattr(dataset, "classes", []))
        self.random_transform = getattr(dataset, "random_transform", None)
        base = getattr(dataset, "fingerprint", None)
        labels = hashlib.sha256(np.asarray(self.targets, dtype=np.int64).tobytes()).hexdigest()[:16]
        self.fingerprint = None if base is None else f"{base}+labels:{labels}"

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index):
        return self.same_inputs_as[index][0], self.targets[index]

    def __repr__(self) -> str:
        return f"NoisyLabels({len(self)} examples, {len(self.flipped)} labels flipped)"


def flip_labels(data, share: float, seed: int = 0, num_classes: int | None = None):
    """A copy of `data` with exactly round(share * n) labels moved to another class, at random.

    `data`: a dataset with `.targets` (returns a `NoisyLabels` view) or a sequence of label ids
    (returns a list).  Which examples flip, and to which other class, depend only on `seed`.
    `num_classes` defaults to len(data.classes), else the largest label + 1.
    """
    check_fraction("share", share, example=0.25)
    check_int("seed", seed, minimum=0)
    targets = getattr(data, "targets", data)
    if isinstance(targets, (str, bytes)):
        raise DataError("flip_labels got a string. Pass a dataset with .targets or a list of label ids.")
    try:
        labels = np.asarray([int(t) for t in targets], dtype=np.int64)
    except (TypeError, ValueError):
        raise DataError(
            f"flip_labels needs a dataset with .targets or a list of label ids, got {type(data).__name__}."
        ) from None
    if len(labels) == 0:
        raise DataError("flip_labels got no labels. Pass a non-empty dataset or list of label ids.")
    classes = getattr(data, "classes", None)
    k = num_classes if num_classes is not None else len(classes) if classes else int(labels.max()) + 1
    check_int("num_classes", k, minimum=2)
    if labels.min() < 0 or labels.max() >= k:
        raise DataError(f"Labels must be ids in 0..{k - 1}; got {labels.min()}..{labels.max()}.")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(labels), size=round(share * len(labels)), replace=False)
    new = labels.copy()
    # a random other class: add 1..k-1 (mod k), so a flipped label never stays the same
    new[chosen] = (labels[chosen] + rng.integers(1, k, size=len(chosen))) % k
    if hasattr(data, "targets") and hasattr(data, "__getitem__") and not isinstance(data, (list, tuple)):
        return NoisyLabels(data, new.tolist(), chosen)
    return new.tolist()
