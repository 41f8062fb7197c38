"""Plumbing for the BERT sentiment lesson: one Trainer recipe, freezing strategies, LoRA.

    recipe = TextRecipe(epochs=3, lr=5e-5)
    run = train_text(model, tokenizer, ds, recipe, label="full fine-tuning", output_dir=out)
    run.row()                               # label, trainable, time_s, val_f1_macro, ...

    table, runs = compare_freezing(make_model, tokenizer, ds, recipe, output_dir=out)
    opt = layerwise_optimizer(model, head_lr=5e-4, encoder_lr=1e-5)   # Trainer(optimizers=(opt, None))
    peft_model = lora_seq_cls(model)        # LoRA on query/value, the classifier trains in full

Everything here is a thin layer over the Hugging Face `Trainer`: the notebook shows the
`TrainingArguments` once, in full; the comparisons reuse them through `TextRecipe`.
Importing this module imports transformers (a few seconds); `import ftkit` does not.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field

from ..infra.compat import ensure_torchvision

ensure_torchvision()  # transformers imports torchvision when installed (see ftkit/compat.py)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments  # noqa: E402

from ..errors import ConfigError  # noqa: E402
from ..freeze import freeze, max_depth, param_groups, trainable_summary, unfreeze  # noqa: E402
from ..hf import HistoryCallback, classification_metrics, release_training_memory  # noqa: E402
from ..infra.runtime import oom_guard  # noqa: E402

__all__ = [
    "is_chinese",
    "text_model_for",
    "TextRecipe",
    "TextRun",
    "training_args",
    "train_text",
    "classifier_from_encoder",
    "ProgressiveUnfreezing",
    "all_params_optimizer",
    "layerwise_optimizer",
    "freezing_strategies",
    "compare_freezing",
    "set_dropout",
    "predict_proba",
    "time_padding",
    "lora_seq_cls",
    "load_lora_seq_cls",
]


# ---- which model reads these texts ------------------------------------------------------------
CHINESE_SHARE = (
    0.3  # Chinese reviews are mostly ideographs; English text with a quoted Chinese word is far below
)


def is_chinese(texts, sample: int = 200) -> bool:
    """True when at least 30 % of the non-space characters of the first `sample` texts are
    CJK ideographs (Chinese, or Japanese kanji)."""
    chars = "".join(str(t) for t in list(texts)[:sample]).replace(" ", "")
    cjk = sum("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in chars)
    return bool(chars) and cjk >= CHINESE_SHARE * len(chars)


def text_model_for(texts, profile, model=None):
    """The model a lesson should load for `texts`: `model` when one is given; else
    `"bert-base-chinese"` for Chinese texts (outside the smoke profile, whose tiny random model
    reads nothing anyway), because the English vocabulary of MiniLM and bert-base-uncased turns
    most Chinese characters into [UNK]; else None (the profile's default model).

    Offline, the bert-base-chinese preset falls back to the packaged MiniLM and prints why.
    """
    if model is not None:
        return model
    name = getattr(profile, "name", profile)
    if name != "smoke" and is_chinese(texts):
        print(
            "Chinese text: asking for bert-base-chinese (an English vocabulary reads most Chinese characters as [UNK])"
        )
        return "bert-base-chinese"
    return None


# ---- the recipe ------------------------------------------------------------------------------
@dataclass
class TextRecipe:
    """The lesson's Trainer settings, in one place so every comparison uses the same ones."""

    epochs: int = field(
        default=3, metadata={"help": "passes over the training split (few: small data overfits fast)"}
    )
    lr: float = field(
        default=5e-5, metadata={"help": "peak learning rate; 2e-5..5e-5 is the usual range for BERT"}
    )
    batch_size: int = field(
        default=16, metadata={"help": "texts per step; 16 fits a 2-core CPU and small GPUs"}
    )
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW decoupled weight decay (BERT's own value)"}
    )
    warmup: float = field(
        default=0.1,
        metadata={"help": "share of steps with a rising LR (a float < 1 is a ratio in transformers 5)"},
    )
    label_smoothing: float = field(
        default=0.0, metadata={"help": "0 = plain cross-entropy; 0.1 softens over-confident targets"}
    )
    patience: int | None = field(
        default=None, metadata={"help": "EarlyStoppingCallback patience in epochs; None = no early stopping"}
    )
    seed: int = field(
        default=0, metadata={"help": "Trainer seed (data order, dropout): same seed, same numbers on CPU"}
    )
    logging_steps: int = field(
        default=5, metadata={"help": "log the training loss every N steps (the curve's resolution)"}
    )
    group_by_length: bool = field(
        default=False,
        metadata={
            "help": "batch texts of similar length together: less padding, "
            "faster when lengths vary a lot (large data sets)"
        },
    )

    def __post_init__(self):
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ConfigError(f"TextRecipe.epochs must be a positive integer, got {self.epochs!r}.")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1):
            raise ConfigError(f"TextRecipe.lr must be between 0 and 1 (e.g. 5e-5), got {self.lr!r}.")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"TextRecipe.batch_size must be a positive integer, got {self.batch_size!r}.")
        if not 0 <= self.warmup < 1:
            raise ConfigError(f"TextRecipe.warmup is a share of the steps in [0, 1), got {self.warmup!r}.")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"TextRecipe.label_smoothing must be in [0, 1), got {self.label_smoothing!r}.")
        if self.weight_decay < 0:
            raise ConfigError(f"TextRecipe.weight_decay must be >= 0, got {self.weight_decay!r}.")
        if self.patience is not None and (not isinstance(self.patience, int) or self.patience < 1):
            raise ConfigError(
                f"TextRecipe.patience must be a positive integer or None, got {self.patience!r}."
            )
        if not isinstance(self.group_by_length, bool):
            raise ConfigError(
                f"TextRecipe.group_by_length must be True or False, got {self.group_by_length!r}."
            )

    def replace(self, **changes) -> TextRecipe:
        """A copy with some settings changed (validated again)."""
        unknown = [k for k in changes if k not in self.__dataclass_fields__]
        if unknown:
            raise ConfigError(
                f"TextRecipe has no setting {unknown[0]!r}. Known: {', '.join(self.__dataclass_fields__)}."
            )
        return TextRecipe(**{**asdict(self), **changes})


