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
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError

__all__ = [
    "TextData",
    "load_text_table",
    "make_imbalanced",
    "class_weights",
    "TEXT_COLUMN_NAMES",
    "LABEL_COLUMN_NAMES",
]

# Column names recognised without being told (compared case-insensitively).
TEXT_COLUMN_NAMES = ("text", "sentence", "content", "review", "comment", "query")
LABEL_COLUMN_NAMES = ("label", "labels", "sentiment", "class", "target", "category", "y")

MAX_EMPTY_FRACTION = 0.05  # a few empty rows are noise; more usually means a wrong column
VAL_FRACTION = 0.1  # with an eval_file, 10 % of the train file becomes the validation split
MAX_CATEGORIES = 50  # a headerless column with at most this many values can be the label
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


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
    _check_options(max_rows, seed, split)
    frame, source = _read_labelled(train_file, text_col, label_col, header)
    classes = _classes(frame, labels, source)
    if max_rows is not None:
        frame = _stratified_sample(frame, max_rows, seed)
    if eval_file is None:
        train, val, test = _stratified_split(frame, split, seed, source)
        sources = {"train": source, "val": source, "test": source}
    else:
        test, eval_source = _read_labelled(eval_file, text_col, label_col, header)
        _check_eval_labels(test, classes, eval_source, source)
        if max_rows is not None:
            test = _stratified_sample(test, max_rows, seed)
        train, val = _stratified_split(frame, (1 - VAL_FRACTION, VAL_FRACTION), seed, source)
        sources = {"train": source, "val": source, "test": eval_source}
    label2id = {name: i for i, name in enumerate(classes)}
    train, val, test = (_to_ids(part, label2id) for part in (train, val, test))
    print(
        f"splits: train {len(train):,} / val {len(val):,} / test {len(test):,}"
        + (
            f" (test = {sources['test']})"
            if eval_file is not None
            else f" (stratified {_ratio(split)}, seed {seed})"
        )
    )
    return TextData(train=train, val=val, test=test, classes=classes, sources=sources)


def _check_options(max_rows, seed, split) -> None:
    if max_rows is not None and (not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 2):
        raise ConfigError(f"max_rows must be an integer >= 2 or None, got {max_rows!r}.")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}.")
    if len(split) != 3 or min(split) <= 0 or abs(sum(split) - 1) > 1e-6:
        raise ConfigError(
            f"split must be three positive fractions adding up to 1 (train, val, test), got {split!r}."
        )


def _ratio(split) -> str:
    return ":".join(f"{round(f * 10, 1):g}" for f in split)


def _read_labelled(path, text_col, label_col, header) -> tuple[pd.DataFrame, str]:
    """Read one file -> DataFrame with `text`, `label` (strings) and any extra columns."""
    path = Path(path)
    if not path.is_file():
        where = "a folder, not a file" if path.is_dir() else "not found"
        raise DataError(f"Text table {where}: {path}. Check the path (TRAIN_FILE / EVAL_FILE).")
    content = _decode(path)
    if path.suffix.lower() in _JSON_SUFFIXES:
        table, has_header = _parse_json(content, path), True
    else:
        table, has_header = _parse_delimited(content, path, header)
    if table.empty:
        raise DataError(f"No data rows in {path}. Check that it is the right file.")
    text_name, label_name = _pick_columns(table, path, text_col, label_col, has_header)
    extras = [c for c in table.columns if c not in (text_name, label_name)]
    frame = table[[text_name, label_name] + extras].copy()
    frame.columns = ["text", "label"] + [c if c not in ("text", "label") else f"{c}_orig" for c in extras]
    frame["text"] = frame["text"].str.strip()
    frame["label"] = frame["label"].str.strip()
    frame = _drop_empty(frame, path)
    n_classes = frame["label"].nunique()
    shown = ", ".join(_sorted_labels(frame["label"].unique())[:10]) + (", ..." if n_classes > 10 else "")
    print(
        f"{path.name}: text={text_name!r}, label={label_name!r} ({n_classes} classes: {shown}), {len(frame):,} rows"
    )
    return frame.reset_index(drop=True), path.name


