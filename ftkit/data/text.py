"""Text tables for classification: CSV / TSV / JSONL files -> `TextData`.

    data = load_text_table("reviews.csv")                  # 8:1:1 train/val/test split
    data = load_text_table("sst2_train.tsv", eval_file="sst2_dev.tsv")
    data.summary()                                        # rows per split and class
    ds = data.to_hf(tokenizer)                            # a tokenized datasets.DatasetDict

What the loader does, in order (each step prints or raises, nothing happens silently):
1. Decode each file (UTF-8, else GB18030 for Chinese files, with a note) and read it as a
   table.  The delimiter comes from the extension, checked against the first line; whether
   the first row is a header is guessed from its content (`header=` forces it).
2. Pick the text and label columns, separately for each file (SST-2's train file calls its
   text `sentence`, its dev file `content`), and print one line saying what was picked.
3. Drop rows with an empty text or label when they are a few (<= 5 %), else refuse.
4. Map labels to ids: `classes` is sorted (numbers numerically) or the order given in `labels`.
5. Cap each file at `max_rows` rows, then split, both stratified and seeded.

`max_rows` applies to EVERY file, the eval file too: the smoke profile needs every split
small, and a stratified sample keeps the class balance.  Pass `max_rows=None` (the default
profile does) to use all rows.

Where things are: `text_files.py` reads one file (steps 1-3), `splits.py` samples and splits
(step 5), this file puts it together and adds helpers for the class-imbalance lesson.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..checks import check_bool, check_int, check_positive
from ..errors import ConfigError, DataError
from .splits import check_split, split_ratio, stratified_sample, stratified_split
from .text_files import read_labelled, sorted_labels

__all__ = ["TextData", "load_text_table", "make_imbalanced", "class_weights"]

VAL_FRACTION = 0.1  # with an eval_file, 10 % of the train file becomes the validation split


@dataclass
class TextData:
    """Three pandas DataFrames with a `text` column and an integer `label` column."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    classes: list  # class names (strings) in id order: classes[i] is label id i
    sources: dict = field(default_factory=dict)  # split name -> file it came from

    @property
    def label2id(self) -> dict:
        return {name: i for i, name in enumerate(self.classes)}

    @property
    def id2label(self) -> dict:
        return dict(enumerate(self.classes))

    @property
    def num_labels(self) -> int:
        return len(self.classes)

    def summary(self) -> pd.DataFrame:
        """Rows per split (index) and class (columns), with a total column."""
        rows = {}
        for name in ("train", "val", "test"):
            counts = getattr(self, name)["label"].value_counts()
            rows[name] = [int(counts.get(i, 0)) for i in range(len(self.classes))]
        table = pd.DataFrame.from_dict(rows, orient="index", columns=list(self.classes))
        table["total"] = table.sum(axis=1)
        return table

    def to_hf(self, tokenizer, max_length: int | None = None, padding=False):
        """Tokenize every split into a `datasets.DatasetDict` (train / validation / test).

        Columns: the tokenizer's outputs (`input_ids`, `attention_mask`, ...) and `labels`.
        `padding=False` (default) leaves rows at their own length: pad each batch later with
        `DataCollatorWithPadding`, which wastes far less compute on short texts.
        `padding="max_length"` pads every row to `max_length` up front (the seed article's
        style), useful to compare the speed of the two.  `max_length=None` uses the
        tokenizer's limit, capped at 512 (BERT's).
        """
        import datasets

        if padding not in (False, True, "longest", "max_length"):
            raise ConfigError(
                f"padding={padding!r} is not supported. Use False (pad per batch later) or 'max_length'."
            )
        if padding and tokenizer.pad_token is None:
            raise ConfigError(
                "The tokenizer has no pad token, so it cannot pad. Set tokenizer.pad_token first."
            )
        if max_length is None:
            max_length = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)

        def tokenize(batch):
            encoded = tokenizer(batch["text"], truncation=True, max_length=max_length, padding=padding)
            encoded["labels"] = batch["label"]
            return encoded

        splits = {}
        for name, frame in (("train", self.train), ("validation", self.val), ("test", self.test)):
            ds = datasets.Dataset.from_pandas(frame[["text", "label"]], preserve_index=False)
            splits[name] = ds.map(
                tokenize, batched=True, remove_columns=["text", "label"], desc=f"tokenize {name}"
            )
        return datasets.DatasetDict(splits)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={len(getattr(self, n)):,}" for n in ("train", "val", "test"))
        return f"TextData({sizes}, classes={self.classes})"