def training_args(recipe: TextRecipe, output_dir, **overrides) -> TrainingArguments:
    """`TrainingArguments` for the recipe: evaluate every epoch, F1 picks the best epoch.

    With `recipe.patience` the best checkpoint is saved each epoch (weights only) and
    reloaded at the end (`load_best_model_at_end`); without it nothing is written to disk.
    """
    keep_best = recipe.patience is not None
    args = dict(
        output_dir=str(output_dir),
        num_train_epochs=recipe.epochs,
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=64,  # evaluation keeps no gradients: bigger batches are cheap
        learning_rate=recipe.lr,
        weight_decay=recipe.weight_decay,
        warmup_steps=recipe.warmup,
        lr_scheduler_type="linear",  # warm up, then decay linearly to 0 (BERT's schedule)
        # "group_by_length": shuffled groups of ~50 batches, each sorted by length (was `group_by_length=True` before 5)
        train_sampling_strategy="group_by_length" if recipe.group_by_length else "random",
        label_smoothing_factor=recipe.label_smoothing,
        eval_strategy="epoch",  # was `evaluation_strategy` before transformers 4.41
        save_strategy="epoch" if keep_best else "no",
        save_total_limit=1 if keep_best else None,  # the best checkpoint (and the last) only
        save_only_model=True,  # no optimizer state on disk: half the size, cannot resume (fine here)
        load_best_model_at_end=keep_best,
        metric_for_best_model="f1_macro",
        greater_is_better=True,
        logging_steps=recipe.logging_steps,
        seed=recipe.seed,
        data_seed=recipe.seed,
        report_to="none",  # no TensorBoard / W&B from a classroom notebook
        disable_tqdm=True,  # the live plot shows progress; bars would flood the notebook
        dataloader_num_workers=0,  # 2-core CPU: worker processes cost more than they save
        dataloader_pin_memory=torch.cuda.is_available(),  # pinned memory only helps copies to a GPU
    )
    args.update(overrides)
    return TrainingArguments(**args)


# ---- one run ---------------------------------------------------------------------------------
@dataclass
class TextRun:
    """What `train_text` returns: the history, the final validation metrics and the cost."""

    label: str
    history: object  # ftkit.History, one record per evaluation
    metrics: dict  # trainer.evaluate() on the validation split after training (best epoch if restored)
    time_s: float  # wall time of trainer.train()
    trainable: int  # trainable parameters at the start of training
    total: int
    trainer: object = field(repr=False, default=None)

    def row(self) -> dict:
        m = self.metrics
        return {
            "run": self.label,
            "trainable": self.trainable,
            "trainable %": round(100 * self.trainable / self.total, 2),
            "time_s": round(self.time_s, 1),
            "epochs run": len(self.history),
            "val_accuracy": m.get("eval_accuracy"),
            "val_f1_macro": m.get("eval_f1_macro"),
        }