def _decode(path: Path) -> str:
    """File bytes -> text: UTF-8 (with or without BOM), UTF-16 with a BOM, else GB18030."""
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" export is UTF-16
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")  # also strips the BOM that Excel puts in UTF-8 CSVs
    except UnicodeDecodeError as err:
        utf8_error = err
    try:
        content = raw.decode("gb18030")  # the usual encoding of Chinese files saved on Windows
    except UnicodeDecodeError:
        content = None
    if content is not None and _looks_chinese(content):
        print(
            f"{path.name}: not UTF-8; decoded as gb18030 (Chinese). Re-save it as UTF-8 to avoid surprises."
        )
        return content
    raise DataError(
        f"{path} is not UTF-8 (byte {utf8_error.start} cannot be decoded) nor Chinese GB18030. "
        "Re-save it as UTF-8 (e.g. in a text editor or Excel: 'CSV UTF-8')."
    )


def _looks_chinese(content: str) -> bool:
    """True if most non-ASCII characters are CJK (a Latin-1 file can decode as nonsense)."""
    non_ascii = [ch for ch in content if ord(ch) > 127]
    cjk = sum(
        1
        for ch in non_ascii
        if "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"
    )
    return bool(non_ascii) and cjk >= 0.8 * len(non_ascii)


def _parse_json(content: str, path: Path) -> pd.DataFrame:
    """JSON Lines (one object per line) or a JSON list of objects; values become strings."""
    stripped = content.lstrip()
    records = []
    if stripped.startswith("["):
        try:
            records = json.loads(content)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}. Fix that line."
            )
    else:
        for lineno, line in enumerate(content.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise DataError(
                        f"{path} line {lineno} is not valid JSON: {err.msg} (column {err.colno}). Fix that line."
                    )
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(
                f'{path}: record {i} is a {type(record).__name__}, expected an object like {{"text": ..., "label": ...}}.'
            )
    table = pd.DataFrame.from_records(records)
    return table.map(lambda v: "" if v is None else str(v)) if not table.empty else table


def _parse_delimited(content: str, path: Path, header: bool | None) -> tuple[pd.DataFrame, bool]:
    sep = _delimiter(content, path)
    try:
        # dtype=str + keep_default_na=False: labels stay "1" (not 1.0) and a text "NA" stays text.
        table = pd.read_csv(io.StringIO(content), sep=sep, header=None, dtype=str, keep_default_na=False)
        table = table.fillna("")  # short rows get empty cells
    except pd.errors.ParserError as err:
        detail = str(err).strip().splitlines()[-1]
        raise DataError(
            f"{path} cannot be read as a {_SEP_NAMES[sep]}-separated table: {detail}. "
            "Quote texts that contain the delimiter, or fix that line."
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty. Check the path or re-export the file.")
    first = [str(v).strip() for v in table.iloc[0]]
    if header is None:
        header = _looks_like_header(first, table.iloc[1:1001])
    if header:
        table = table.iloc[1:].reset_index(drop=True)
        table.columns = _unique_names(first)
    else:
        table.columns = [f"col{j}" for j in range(table.shape[1])]
    return table, header


_SEP_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


def _delimiter(content: str, path: Path) -> str:
    """The extension's delimiter if the first line has it, else the one the lines agree on."""
    expected = {".csv": ",", ".tsv": "\t", ".tab": "\t"}.get(path.suffix.lower())
    lines = [line for line in content.splitlines()[:20] if line.strip()]
    if not lines:
        raise DataError(f"{path} is empty. Check the path or re-export the file.")
    if expected and expected in lines[0]:
        return expected
    for sep in ("\t", ",", ";", "|"):  # a delimiter that every line has the same number of times
        counts = {line.count(sep) for line in lines}
        if len(counts) == 1 and counts != {0}:
            return sep
    return expected or max(_SEP_NAMES, key=lambda s: lines[0].count(s))


def _looks_like_header(first: list, rest: pd.DataFrame) -> bool:
    """Guess whether the first row holds column names rather than data."""
    known = set(TEXT_COLUMN_NAMES) | set(LABEL_COLUMN_NAMES)
    if any(cell.lower() in known for cell in first):
        return True
    for j, cell in enumerate(first):
        column = rest.iloc[:, j].str.strip()
        if column.empty:
            continue
        if _all_numeric(column) and not _all_numeric(pd.Series([cell])):
            return True  # e.g. "stars" above 1..5
        values = set(column)
        if len(values) <= MAX_CATEGORIES and len(column) >= 2 * len(values):
            return cell not in values  # a category column: a name is not one of its values
    return all(len(cell) <= 32 and not _all_numeric(pd.Series([cell])) for cell in first)


def _all_numeric(values: pd.Series) -> bool:
    return bool(pd.to_numeric(values, errors="coerce").notna().all())


def _unique_names(names: list) -> list:
    seen: dict = {}
    out = []
    for name in names:
        name = name or "unnamed"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _pick_columns(table, path, text_col, label_col, has_header) -> tuple[str, str]:
    columns = list(table.columns)
    found = ", ".join(map(str, columns)) + ("" if has_header else " (no header row)")

    def resolve(wanted, role):
        if isinstance(wanted, int) and not isinstance(wanted, bool):
            if 0 <= wanted < len(columns):
                return columns[wanted]
        elif wanted is not None:
            for c in columns:
                if str(c).strip().lower() == str(wanted).strip().lower():
                    return c
        else:
            return None
        raise DataError(
            f"{path.name} has no column {wanted!r}; columns found: {found}. Pass {role}= with one of them."
        )

    def by_name(names, exclude):
        for name in names:
            for c in columns:
                if c != exclude and str(c).strip().lower() == name:
                    return c
        return None

    label = resolve(label_col, "label_col") or by_name(LABEL_COLUMN_NAMES, None)
    text = resolve(text_col, "text_col") or by_name(TEXT_COLUMN_NAMES, label)
    if text is None:
        candidates = [c for c in columns if c != label]
        if not candidates:
            raise DataError(f"{path.name} has no text column; columns found: {found}. Pass text_col=.")
        text = max(candidates, key=lambda c: table[c].str.len().mean())
    if label is None and not has_header:
        # Without names, the label is the column with the fewest distinct values.
        candidates = [c for c in columns if c != text and table[c].nunique() <= MAX_CATEGORIES]
        label = min(candidates, key=lambda c: table[c].nunique(), default=None)
    if label is None or label == text:
        raise DataError(
            f"{path.name} has no label column (looked for {', '.join(LABEL_COLUMN_NAMES)}); "
            f"columns found: {found}. Pass label_col=."
        )
    return text, label


def _drop_empty(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Drop rows with an empty text or label if they are few; refuse if they are many."""
    keep = np.ones(len(frame), dtype=bool)
    for column in ("text", "label"):
        empty = (frame[column] == "").to_numpy()
        n = int(empty.sum())
        if n == 0:
            continue
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(empty)[:5]) + (", ..." if n > 5 else "")
        what = f"{path.name}: {n:,} of {len(frame):,} rows have an empty {column} (data rows {rows}; row 1 = first data row)"
        if n / len(frame) > MAX_EMPTY_FRACTION:
            raise DataError(
                f"{what}, more than {MAX_EMPTY_FRACTION:.0%}. Check text_col/label_col, or clean the file."
            )
        print(f"{what}; dropped them.")
        keep &= ~empty
    return frame[keep]


def _sorted_labels(values) -> list:
    """Numbers numerically ("2" before "10"), anything else alphabetically."""
    values = [str(v) for v in values]
    if _all_numeric(pd.Series(values, dtype=str)):
        return sorted(values, key=float)
    return sorted(values)


def _classes(frame: pd.DataFrame, labels, source: str) -> list:
    present = _sorted_labels(frame["label"].unique())
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
                f"{source} has no row with label {missing[0]!r} from labels=. Remove it from labels= or add data."
            )
    if len(classes) < 2:
        raise DataError(
            f"{source} has a single class ({classes[0]!r}): a classifier needs at least two. "
            "Check label_col= and the file."
        )
    return classes


def _check_eval_labels(frame: pd.DataFrame, classes: list, eval_source: str, train_source: str) -> None:
    for value in _sorted_labels(frame["label"].unique()):
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
# Stratified, seeded sampling and splitting (every class is cut on its own)
# ---------------------------------------------------------------------------------------
def _allocate(n: int, fractions) -> list:
    """Split n items by fractions with whole numbers (largest remainder), part 0 gets >= 1."""
    exact = [n * f for f in fractions]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    if n and counts[0] == 0:
        donor = max(range(1, len(counts)), key=lambda i: counts[i])
        counts[donor] -= 1
        counts[0] += 1
    return counts


def _stratified_split(frame: pd.DataFrame, fractions, seed: int, source: str) -> list:
    """Cut each class by `fractions`; the parts keep file order."""
    rng = np.random.default_rng(seed)
    parts: list = [[] for _ in fractions]
    for value in _sorted_labels(frame["label"].unique()):
        rows = rng.permutation(np.flatnonzero((frame["label"] == value).to_numpy()))
        start = 0
        for part, count in zip(parts, _allocate(len(rows), fractions)):
            part.extend(rows[start : start + count])
            start += count
    if any(len(part) == 0 for part in parts):
        smallest = frame["label"].value_counts().min()
        raise DataError(
            f"{source}: too few rows ({len(frame)}, smallest class {smallest}) to split "
            f"{_ratio(fractions)} into non-empty parts. Add rows, raise max_rows, or pass eval_file=."
        )
    return [frame.iloc[sorted(part)].reset_index(drop=True) for part in parts]


def _stratified_sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most max_rows rows with the same class balance (each class keeps >= 1 row)."""
    if len(frame) <= max_rows:
        return frame
    rng = np.random.default_rng(seed)
    counts = frame["label"].value_counts()
    quota = {value: max(1, round(n * max_rows / len(frame))) for value, n in counts.items()}
    while sum(quota.values()) > max_rows:  # rounding up small classes can overshoot by a few
        quota[max(quota, key=quota.get)] -= 1
    keep = []
    for value in _sorted_labels(counts.index):
        rows = np.flatnonzero((frame["label"] == value).to_numpy())
        keep.extend(rng.choice(rows, size=quota[value], replace=False))
    return frame.iloc[sorted(keep)].reset_index(drop=True)


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
    if not 0 < keep_fraction <= 1:
        raise ConfigError(f"keep_fraction must be in (0, 1], got {keep_fraction!r}.")
    class_id = minority_class
    if not isinstance(minority_class, (int, np.integer)):
        if classes is None or str(minority_class) not in [str(c) for c in classes]:
            raise ConfigError(
                f"Unknown minority_class {minority_class!r}. Pass a label id, or a name with classes=data.classes."
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
            f"Label id {int(ids.max())} does not fit num_classes={k}. Pass the number of classes (data.num_labels)."
        )
    counts = np.bincount(ids, minlength=k)
    missing = [c for c in range(k) if counts[c] == 0]
    if missing:
        raise DataError(
            f"Class id {missing[0]} has no rows, so it has no weight. Check the split or num_classes."
        )
    return torch.tensor(ids.size / (k * counts), dtype=torch.float32)
