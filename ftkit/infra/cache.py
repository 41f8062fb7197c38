"""Cached frozen features: compute the frozen bottom of a network once, train only the top.

With freeze depth 0 a ResNet's stem..layer4 never change, and (when the images are not
augmented randomly) they see the same images every epoch, so they produce the same
numbers every epoch.  Computing them once and training the head on the stored tensors
gives the *same* training run (same seed, same batch order, same dropout) many times
faster: re-training a head for 10 epochs on 1,000 cached images takes well under a second.

When it is ON (`fit(..., cache="auto")`, the default):
  * the model is a known architecture whose forward pass we can split (torchvision
    ResNet, EfficientNet-Lite), and at least its bottom block is frozen;
  * the frozen part runs in eval mode (ftkit.freeze guarantees it) and the training set
    says it is not randomly augmented (`dataset.random_transform` is False, or it is a
    plain TensorDataset);
  * the stored activations fit in `config.cache_max_gb`.
Otherwise it is OFF and training runs through the whole network; either way
`history.config["feature_cache"]` holds one line saying why.  When only the training set
is the problem (it is augmented), the validation images, which are never augmented, still
get their frozen part computed once ("validation only").

Where a network may be cut is written in the table of model families (`ftkit/archs.py`,
`split_forward`).  What is cached: for depth 0 the pooled features just before the head; for depth k the
input of the lowest trainable block.  Cache entries are keyed by the model (identity plus
the version counters of its frozen tensors, which change whenever a weight is changed in
place), the split point, and the dataset (`dataset.fingerprint`, or its identity), and
kept in a small least-recently-used store in memory.  A dataset that names the dataset whose
inputs it shares, item by item (`.same_inputs_as`, e.g. `ftkit.data.noise.flip_labels`),
re-uses that dataset's features with its own `.targets`.  `clear_cache()` empties it.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from ..archs import split_forward
from ..errors import ConfigError
from ..freeze import frozen_blocks

__all__ = ["prepare_cache", "CachePlan", "CachedFeatures", "clear_cache", "cache_info"]

MAX_ENTRIES = 4  # a few (model, depth, data set) combinations: enough for a lesson's comparisons


@dataclass
class CachePlan:
    """What `fit` should train on: cached datasets + the top forward, or None (no cache)."""

    reason: str  # one line for the notebook: "feature cache ON: ..." / "feature cache OFF: ..."
    train: Dataset | None = None  # cached training features (None = cache off)
    val: Dataset | None = None  # cached validation features (None = val runs the whole model)
    forward: object = None  # features -> logits through the trainable top

    @property
    def on(self) -> bool:
        return self.train is not None


class CachedFeatures(Dataset):
    """Stored (feature, target) tensors; `batch_fetch` lets fit index a whole batch at once."""

    batch_fetch = True  # make_loader then samples index lists: same order as a normal DataLoader
    random_transform = False

    def __init__(self, features: torch.Tensor, targets: torch.Tensor):
        self.features, self.targets = features, targets

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index):
        index = torch.as_tensor(index)  # a list of indices (a whole batch) or one index
        return self.features[index], self.targets[index]


def _frozen_prefix(model, steps) -> int:
    """How many leading steps are frozen and deterministic (they can be computed once)."""
    frozen = set(frozen_blocks(model))
    count = 0
    for step in steps:  # stop at the first trainable block, random step (dropout) or the head
        if (step.kind == "block" and step.name in frozen) or step.kind == "fixed":
            count += 1
        else:
            break
    return count


def _run_steps(steps, x):
    for step in steps:
        x = step.run(x)
    return x


# ---- is the data deterministic? ------------------------------------------------------------------
def _data_is_fixed(dataset) -> tuple[bool, str]:
    """(True, "") when every item is the same each epoch; else (False, why not)."""
    flag = getattr(dataset, "random_transform", None)
    if flag is True:
        return False, "training set is augmented randomly (the frozen part sees a new image every epoch)"
    if flag is False or isinstance(dataset, TensorDataset):
        return True, ""
    if isinstance(dataset, Subset):
        return _data_is_fixed(dataset.dataset)
    return (
        False,
        f"cannot tell whether {type(dataset).__name__} is augmented randomly "
        "(give it .random_transform = False)",
    )


def _data_key(dataset):
    """The dataset's fingerprint, or its identity plus the versions of its tensors."""
    fingerprint = getattr(dataset, "fingerprint", None)
    if fingerprint is not None:
        return ("fingerprint", str(fingerprint), len(dataset))
    if isinstance(dataset, TensorDataset):
        return (
            "tensors",
            id(dataset),
            tuple((t.data_ptr(), t._version, tuple(t.shape)) for t in dataset.tensors),
        )
    if isinstance(dataset, Subset):
        return ("subset", _data_key(dataset.dataset), tuple(dataset.indices))
    return ("id", id(dataset), len(dataset), repr(getattr(dataset, "transform", None)))