def train_text(
    model,
    tokenizer,
    ds,
    recipe: TextRecipe,
    label: str,
    output_dir,
    *,
    optimizer=None,
    trainer_cls=Trainer,
    callbacks=(),
    live: bool = False,
    args_overrides: dict | None = None,
    keep_trainer: bool = True,
    **trainer_kwargs,
) -> TextRun:
    """Fine-tune `model` on `ds["train"]`, evaluating on `ds["validation"]` every epoch.

    `optimizer`: a ready optimizer (e.g. `layerwise_optimizer(model)`), passed to the Trainer
    as `optimizers=(optimizer, None)` so it still builds the warm-up schedule.
    `trainer_cls` / `trainer_kwargs`: e.g. `WeightedLossTrainer` with `class_weights=...`.
    `live=True` redraws the curves in the notebook after each epoch.
    `keep_trainer=False` returns the run without its Trainer (nor a reference to the model): for
    comparisons that only need the curves, so a loop of runs does not hold every model in memory.
    The optimizer state and the gradients are freed either way (`release_training_memory`).
    """
    from transformers import EarlyStoppingCallback, PrinterCallback

    from ..plots import LivePlot

    for split in ("train", "validation"):
        if split not in ds:
            raise ConfigError(
                f"train_text needs a {split!r} split; got {list(ds)}. Use TextData.to_hf(tokenizer)."
            )
    record = HistoryCallback(*([LivePlot()] if live else []), label=label)
    cbs = [record, *callbacks]
    if recipe.patience is not None:
        cbs.append(EarlyStoppingCallback(early_stopping_patience=recipe.patience))
    trainer = trainer_cls(
        model=model,
        args=training_args(recipe, output_dir, **(args_overrides or {})),
        train_dataset=ds["train"],
        eval_dataset=ds["validation"],
        processing_class=tokenizer,  # was `tokenizer=` before transformers 5
        data_collator=DataCollatorWithPadding(tokenizer),  # pad each batch to its longest text
        compute_metrics=classification_metrics,
        callbacks=cbs,
        optimizers=(optimizer, None),
        **trainer_kwargs,
    )
    trainer.remove_callback(
        PrinterCallback
    )  # with disable_tqdm it prints every log dict; the History keeps them
    summary = trainable_summary(model)
    start = time.perf_counter()
    with oom_guard(batch_size=recipe.batch_size):  # a GPU out-of-memory error becomes one line of advice
        trainer.train()
    elapsed = time.perf_counter() - start
    release_training_memory(trainer)  # the model stays; its AdamW state and gradients go
    metrics = trainer.evaluate()
    return TextRun(
        label,
        record.history,
        metrics,
        elapsed,
        summary.trainable,
        summary.total,
        trainer if keep_trainer else None,
    )


def classifier_from_encoder(model, folder, id2label: dict):
    """Save only the pretrained encoder of `model` (no classification head) into `folder`, then load
    it back with AutoModelForSequenceClassification, as the seed article does with a base BERT.

    Returns (model, loading_info): `loading_info["missing_keys"]` lists the weights the
    checkpoint did not have, i.e. the new, randomly initialised classifier.
    """
    from transformers import AutoModelForSequenceClassification

    from ..infra.io import save_pretrained

    save_pretrained(folder, model.base_model, overwrite=True)
    labels = dict(
        num_labels=len(id2label), id2label=dict(id2label), label2id={v: k for k, v in id2label.items()}
    )
    return AutoModelForSequenceClassification.from_pretrained(str(folder), output_loading_info=True, **labels)


