"""Text classification with the Hugging Face `Trainer`: one recipe, one run record, predictions.

    recipe = TextRecipe(num_train_epochs=3, learning_rate=5e-5)
    run = train_text(model, tokenizer, ds, recipe, label="full fine-tuning", output_dir=out)
    run.row()                               # run, trainable, time_s, val_f1_macro, ...
    probs = predict_proba(model, tokenizer, texts)
    oof = out_of_fold_proba(make_model, tokenizer, frame, recipe, out, folds=3)  # cross-validated

`TextRecipe` holds the Trainer settings a comparison keeps fixed, under their `TrainingArguments`
names (plus `EarlyStoppingCallback`'s early_stopping_patience); `training_args` spells them out.
Lesson 03 (sentiment) and the triage case study both train with it.  LoRA on a classifier is
`ftkit.apply_lora(model, LoraSettings(task_type="SEQ_CLS", ...))`, then `train_text` as usual.
Importing this module imports transformers (a few seconds); `import ftkit` does not.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from .infra.compat import ensure_torchvision

ensure_torchvision()  # transformers imports torchvision when installed (see ftkit/infra/compat.py)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments  # noqa: E402

from .checks import check_bool, check_choice, check_fraction, check_int, check_positive  # noqa: E402
from .errors import ConfigError  # noqa: E402
from .freeze import trainable_summary  # noqa: E402
from .hf import HistoryCallback, classification_metrics, release_training_memory  # noqa: E402
from .infra.runtime import oom_guard  # noqa: E402

__all__ = [
    "is_chinese",
    "text_model_for",
    "TextRecipe",
    "TextRun",
    "training_args",
    "train_text",
    "predict_proba",
    "out_of_fold_proba",
]


# ---- which model reads these texts ------------------------------------------------------------
CHINESE_SHARE = 0.3  # Chinese reviews are mostly ideographs; English with a quoted Chinese word is far below


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
            "Chinese text: asking for bert-base-chinese "
            "(an English vocabulary reads most Chinese characters as [UNK])"
        )
        return "bert-base-chinese"
    return None


# ---- the recipe ------------------------------------------------------------------------------
SAMPLING = ("random", "group_by_length")  # TrainingArguments.train_sampling_strategy values ftkit explains


@dataclass
class TextRecipe:
    """The Trainer settings of a text classifier, in one place so every comparison uses the same ones."""

    num_train_epochs: int = field(
        default=3, metadata={"help": "passes over the training split (few: small data overfits fast)"}
    )
    learning_rate: float = field(
        default=5e-5, metadata={"help": "peak learning rate; 2e-5..5e-5 is the usual range for BERT"}
    )
    per_device_train_batch_size: int = field(
        default=16, metadata={"help": "texts per step; 16 fits a 2-core CPU and small GPUs"}
    )
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW decoupled weight decay (BERT's own value)"}
    )
    warmup_steps: float = field(
        default=0.1,
        metadata={
            "help": "steps with a rising learning rate: a float < 1 is a share of all steps "
            "(transformers 5 has no warmup_ratio), an integer a number of steps"
        },
    )
    label_smoothing_factor: float = field(
        default=0.0, metadata={"help": "0 = plain cross-entropy; 0.1 softens over-confident targets"}
    )
    early_stopping_patience: int | None = field(
        default=None, metadata={"help": "EarlyStoppingCallback patience in epochs; None = no early stopping"}
    )
    seed: int = field(
        default=0, metadata={"help": "Trainer seed (data order, dropout): same seed, same numbers on CPU"}
    )
    logging_steps: int = field(
        default=5, metadata={"help": "log the training loss every N steps (the curve's resolution)"}
    )
    train_sampling_strategy: str = field(
        default="random",
        metadata={
            "help": "'group_by_length' batches texts of similar length together: less padding, "
            "faster when lengths vary a lot (large data sets); 'random' shuffles freely"
        },
    )

    def __post_init__(self):
        check_int("num_train_epochs", self.num_train_epochs, minimum=1)
        check_positive("learning_rate", self.learning_rate, example=5e-5)
        if self.learning_rate >= 1:
            raise ConfigError(f"learning_rate must be below 1 (e.g. 5e-5), got {self.learning_rate!r}.")
        check_int("per_device_train_batch_size", self.per_device_train_batch_size, minimum=1)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        if isinstance(self.warmup_steps, int) and not isinstance(self.warmup_steps, bool):
            check_int("warmup_steps", self.warmup_steps, minimum=0)
        else:
            check_fraction("warmup_steps", self.warmup_steps)
        check_fraction("label_smoothing_factor", self.label_smoothing_factor)
        if self.early_stopping_patience is not None:
            check_int("early_stopping_patience", self.early_stopping_patience, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_int("logging_steps", self.logging_steps, minimum=1)
        check_choice("train_sampling_strategy", self.train_sampling_strategy, SAMPLING)

    def replace(self, **changes) -> TextRecipe:
        """A copy with some settings changed (validated again)."""
        unknown = [k for k in changes if k not in self.__dataclass_fields__]
        if unknown:
            raise ConfigError(
                f"TextRecipe has no setting {unknown[0]!r}. Known: {', '.join(self.__dataclass_fields__)}."
            )
        return TextRecipe(**{**asdict(self), **changes})


def training_args(recipe: TextRecipe, output_dir, **overrides) -> TrainingArguments:
    """`TrainingArguments` for the recipe: evaluate every epoch, macro F1 picks the best epoch.

    With `recipe.early_stopping_patience` the best checkpoint is saved each epoch (weights only)
    and reloaded at the end (`load_best_model_at_end`); without it nothing is written to disk.
    """
    keep_best = recipe.early_stopping_patience is not None
    args = dict(
        output_dir=str(output_dir),
        num_train_epochs=recipe.num_train_epochs,
        per_device_train_batch_size=recipe.per_device_train_batch_size,
        per_device_eval_batch_size=64,  # evaluation keeps no gradients: bigger batches are cheap
        learning_rate=recipe.learning_rate,
        weight_decay=recipe.weight_decay,
        warmup_steps=recipe.warmup_steps,
        lr_scheduler_type="linear",  # warm up, then decay linearly to 0 (BERT's schedule)
        # "group_by_length": shuffled groups of ~50 batches, each sorted by length (`group_by_length=True`
        # before transformers 5)
        train_sampling_strategy=recipe.train_sampling_strategy,
        label_smoothing_factor=recipe.label_smoothing_factor,
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

    label: str  # the run's name (plots and tables)
    history: object  # ftkit.History, one record per evaluation
    time_s: float  # wall time of trainer.train()
    metrics: dict  # trainer.evaluate() on the validation split after training (best epoch if restored)
    trainable: int  # trainable parameters at the start of training
    total: int
    trainer: object = field(repr=False, default=None)  # the transformers Trainer (None: not kept)

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
    resume: bool = False,
    **trainer_kwargs,
) -> TextRun:
    """Fine-tune `model` on `ds["train"]`, evaluating on `ds["validation"]` every epoch.

    `optimizer`: a ready optimizer (e.g. a layer-wise AdamW), passed to the Trainer
    as `optimizers=(optimizer, None)` so it still builds the warm-up schedule.
    `trainer_cls` / `trainer_kwargs`: e.g. `WeightedLossTrainer` with `class_weights=...`.
    `live=True` redraws the curves in the notebook after each epoch.
    `keep_trainer=False` returns the run without its Trainer (nor a reference to the model): for
    comparisons that only need the curves, so a loop of runs does not hold every model in memory.
    `resume=True` goes on from the last checkpoint in `output_dir` (saved with
    `args_overrides={"save_strategy": "epoch", "save_only_model": False}`).
    The optimizer state and the gradients are freed either way (`release_training_memory`).
    """
    from transformers import EarlyStoppingCallback, PrinterCallback

    from .plots import LivePlot

    check_bool("live", live)
    for split in ("train", "validation"):
        if split not in ds:
            raise ConfigError(
                f"train_text needs a {split!r} split; got {list(ds)}. Use TextData.to_hf(tokenizer)."
            )
    record = HistoryCallback(*([LivePlot()] if live else []), label=label)
    cbs = [record, *callbacks]
    if recipe.early_stopping_patience is not None:
        cbs.append(EarlyStoppingCallback(early_stopping_patience=recipe.early_stopping_patience))
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
    trainer.remove_callback(PrinterCallback)  # with disable_tqdm it prints every log dict; History keeps them
    # A classifier's loss is the mean over its own batch: it takes **kwargs but never reads
    # `num_items_in_batch`. Left True, the Trainer (5.x) multiplies every loss (train and eval) by the
    # number of processes and skips the division by the accumulation steps: 2x eval loss on 2 processes.
    trainer.model_accepts_loss_kwargs = False
    summary = trainable_summary(model)
    start = time.perf_counter()
    with oom_guard(batch_size=recipe.per_device_train_batch_size):  # a GPU OOM error: one line of advice
        trainer.train(resume_from_checkpoint=True if resume else None)
    elapsed = time.perf_counter() - start
    release_training_memory(trainer)  # the model stays; its AdamW state and gradients go
    metrics = trainer.evaluate()
    return TextRun(
        label=label,
        history=record.history,
        time_s=elapsed,
        metrics=metrics,
        trainable=summary.trainable,
        total=summary.total,
        trainer=trainer if keep_trainer else None,
    )


# ---- prediction ------------------------------------------------------------------------------
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


def out_of_fold_proba(
    make_model,
    tokenizer,
    frame,
    recipe: TextRecipe,
    output_dir,
    *,
    folds: int = 5,
    seed: int = 0,
    max_length: int = 128,
    **train_kwargs,
) -> np.ndarray:
    """Cross-validated ("out-of-fold") class probabilities for every row of `frame` (columns `text` and
    integer `label`): the rows are cut into `folds` stratified parts; for each part a fresh `make_model()`
    is trained with `recipe` on the other parts and scores that part. Every row is thus scored by a model
    that never saw it, as a validation row would be, and all rows get a score: a decision threshold
    chosen on them rests on `folds` times more examples than a validation split holds (scikit-learn's
    `TunedThresholdClassifierCV` does the same). Costs `folds` training runs. Early stopping is off (the
    held-out part must not pick the epoch); `train_kwargs` go to `train_text` (e.g. a weighted loss).
    """
    from sklearn.model_selection import StratifiedKFold

    from .data.text import TextData

    check_int("folds", folds, minimum=2)
    labels = np.asarray(frame["label"])
    if np.bincount(labels).min(initial=len(labels)) < folds:
        raise ConfigError(
            f"every class needs at least folds={folds} rows for a stratified split; use fewer folds."
        )
    recipe = recipe.replace(early_stopping_patience=None)
    frame = frame[["text", "label"]].reset_index(drop=True)
    classes = list(range(int(labels.max()) + 1))
    probs = None
    cut = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (fit, held) in enumerate(cut.split(frame["text"], labels)):
        part = TextData(frame.iloc[fit], frame.iloc[held], frame.iloc[held], classes)
        run = train_text(
            make_model(),
            tokenizer,
            part.to_hf(tokenizer, max_length=max_length),
            recipe,
            f"fold {k + 1} of {folds}",
            f"{output_dir}/fold{k}",
            args_overrides={"eval_strategy": "no"},
            **train_kwargs,
        )
        scores = predict_proba(run.trainer.model, tokenizer, frame["text"].iloc[held], max_length=max_length)
        probs = np.zeros((len(frame), scores.shape[1])) if probs is None else probs
        probs[held] = scores
        run.trainer = None
    return probs