def _weights_key(steps):
    """Identity and in-place version counter of every tensor in the frozen steps."""
    tensors = []
    for step in steps:
        for module in step.modules:
            tensors += list(module.parameters()) + list(module.buffers())
    return tuple((id(t), t.data_ptr(), t._version) for t in tensors)


# ---- the in-memory store ------------------------------------------------------------------------------
_STORE: OrderedDict[tuple, dict] = OrderedDict()


def clear_cache() -> None:
    """Forget every cached feature tensor."""
    _STORE.clear()


def cache_info() -> list:
    """One line per cached entry (for curious learners)."""
    return [
        f"{e['label']}: {tuple(e['features'].shape)} ({e['features'].numel() * 4 / 1e6:.1f} MB)"
        for e in _STORE.values()
    ]


def _lookup(key, model, dataset):
    entry = _STORE.get(key)
    if (
        entry is None
        or entry["model"]() is not model
        or (entry["data"] is not None and entry["data"]() is not dataset)
    ):
        return None
    _STORE.move_to_end(key)
    return entry


def _remember(key, model, dataset, features, targets, label, max_bytes: float) -> None:
    """Store an entry; drop the least recently used ones beyond MAX_ENTRIES or max_bytes in all."""
    try:
        data_ref = None if getattr(dataset, "fingerprint", None) is not None else weakref.ref(dataset)
    except TypeError:
        data_ref = None
    _STORE[key] = {
        "model": weakref.ref(model),
        "data": data_ref,
        "features": features,
        "targets": targets,
        "label": label,
    }
    while len(_STORE) > 1 and (len(_STORE) > MAX_ENTRIES or _stored_bytes() > max_bytes):
        _STORE.popitem(last=False)


def _stored_bytes() -> int:
    return sum(e["features"].numel() * e["features"].element_size() for e in _STORE.values())


# ---- computing the frozen part once -----------------------------------------------------------------
@torch.no_grad()
def _extract(steps, dataset, device, batch_size, num_workers) -> tuple:
    """Run the frozen steps over the whole dataset once (eval mode, in order)."""
    generator = torch.Generator()  # its own generator: the global random stream stays untouched
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, generator=generator
    )
    features, targets = [], []
    for x, y in loader:
        features.append(_run_steps(steps, x.to(device)).float().cpu())
        targets.append(torch.as_tensor(y))
    return torch.cat(features), torch.cat(targets)


def _key(model, steps, dataset) -> tuple:
    return (id(model), _weights_key(steps), len(steps), _data_key(dataset))


def _features_for(model, steps, dataset, config, device, label) -> tuple:
    """(CachedFeatures, seconds spent, reused?) for one split of the data."""
    parent = getattr(dataset, "same_inputs_as", None)  # a relabelled view (ftkit.data.noise)
    if parent is not None and len(parent) == len(dataset) and hasattr(dataset, "targets"):
        # same inputs in the same order: the parent's features, this dataset's labels
        cached, seconds, reused = _features_for(model, steps, parent, config, device, label)
        return CachedFeatures(cached.features, torch.as_tensor(dataset.targets)), seconds, reused
    entry = _lookup(_key(model, steps, dataset), model, dataset)
    if entry is not None:
        return CachedFeatures(entry["features"], entry["targets"]), 0.0, True
    start = time.perf_counter()
    features, targets = _extract(steps, dataset, device, max(config.batch_size, 64), config.num_workers)
    max_bytes = 2 * config.cache_max_gb * 1e9  # room for one run's training and validation features
    _remember(_key(model, steps, dataset), model, dataset, features, targets, label, max_bytes)
    return CachedFeatures(features, targets), time.perf_counter() - start, False