# ---- freezing -------------------------------------------------------------------------------
class ProgressiveUnfreezing(TrainerCallback):
    """Start with only the head training; unfreeze `blocks_per_epoch` more blocks (top down)
    at the start of each later epoch (ULMFiT's gradual unfreezing).

    The optimizer must already hold every parameter (frozen ones get no gradient, so AdamW
    skips them): build it with `all_params_optimizer(model, ...)`, because the Trainer's own
    optimizer only takes the parameters that train when it is created.
    """

    def __init__(self, blocks_per_epoch: int = 2, start_depth: int = 0):
        if not isinstance(blocks_per_epoch, int) or blocks_per_epoch < 1:
            raise ConfigError(f"blocks_per_epoch must be a positive integer, got {blocks_per_epoch!r}.")
        self.blocks_per_epoch = blocks_per_epoch  # 2 of MiniLM's 8 blocks: all train by epoch 5
        self.start_depth = start_depth  # 0: the first epoch trains the head only
        self.schedule: list = []  # (epoch, depth) pairs, for the lesson to print

    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        epoch = int(round(state.epoch or 0))
        depth = min(self.start_depth + epoch * self.blocks_per_epoch, max_depth(model))
        freeze(model, depth)
        model.train()  # freeze() puts frozen blocks in eval mode; the Trainer set train mode before
        self.schedule.append((epoch + 1, depth))


def all_params_optimizer(model, lr: float, weight_decay: float = 0.01, **group_kwargs) -> torch.optim.AdamW:
    """AdamW over ALL parameters (frozen ones included), grouped by `param_groups`.

    For progressive unfreezing: parameters unfrozen later are already in the optimizer.
    The model's freeze state is left as it was.
    """
    group_kwargs.setdefault("backbone_lr_mult", 1.0)  # one LR everywhere unless asked otherwise
    was = {id(p): p.requires_grad for p in model.parameters()}
    depth = getattr(model, "_ftkit_depth", None)
    unfreeze(model)
    groups = param_groups(model, lr, weight_decay=weight_decay, **group_kwargs)
    for p in model.parameters():
        p.requires_grad_(was[id(p)])
    if depth is not None:
        freeze(model, depth)
    return torch.optim.AdamW(groups, lr=lr)


def layerwise_optimizer(
    model,
    head_lr: float = 5e-4,
    encoder_lr: float = 1e-5,
    layer_decay: float = 1.0,
    weight_decay: float = 0.01,
) -> torch.optim.AdamW:
    """AdamW with a large LR for the new head and a small one for the pretrained encoder.

    `layer_decay` < 1 also shrinks the LR block by block going down (e.g. 0.8).
    Biases and LayerNorm weights get no weight decay. Pass it as `optimizers=(opt, None)`.
    """
    if not (0 < encoder_lr <= head_lr):
        raise ConfigError(f"encoder_lr ({encoder_lr}) should be positive and at most head_lr ({head_lr}).")
    groups = param_groups(
        model,
        head_lr,
        backbone_lr_mult=encoder_lr / head_lr,
        layer_decay=layer_decay,
        weight_decay=weight_decay,
    )
    return torch.optim.AdamW(groups, lr=head_lr)


def freezing_strategies(model, frozen_layers: int = 3) -> dict:
    """Name -> freeze depth (None = progressive) for the four strategies of the lesson.

    "first k layers frozen" freezes the embeddings and the bottom k encoder layers.
    """
    n = max_depth(model)
    layers = n - 2  # blocks are embeddings, encoder layers..., pooler
    k = min(frozen_layers, layers)
    return {
        "full fine-tuning": n,
        f"first {k} layers frozen": n - 1 - k,
        "head only": 0,
        "progressive unfreezing": None,
    }


def compare_freezing(
    make_model,
    tokenizer,
    ds,
    recipe: TextRecipe,
    output_dir,
    frozen_layers: int = 3,
    head_only_lr: float = 1e-3,
    blocks_per_epoch: int = 2,
):
    """Train one fresh model per freezing strategy with the same recipe; return (table, runs).

    `make_model()` must return a fresh, identically initialised model each time.
    Head-only training uses `head_only_lr` (a lone linear layer needs a larger step).
    The runs keep their histories and metrics, not their models (one model per strategy would
    not fit Binder's 2 GB).
    """
    import pandas as pd

    rows, runs = [], []
    for name, depth in freezing_strategies(make_model(), frozen_layers).items():
        model = make_model()
        optimizer, callbacks, lr = None, [], recipe.lr
        if depth is None:
            progressive = ProgressiveUnfreezing(blocks_per_epoch)
            freeze(model, 0)
            optimizer, callbacks = all_params_optimizer(model, lr, recipe.weight_decay), [progressive]
        else:
            freeze(model, depth)
            lr = head_only_lr if depth == 0 else recipe.lr
        run = train_text(
            model,
            tokenizer,
            ds,
            recipe.replace(lr=lr),
            name,
            f"{output_dir}/{len(runs)}",
            optimizer=optimizer,
            callbacks=callbacks,
            keep_trainer=False,
        )
        row = run.row()
        row["lr"] = lr
        if depth is None:
            row["trainable"] = (
                f"{run.trainable:,} -> {sum(p.numel() for p in model.parameters() if p.requires_grad):,}"
            )
            row["trainable %"] = "grows"
        rows.append(row)
        runs.append(run)
    return pd.DataFrame(rows), runs


