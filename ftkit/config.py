"""`TrainConfig`: every knob of `ftkit.fit`, with the reason for its default.

Read it top to bottom once: it is the whole list of things you can change about a
training run.  Every field carries a `help` text (shown by `TrainConfig.describe()`),
and `__post_init__` refuses impossible values (a learning rate of zero, no epochs...)
with a one-line `ConfigError` before any slow work starts.

The defaults follow the seed recipe for fine-tuning an image classifier: a new head
trained with Adam(W) at lr 1e-3, the unfrozen pretrained layers at a 10x smaller rate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from .checks import check_choice, check_fraction, check_int, check_positive, is_number
from .errors import ConfigError

__all__ = ["TrainConfig", "OPTIMIZERS", "SCHEDULES", "PRECISIONS"]

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("constant", "linear", "cosine")
PRECISIONS = ("auto", "no", "bf16", "fp16")


@dataclass
class TrainConfig:
    # ---- learning rates and optimizer ----------------------------------------------------
    lr: float = field(
        default=1e-3,  # the seed recipe: Adam at 1e-3 trains a fresh head quickly and stably
        metadata={
            "help": "Learning rate of the new head. Unfrozen pretrained blocks get lr * backbone_lr_mult."
        },
    )
    backbone_lr_mult: float = field(
        default=0.1,  # the seed recipe: pretrained layers learn 10x slower so they are nudged, not wiped
        metadata={
            "help": "Multiplier for the learning rate of unfrozen pretrained blocks "
            "(0.1 = 10x smaller than the head)."
        },
    )
    layer_decay: float = field(
        default=1.0,  # 1.0 = off: every unfrozen block gets the same rate, the simplest thing to explain
        metadata={
            "help": "Per-block decay: a block d blocks below the top gets "
            "lr * backbone_lr_mult * layer_decay**d."
        },
    )
    optimizer: str = field(
        default="adamw",  # Adam with decoupled weight decay; identical to Adam when weight_decay is 0
        metadata={"help": "Optimizer: 'adamw', 'adam' or 'sgd' (SGD uses momentum 0.9)."},
    )
    weight_decay: float = field(
        default=0.0,  # off: small fine-tuning runs rarely need it and it is one less thing to explain
        metadata={"help": "Weight decay; never applied to biases and normalization weights."},
    )
    # ---- how long and how big ----------------------------------------------------------
    epochs: int = field(
        default=5,  # enough to see the head converge (and start to overfit) on a small data set
        metadata={"help": "Number of passes over the training set."},
    )
    batch_size: int = field(
        default=32,  # fits a 2-core CPU's memory with 128 px images and gives smooth enough gradients
        metadata={"help": "Examples per step (per micro-step when gradient_accumulation_steps > 1)."},
    )
    gradient_accumulation_steps: int = field(
        default=1,  # 1 = no accumulation; raise it to mimic a bigger batch on small memory
        metadata={"help": "Gradient accumulation: one optimizer step every this many batches."},
    )
    max_steps_per_epoch: int | None = field(
        default=None,  # None = the whole training set each epoch; set a small number for smoke runs
        metadata={"help": "Stop each epoch after this many batches (for quick checks)."},
    )
    # ---- what trains -------------------------------------------------------------------
    freeze_depth: int | None = field(
        default=None,  # None = leave the model as you froze it yourself (or not at all)
        metadata={
            "help": "If set, call freeze(model, freeze_depth) first: 0 = head only, k = top k blocks + head."
        },
    )
    # ---- schedule and stability ----------------------------------------------------------
    schedule: str = field(
        default="constant",  # the seed recipe uses a fixed rate; try 'cosine' once the basics work
        metadata={
            "help": "Learning-rate schedule after warm-up: 'constant', 'linear' (to 0) or 'cosine' (to 0)."
        },
    )
    warmup_ratio: float = field(
        default=0.0,  # no warm-up: a fresh head with Adam at 1e-3 does not need one
        metadata={
            "help": "Share of all optimizer steps spent ramping the learning rate up from 0 (0 to <1)."
        },
    )
    grad_clip: float | None = field(
        default=None,  # off; 1.0 is the usual value when fine-tuning transformers
        metadata={"help": "Clip the global gradient norm to this value (None = no clipping)."},
    )
    label_smoothing: float = field(
        default=0.0,  # off: plain cross-entropy, the loss the lessons explain
        metadata={"help": "Label smoothing of the default cross-entropy loss (0 to <1)."},
    )
    class_weights: list | None = field(
        default=None,  # None = every class counts the same
        metadata={
            "help": "One weight per class for the default cross-entropy (helps with unbalanced classes)."
        },
    )
    # ---- early stopping and the weights you keep ----------------------------------------
    patience: int | None = field(
        default=None,  # off: you see the whole curve, including overfitting, which is the lesson
        metadata={
            "help": "Early stopping: stop after this many epochs without improvement of `monitor` "
            "(None = off)."
        },
    )
    monitor: str = field(
        default="val_loss",  # the loss is smoother than accuracy on small validation sets
        metadata={
            "help": "Which epoch value decides the best epoch: 'val_loss' or 'val_<metric>', "
            "e.g. 'val_accuracy'."
        },
    )
    mode: str = field(
        default="auto",  # auto: 'min' for losses, 'max' for everything else
        metadata={"help": "'min', 'max' or 'auto' (min for *loss, max otherwise)."},
    )
    restore_best: bool = field(
        default=True,  # you keep the weights that scored best on validation, not the last ones
        metadata={"help": "At the end, load the weights of the best epoch (needs validation data)."},
    )
    # ---- where and how it runs -----------------------------------------------------------
    seed: int = field(
        default=0,  # a fixed seed: the same run on a CPU gives the same numbers twice
        metadata={"help": "Random seed for weights of new layers, shuffling and dropout."},
    )
    device: str | None = field(
        default=None,  # None = auto: CUDA if present, else Apple MPS, else CPU
        metadata={"help": "'cpu', 'cuda', 'cuda:N' or 'mps'; None picks automatically."},
    )
    mixed_precision: str = field(
        default="auto",  # auto = bf16/fp16 on CUDA only; CPUs always use exact fp32
        metadata={"help": "'auto', 'no', 'bf16' or 'fp16'. Half precision is only used on CUDA."},
    )
    num_workers: int = field(
        default=0,  # 0 = load data in the main process: deterministic and fastest on 2 cores
        metadata={"help": "DataLoader worker processes (0 = none)."},
    )
    cache_max_gb: float = field(
        default=1.5,  # cached activations above this would crowd an 8 GB laptop
        metadata={
            "help": "Largest feature cache allowed (GB); above it training runs through the whole model."
        },
    )

    def __post_init__(self):
        check_positive("lr", self.lr)
        check_positive("backbone_lr_mult", self.backbone_lr_mult, allow_zero=True)
        check_positive("layer_decay", self.layer_decay)
        if self.layer_decay > 1:
            raise ConfigError(
                f"layer_decay must be in (0, 1], got {self.layer_decay!r}. Use e.g. 0.8, or 1.0 for off."
            )
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_int("epochs", self.epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("gradient_accumulation_steps", self.gradient_accumulation_steps, minimum=1)
        if self.max_steps_per_epoch is not None:
            check_int("max_steps_per_epoch", self.max_steps_per_epoch, minimum=1)
        if self.freeze_depth is not None:
            check_int("freeze_depth", self.freeze_depth, minimum=0)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_fraction("warmup_ratio", self.warmup_ratio)
        if self.grad_clip is not None:
            check_positive("grad_clip", self.grad_clip)
        check_fraction("label_smoothing", self.label_smoothing)
        if self.class_weights is not None:
            weights = list(self.class_weights)
            if not weights or any(not is_number(w) or not math.isfinite(w) or w < 0 for w in weights):
                raise ConfigError(
                    f"class_weights must be non-negative numbers, one per class, got {self.class_weights!r}."
                )
            self.class_weights = [float(w) for w in weights]
        if self.patience is not None:
            check_int("patience", self.patience, minimum=1)
        if not isinstance(self.monitor, str) or not (
            self.monitor.startswith("val_") or self.monitor == "train_loss"
        ):
            raise ConfigError(
                f"monitor must be 'val_loss', 'val_<metric>' or 'train_loss', got {self.monitor!r}."
            )
        check_choice("mode", self.mode, ("auto", "min", "max"))
        check_int("seed", self.seed, minimum=0)
        if self.device is not None and not isinstance(self.device, str):
            raise ConfigError(f"device must be a string like 'cpu' or 'cuda', got {self.device!r}.")
        check_choice("mixed_precision", self.mixed_precision, PRECISIONS)
        check_int("num_workers", self.num_workers, minimum=0)
        check_positive("cache_max_gb", self.cache_max_gb, allow_zero=True)

    # ---- helpers -------------------------------------------------------------------------
    @property
    def resolved_mode(self) -> str:
        """'min' or 'max' for `monitor` ('auto' means min for losses)."""
        if self.mode != "auto":
            return self.mode
        return "min" if self.monitor.endswith("loss") else "max"

    def to_dict(self) -> dict:
        return asdict(self)

    def updated(self, **changes) -> TrainConfig:
        """A copy with some fields changed (validated again); unknown names raise ConfigError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(
                f"Unknown training setting(s) {', '.join(unknown)}. Valid names: {', '.join(sorted(known))}."
            )
        return replace(self, **changes)

    @classmethod
    def describe(cls) -> str:
        """One line per field: name = default  # help."""
        return "\n".join(f"{f.name} = {f.default!r}  # {f.metadata.get('help', '')}" for f in fields(cls))