# ---------------------------------------------------------------------------------------
# The loader
# ---------------------------------------------------------------------------------------
def load_text_table(
    train_file,
    eval_file=None,
    text_col: str | int | None = None,
    label_col: str | int | None = None,
    labels: list | None = None,
    max_rows: int | None = None,
    seed: int = 0,
    split: tuple = (0.8, 0.1, 0.1),
    header: bool | None = None,
) -> TextData:
    """Read a labelled text table (and optionally a separate evaluation table).

    train_file  CSV / TSV / JSONL (or JSON list of objects), with or without a header row.
    eval_file   if given, it is the test split and the train file is split 9:1 into
                train/val; otherwise the train file is split by `split` (8:1:1).
    text_col, label_col  column names (or 0-based positions); found automatically if None.
    labels      the expected label values, in id order; any other value is an error.
    max_rows    use at most this many rows of EACH file (stratified, seeded); None = all.
    header      True/False forces whether the first row is a header; None guesses.
    """
    if max_rows is not None:
        check_int("max_rows", max_rows, minimum=2)
    check_int("seed", seed, minimum=0)
    split = check_split(split)
    if header is not None:
        check_bool("header", header)
    frame, source = read_labelled(train_file, text_col, label_col, header)
    classes = _classes(frame, labels, source)
    if max_rows is not None:
        frame = stratified_sample(frame, max_rows, seed)
    if eval_file is None:
        train, val, test = stratified_split(frame, split, seed, source)
        sources = {"train": source, "val": source, "test": source}
    else:
        test, eval_source = read_labelled(eval_file, text_col, label_col, header)
        _check_eval_labels(test, classes, eval_source, source)
        if max_rows is not None:
            test = stratified_sample(test, max_rows, seed)
        train, val = stratified_split(frame, (1 - VAL_FRACTION, VAL_FRACTION), seed, source)
        sources = {"train": source, "val": source, "test": eval_source}
    label2id = {name: i for i, name in enumerate(classes)}
    train, val, test = (_to_ids(part, label2id) for part in (train, val, test))
    print(
        f"splits: train {len(train):,} / val {len(val):,} / test {len(test):,}"
        + (
            f" (test = {sources['test']})"
            if eval_file is not None
            else f" (stratified {split_ratio(split)}, seed {seed})"
        )
    )
    return TextData(train=train, val=val, test=test, classes=classes, sources=sources)


def _classes(frame: pd.DataFrame, labels, source: str) -> list:
    present = sorted_labels(frame["label"].unique())
    if labels is None:
        classes = present
    else:
        classes = [str(v).strip() for v in labels]
        if len(set(classes)) != len(classes):
            raise ConfigError(f"labels= lists a value twice: {labels!r}.")
        for value in present:
            if value not in classes:
                row = int(np.flatnonzero((frame["label"] == value).to_numpy())[0]) + 1
                raise DataError(
                    f"{source}: label {value!r} (data row {row}) is not one of labels={classes}. "
                    "Add it to labels= or fix the file."
                )
        missing = [c for c in classes if c not in present]
        if missing:
            raise DataError(
                f"{source} has no row with label {missing[0]!r} from labels=. Remove it from labels= or add "
                "data."
            )
    if len(classes) < 2:
        raise DataError(
            f"{source} has a single class ({classes[0]!r}): a classifier needs at least two. "
            "Check label_col= and the file."
        )
    return classes