# ---- regularisation and prediction ----------------------------------------------------------
def set_dropout(model, p: float) -> int:
    """Set the probability of every `nn.Dropout` in the model; returns how many were changed."""
    if not 0 <= p < 1:
        raise ConfigError(f"Dropout probability must be in [0, 1), got {p!r}.")
    count = 0
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = p
            count += 1
    return count


@torch.no_grad()
def predict_proba(model, tokenizer, texts, batch_size: int = 64, max_length: int = 128) -> np.ndarray:
    """Class probabilities (n_texts x n_classes) for a list of texts, in eval mode."""
    texts = [str(t) for t in texts]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[i : i + batch_size],
            truncation=True,
            max_length=max_length,
            padding=True,
            return_tensors="pt",
        ).to(device)
        out.append(torch.softmax(model(**batch).logits.float(), dim=-1).cpu().numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels))


def time_padding(
    model,
    tokenizer,
    texts,
    max_length: int = 512,
    batch_size: int = 16,
    max_batches: int | None = None,
    train_step: bool = True,
) -> dict:
    """Texts per second with dynamic padding vs padding every text to `max_length`.

    `train_step=True` times forward + backward (what fine-tuning pays); gradients are thrown
    away and the weights do not change. Returns both throughputs, the mean padded length of
    each, and their ratio.
    """
    texts = [str(t) for t in texts]
    batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)][:max_batches]
    if not batches:
        raise ConfigError("time_padding got no texts. Pass a list of strings.")
    collator = DataCollatorWithPadding(tokenizer)
    result = {}
    for mode in ("dynamic", "max_length"):
        if mode == "dynamic":
            encoded = [
                collator([tokenizer(t, truncation=True, max_length=max_length) for t in b]) for b in batches
            ]
        else:
            encoded = [
                tokenizer(
                    b, truncation=True, max_length=max_length, padding="max_length", return_tensors="pt"
                )
                for b in batches
            ]
        model.train(train_step)
        start = time.perf_counter()
        for batch in encoded:
            with torch.set_grad_enabled(train_step):
                logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
                if train_step:
                    logits.sum().backward()
        elapsed = time.perf_counter() - start
        model.zero_grad(set_to_none=True)
        n = sum(len(b) for b in batches)
        result[f"{mode}_texts_per_s"] = n / elapsed
        result[f"{mode}_mean_length"] = float(np.mean([b["input_ids"].shape[1] for b in encoded]))
    model.eval()
    result["ratio"] = result["dynamic_texts_per_s"] / result["max_length_texts_per_s"]
    return result


# ---- LoRA for sequence classification --------------------------------------------------------
def lora_seq_cls(model, r: int = 8, alpha: int = 16, dropout: float = 0.1, target_modules=("query", "value")):
    """Wrap a BERT classifier with LoRA adapters (PEFT); the new classifier head trains in full.

    `modules_to_save=["classifier"]`: the head is new, so it must train and be saved with the
    adapter (without it the reloaded model would get a fresh random head).
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        task_type="SEQ_CLS",
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        modules_to_save=["classifier"],
    )
    with (
        warnings.catch_warnings()
    ):  # PEFT 0.21 calls a transformers method deprecated in 5.x: noise for a learner
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, config)


def load_lora_seq_cls(base_model, adapter_folder):
    """Load a saved LoRA adapter (and its saved classifier) onto a fresh base model, for prediction."""
    from pathlib import Path

    from peft import PeftModel

    if not (Path(adapter_folder) / "adapter_config.json").is_file():
        raise ConfigError(
            f"{str(adapter_folder)!r} has no adapter_config.json. Pass the folder written by save_pretrained."
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return PeftModel.from_pretrained(base_model, str(adapter_folder)).eval()
