"""Lesson 02's runners: a `LabConfig` in, a `History` out, always from the loaded weights.

    runner = VisionRunner(loaded, data)          # or TextRunner(loaded, text_data)
    history = runner.train(LabConfig(depth=1, lr=1e-3))
    runner.evaluate("test")

The panel in `l02_freeze_lab.py` only fills a `LabConfig` and calls these; they never need
widgets, so notebooks and tests drive them headless too.

Why runs are cheap: instead of deep-copying the model for every run, a runner keeps one
working copy and a table of its loaded tensors (`state_dict(keep_vars=True)`), which are
never modified.  Before a run it puts those very tensors back (`load_state_dict(...,
assign=True)` swaps tensor objects, copying nothing), freezes at the run's depth, and gives
only the parts that will train (trainable parameters, buffers of modules not pinned to
eval mode) fresh copies to work on.  The frozen bottom is therefore the *same*, untouched
tensors in every run, and `ftkit.infra.cache` recognises it: after the first extraction a
head-only re-run on the helmet images takes about a second, even after deeper runs in
between.  Runs never leak into each other (a test checks that two identical runs give
identical numbers, whatever ran between).
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..checks import check_bool, check_int
from ..config import TrainConfig
from ..errors import ConfigError, DataError
from ..freeze import check_depth, freeze, max_depth, runs_in_eval, trainable_summary
from ..history import History
from ..train import evaluate, fit

__all__ = ["LabConfig", "Runner", "VisionRunner", "TextRunner", "TokenizedText", "METRICS"]

METRICS = ("accuracy", "f1_macro")  # what every lab run records on validation (and the test evaluation)


@dataclass
class LabConfig:
    depth: int = field(
        default=0,  # head only: the cheapest, safest first run on a small data set
        metadata={"help": "Freeze depth: 0 trains only the new head, k the top k blocks plus the head."},
    )
    lr: float = field(
        default=1e-3,  # the seed recipe for a fresh head with Adam
        metadata={"help": "Learning rate of the head; unfrozen blocks get lr * backbone_lr_mult."},
    )
    backbone_lr_mult: float = field(
        default=0.1,  # the seed recipe: pretrained layers are nudged 10x more gently than the head
        metadata={"help": "Multiplier of the learning rate for unfrozen pretrained blocks."},
    )
    epochs: int = field(
        default=5,  # enough to see a curve turn (over-fitting) on the helmet images
        metadata={"help": "Passes over the training set."},
    )
    augment: bool = field(
        default=False,  # off: the feature cache only works on images that are the same every epoch
        metadata={"help": "Random crops / flips / colour changes of training images (vision only)."},
    )
    seed: int = field(
        default=0,  # the same settings give the same numbers twice on a CPU
        metadata={"help": "Random seed of the run (head initialisation is fixed by the loaded model)."},
    )
    batch_size: int = field(
        default=32,  # the TrainConfig default: smooth enough gradients, small enough for 8 GB
        metadata={"help": "Examples per optimizer step."},
    )

    def __post_init__(self):
        check_bool("augment", self.augment)
        if isinstance(self.lr, (int, float)) and not isinstance(self.lr, bool) and self.lr > 1:
            raise ConfigError(
                f"lr={self.lr!r} is far too large for fine-tuning. Use a value between 1e-5 and 1e-1."
            )
        self.train_config()  # TrainConfig checks depth, lr, multiplier, epochs, batch size and seed

    def train_config(self) -> TrainConfig:
        """The `TrainConfig` that `ftkit.fit` receives."""
        return TrainConfig(
            lr=self.lr,
            backbone_lr_mult=self.backbone_lr_mult,
            epochs=self.epochs,
            batch_size=self.batch_size,
            seed=self.seed,
            freeze_depth=self.depth,
        )

    @property
    def label(self) -> str:
        """Short name for legends and tables, e.g. 'depth 0, lr 0.001'."""
        extra = ", aug" if self.augment else ""
        mult = "" if self.depth == 0 or self.backbone_lr_mult == 0.1 else f" x{self.backbone_lr_mult:g}"
        return f"depth {self.depth}, lr {self.lr:g}{mult}{extra}"

    def to_dict(self) -> dict:
        return asdict(self)


class Runner:
    """A loaded model + data that can train one `LabConfig` at a time, always from fresh weights.

    Subclasses set `self.train_set`, `self.val_set`, `self.test_set` and may override
    `train_data(config)` (e.g. for augmentation).
    """

    kind = "generic"
    supports_augment = False

    def __init__(self, loaded, name: str | None = None):
        model = getattr(loaded, "model", loaded)
        if not isinstance(model, nn.Module):
            raise ConfigError(
                "The lab needs a loaded model (ftkit.load_vision / load_text_classifier), "
                f"got {type(loaded).__name__}."
            )
        self.name = name or getattr(loaded, "name", "") or type(model).__name__
        self.model = copy.deepcopy(model)  # our working copy: the caller's model is never changed
        self.max_depth = max_depth(self.model)
        self._loaded = self.model.state_dict(keep_vars=True)  # name -> the loaded tensor objects
        self._parameter_names = {n for n, _ in self.model.named_parameters(remove_duplicate=False)}
        self.current: LabConfig | None = None  # the config the working copy was last trained with

    # ---- fresh weights -----------------------------------------------------------------------
    def reset(self) -> None:
        """Put the original (loaded, never trained) tensors back into the working copy."""
        self.model.load_state_dict(self._loaded, assign=True)  # swaps tensor objects, copies nothing
        self.current = None

    def _fresh_copies_for_training(self) -> None:
        """Trainable parameters and buffers of unpinned modules get copies; the rest stays original."""
        pinned = {name for name, module in self.model.named_modules() if runs_in_eval(module)}
        copies, fresh = {}, {}  # id(original) -> copy, so a tensor shared by two modules stays shared
        for name, original in self._loaded.items():
            if name in self._parameter_names:
                if not original.requires_grad:
                    continue
                fresh[name] = copies.setdefault(id(original), nn.Parameter(original.detach().clone()))
            elif name.rpartition(".")[0] not in pinned:  # the buffer's module may change it
                fresh[name] = copies.setdefault(id(original), original.detach().clone())
        self.model.load_state_dict(fresh, strict=False, assign=True)

    # ---- what would train ----------------------------------------------------------------------
    def check(self, config: LabConfig) -> None:
        """Refuse a config this model / data cannot run, before any slow work."""
        check_depth(self.model, config.depth)
        if config.augment and not self.supports_augment:
            raise ConfigError(
                f"Augmentation is only available for images; {self.name} is a {self.kind} model. "
                "Untick 'augment'."
            )
        n = len(self.train_set)
        if config.batch_size > n:
            raise ConfigError(
                f"batch_size {config.batch_size} is larger than the training set ({n} examples). "
                f"Use batch_size <= {n}."
            )

    def summary(self, depth: int):
        """`trainable_summary` of the model frozen at `depth` (no training, instant)."""
        return freeze(self.model, depth)

    # ---- one run ---------------------------------------------------------------------------------
    def train_data(self, config: LabConfig):
        return self.train_set

    def train(self, config: LabConfig, callbacks=(), label: str | None = None) -> History:
        """Fresh weights, freeze at `config.depth`, fit with the feature cache; return the History."""
        self.check(config)
        self.reset()
        freeze(self.model, config.depth)  # first: the copies below depend on what trains
        self._fresh_copies_for_training()
        history = History(label=label or config.label)
        history.config.update(depth=config.depth, augment=config.augment, model=self.name)
        self.current = config
        fit(
            self.model,
            self.train_data(config),
            self.val_set,
            config.train_config(),
            metrics=METRICS,
            callbacks=list(callbacks),
            history=history,
            progress=False,
        )
        history.config["trainable"] = trainable_summary(self.model).trainable
        return history

    def evaluate(self, split: str = "test") -> dict:
        """accuracy / f1_macro / loss of the model of the last run on 'val' or 'test'."""
        data = {"val": self.val_set, "test": self.test_set}.get(split)
        if split not in ("val", "test"):
            raise ConfigError(f"split must be 'val' or 'test', got {split!r}.")
        if data is None:
            raise DataError(f"This data set has no {split} split. Evaluate on 'val' instead.")
        if self.current is None:
            raise ConfigError("Nothing trained yet: run the lab once (lab.run()) before evaluating.")
        return evaluate(self.model, data, metrics=METRICS)


class VisionRunner(Runner):
    """Images (`ftkit.load_image_folder`) + a CNN from `ftkit.load_vision`.

    `max_examples` keeps at most that many images per split (stratified, the first ones of
    each class), for quick smoke runs; None uses everything.
    """

    kind = "vision"
    supports_augment = True

    def __init__(self, loaded, data, max_examples: int | None = None):
        if not all(hasattr(data, k) for k in ("train", "val", "classes")):
            raise DataError(
                f"The vision lab needs an ImageData from ftkit.load_image_folder, got {type(data).__name__}."
            )
        super().__init__(loaded)
        self.data, self.classes = data, list(data.classes)
        self.train_set = _first_per_class(data.train, max_examples)
        self.val_set = _first_per_class(data.val, max_examples)
        self.test_set = _first_per_class(data.test, max_examples) if data.test is not None else None
        self._augmented = None  # built on first use: the same images with random training transforms

    def train_data(self, config: LabConfig):
        if not config.augment:
            return self.train_set
        if self._augmented is None:
            from ..data.images import ImageFolderDataset, _train_transform

            base = self.data.train
            full = ImageFolderDataset(
                base.paths,
                base.targets,
                base.classes,
                _train_transform(base.image_size, base.mean, base.std),
                random_transform=True,
                image_size=base.image_size,
                mean=base.mean,
                std=base.std,
            )
            indices = getattr(self.train_set, "indices", None)
            self._augmented = full if indices is None else torch.utils.data.Subset(full, indices)
        return self._augmented


def _first_per_class(dataset, limit):
    """A Subset with at most `limit` items, the classes kept in their original proportions."""
    if dataset is None or limit is None or len(dataset) <= limit:
        return dataset
    targets = np.asarray(dataset.targets)
    order = np.argsort(targets, kind="stable")
    per_class = {c: int(round(limit * np.mean(targets == c))) for c in np.unique(targets)}
    keep = sorted(i for c in per_class for i in order[targets[order] == c][: max(1, per_class[c])])
    subset = torch.utils.data.Subset(dataset, keep)
    subset.classes, subset.targets = dataset.classes, [dataset.targets[i] for i in keep]
    return subset


class TokenizedText(torch.utils.data.Dataset):
    """A text split tokenized once: items are ({'input_ids', 'attention_mask'}, label)."""

    random_transform = False  # the same tensors every epoch

    def __init__(self, frame: pd.DataFrame, tokenizer, classes, max_length: int):
        texts = [str(t) for t in frame["text"]]
        enc = tokenizer(texts, truncation=True, max_length=max_length, padding="longest", return_tensors="pt")
        self.input_ids, self.attention_mask = enc["input_ids"], enc["attention_mask"]
        self.targets = [int(v) for v in frame["label"]]
        self.classes = list(classes)
        digest = hashlib.sha1(
            self.input_ids.numpy().tobytes() + bytes(str(self.targets), "utf8")
        ).hexdigest()[:12]
        self.fingerprint = f"tokens-{digest}"

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index):
        return {
            "input_ids": self.input_ids[index],
            "attention_mask": self.attention_mask[index],
        }, self.targets[index]


class TextRunner(Runner):
    """A TextData table + a sequence classifier from `ftkit.load_text_classifier`.

    Every split is tokenized once (padded to its longest text, at most `max_length` tokens),
    then trained with `ftkit.fit` exactly like the images: freeze depth means the top k
    transformer blocks (plus the pooler and the classifier head) learn.
    """

    kind = "text"

    def __init__(self, loaded, data, max_length: int = 64):
        if getattr(loaded, "tokenizer", None) is None:
            raise ConfigError(
                "The text lab needs a model with a tokenizer: use ftkit.load_text_classifier(...)."
            )
        if not all(hasattr(data, k) for k in ("train", "val", "test", "classes")):
            raise DataError(
                f"The text lab needs a TextData from ftkit.load_text_table, got {type(data).__name__}."
            )
        check_int("max_length", max_length, minimum=8)  # fewer tokens cut most sentences short
        super().__init__(loaded)
        self.data, self.classes = data, list(data.classes)
        tok = loaded.tokenizer
        self.train_set, self.val_set, self.test_set = (
            TokenizedText(frame, tok, self.classes, max_length) for frame in (data.train, data.val, data.test)
        )