@torch.no_grad()
def _estimate_bytes(steps, dataset, device) -> int:
    x, _ = dataset[0]
    out = _run_steps(steps, torch.as_tensor(x).unsqueeze(0).to(device))
    return out.numel() * 4 * len(dataset)


def prepare_cache(model: nn.Module, train_set, val_set, config, device: str, mode="auto") -> CachePlan:
    """Decide whether to cache; if so compute (or reuse) the frozen features. See module doc."""
    if mode not in ("auto", True, False):
        raise ConfigError(f"cache must be 'auto', True or False, got {mode!r}.")
    if mode is False:
        return CachePlan("feature cache OFF: turned off (cache=False)")
    why_not, steps, k = _why_not(model, train_set, config)
    model.eval()
    if why_not is None and _lookup(_key(model, steps[:k], train_set), model, train_set) is None:
        size = _estimate_bytes(steps[:k], train_set, device)
        if size > config.cache_max_gb * 1e9:
            why_not = (
                f"the stored activations would take {size / 1e9:.1f} GB "
                f"(limit cache_max_gb={config.cache_max_gb:g})"
            )
    if why_not is not None:
        if mode is True:
            raise ConfigError(f"Cannot use the feature cache: {why_not}. Use cache='auto' or cache=False.")
        return _validation_only(model, val_set, config, device, why_not) or CachePlan(
            f"feature cache OFF: {why_not}"
        )
    frozen, top = steps[:k], steps[k:]
    names = [s.name for s in frozen if s.kind == "block"]
    label = f"{names[0]}..{names[-1]}" if len(names) > 1 else names[0]
    train, seconds, reused = _features_for(
        model, frozen, train_set, config, device, f"{type(model).__name__} {label}"
    )
    val = None
    if val_set is not None and not isinstance(val_set, DataLoader) and _data_is_fixed(val_set)[0]:
        val, val_seconds, _ = _features_for(
            model, frozen, val_set, config, device, f"{type(model).__name__} {label} (val)"
        )
        seconds += val_seconds
    unit = "images" if torch.as_tensor(train_set[0][0]).ndim == 3 else "examples"
    how = "reused from memory" if reused else f"{seconds:.1f} s"
    reason = f"feature cache ON: frozen {label} computed once for {len(train):,} {unit} ({how})"
    return CachePlan(reason, train, val, lambda x: _run_steps(top, x))


def _validation_only(model, val_set, config, device: str, why_not: str) -> CachePlan | None:
    """Augmented training images, fixed validation images: cache the validation side alone."""
    if val_set is None or isinstance(val_set, DataLoader) or not _data_is_fixed(val_set)[0]:
        return None
    cannot, steps, k = _frozen_split(model)
    if cannot is not None:
        return None
    frozen, top = steps[:k], steps[k:]
    if _estimate_bytes(frozen, val_set, device) > config.cache_max_gb * 1e9:
        return None
    val, seconds, reused = _features_for(
        model, frozen, val_set, config, device, f"{type(model).__name__} (val)"
    )
    how = "reused from memory" if reused else f"{seconds:.1f} s"
    return CachePlan(
        f"feature cache for validation only ({len(val):,} examples, {how}); training: {why_not}",
        None,
        val,
        lambda x: _run_steps(top, x),
    )


def _why_not(model, train_set, config) -> tuple:
    """(reason the cache cannot be used or None, steps, number of frozen steps)."""
    if isinstance(train_set, DataLoader):
        return "training data was given as a DataLoader (pass the dataset instead)", None, 0
    fixed, why = _data_is_fixed(train_set)
    if not fixed:
        return why, None, 0
    return _frozen_split(model)


def _frozen_split(model) -> tuple:
    """(reason the model gives nothing to cache or None, steps, number of frozen steps)."""
    steps = split_forward(model)  # the model family's forward in steps (ftkit/archs.py)
    if steps is None:
        return (
            f"ftkit cannot split {type(model).__name__}'s forward pass "
            "(supported: torchvision ResNet, EfficientNet-Lite)",
            None,
            0,
        )
    k = _frozen_prefix(model, steps)
    if not any(s.kind == "block" for s in steps[:k]):
        return (
            "no block at the bottom is frozen (use freeze(model, depth) with depth < max_depth(model))",
            None,
            0,
        )
    return None, steps, k