def _check_eval_labels(frame: pd.DataFrame, classes: list, eval_source: str, train_source: str) -> None:
    for value in sorted_labels(frame["label"].unique()):
        if value not in classes:
            row = int(np.flatnonzero((frame["label"] == value).to_numpy())[0]) + 1
            raise DataError(
                f"{eval_source}: label {value!r} (data row {row}) does not occur in {train_source} "
                f"(classes: {', '.join(classes)}). Fix the label or add training rows for it."
            )


def _to_ids(frame: pd.DataFrame, label2id: dict) -> pd.DataFrame:
    frame = frame.copy()
    frame["label"] = frame["label"].map(label2id).astype("int64")
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Helpers for the class-imbalance lesson
# ---------------------------------------------------------------------------------------
def make_imbalanced(
    df: pd.DataFrame, minority_class, keep_fraction: float, seed: int = 0, classes: list | None = None
):
    """A copy of `df` keeping only `keep_fraction` of the rows of `minority_class`.

    `minority_class` is a label id, or a class name when `classes` (TextData.classes) is given.
    At least one row of the class is kept, so it still exists in the data.
    """
    check_positive("keep_fraction", keep_fraction, example=0.25)
    if keep_fraction > 1:
        raise ConfigError(
            f"keep_fraction must be in (0, 1], got {keep_fraction!r}. Example: keep_fraction=0.25."
        )
    check_int("seed", seed, minimum=0)
    class_id = minority_class
    if not isinstance(minority_class, (int, np.integer)):
        if classes is None or str(minority_class) not in [str(c) for c in classes]:
            raise ConfigError(
                f"Unknown minority_class {minority_class!r}. Pass a label id, or a name with "
                "classes=data.classes."
            )
        class_id = [str(c) for c in classes].index(str(minority_class))
    rows = np.flatnonzero((df["label"] == class_id).to_numpy())
    if len(rows) == 0:
        raise DataError(f"No rows with label id {class_id} to thin out. Check minority_class.")
    kept = np.random.default_rng(seed).choice(
        rows, size=max(1, round(len(rows) * keep_fraction)), replace=False
    )
    others = np.flatnonzero((df["label"] != class_id).to_numpy())
    return df.iloc[sorted(np.concatenate([others, kept]))].reset_index(drop=True)


def class_weights(labels, num_classes: int | None = None):
    """'Balanced' class weights n / (k * count_c) for a weighted cross-entropy (a float tensor).

    `labels`: a DataFrame with a `label` column of ids (e.g. `data.train`) or any sequence of
    label ids.  `num_classes` (k) defaults to the largest id + 1; pass it so that a class
    missing from `labels` is an error instead of silently getting no weight.

    Why this scaling: each class then carries the same total weight (count_c * w_c = n / k),
    as if the data were balanced, a balanced set gets 1 for every class, and the numbers match
    scikit-learn's `compute_class_weight("balanced", ...)`, so they can be checked there.
    Only the ratios matter to the loss: PyTorch's `cross_entropy(weight=...)` with the default
    mean divides by the summed weights of the batch, so any common factor cancels.
    Use it as `WeightedLossTrainer(class_weights=...)`, `TrainConfig(class_weights=w.tolist())`
    or `torch.nn.CrossEntropyLoss(weight=...)`.
    """
    import torch

    values = labels["label"] if isinstance(labels, pd.DataFrame) else labels
    ids = np.asarray(list(values))
    if ids.size == 0 or not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0:
        raise DataError(
            "class_weights needs integer label ids >= 0 (e.g. data.train or data.train['label']), "
            f"got {ids[:5].tolist()}{' ...' if ids.size > 5 else ''}."
        )
    k = num_classes or int(ids.max()) + 1
    if int(ids.max()) >= k:
        raise ConfigError(
            f"Label id {int(ids.max())} does not fit num_classes={k}. Pass the number of classes "
            "(data.num_labels)."
        )
    counts = np.bincount(ids, minlength=k)
    missing = [c for c in range(k) if counts[c] == 0]
    if missing:
        raise DataError(
            f"Class id {missing[0]} has no rows, so it has no weight. Check the split or num_classes."
        )
    return torch.tensor(ids.size / (k * counts), dtype=torch.float32)
