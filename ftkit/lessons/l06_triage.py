"""Lesson 06 (`notebooks/06_triage_case.ipynb`): the seed's triage case study, step by step.

The data is MADE UP for teaching (`data_samples/triage/`), the labels were written by non-clinicians:
nothing here is medical advice, and a real triage model needs clinical validation.
Generic tools live in `ftkit.data.clean` (cleaning, personal data, duplicates) and
`ftkit.metrics_thresholds` (ROC/PR, thresholds); this file only glues them into the lesson.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.clean import anonymise, careful_clean, find_duplicates, short_texts
from ..errors import ConfigError, DataError
from .l03_sentiment import freezing_strategies  # lesson 06 builds on lesson 03's freezing strategies

__all__ = [
    "TRIAGE_LABELS",
    "TRIAGE_DIR",
    "sample_file",
    "read_triage",
    "CleaningReport",
    "clean_table",
    "stratified_split",
    "to_text_data",
    "oversample",
    "seed_clean_text",
    "punctuation_damage",
    "bag_of_words_f1",
    "lr_schedules",
    "seed_best_metric_crash",
    "freeze_lower_half",
    "lora_parameter_count",
    "SEED_RESULTS",
    "results_row",
    "worst_mistakes",
    "second_labels",
]

TRIAGE_LABELS = ["urgent", "soon", "routine"]  # most to least urgent; the order of the class ids
TRIAGE_DIR = Path(__file__).resolve().parents[2] / "data_samples" / "triage"
# The seed article's reported results (its section 3.4); its "misjudgement under 5 %" is 95 %+ accuracy,
# which its own 92.3 % accuracy contradicts.
SEED_RESULTS = {
    "model": "roberta-base + LoRA (seed article)",
    "accuracy": 0.923,
    "macro_f1": 0.918,
    "urgent_recall": None,
    "trainable %": None,
    "time": "2 h on an RTX 3090",
}


def sample_file(language: str = "en") -> Path:
    """The lesson's made-up triage table: `triage_en.csv` or `triage_zh.csv` (found from the kit's folder)."""
    if language not in ("en", "zh"):
        raise ConfigError(f"LANGUAGE must be 'en' or 'zh', got {language!r}.")
    return TRIAGE_DIR / f"triage_{language}.csv"


def read_triage(path, labels=TRIAGE_LABELS) -> pd.DataFrame:
    """Read a triage CSV (columns `text`, `label`, optionally `id`) and check it before any work."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Triage file not found: {path}. Check TRAIN_FILE (None uses the kit's sample).")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path.name} is empty. Pass a CSV with a header row 'text,label' and data rows."
        ) from None
    except pd.errors.ParserError as err:
        raise DataError(
            f"{path.name} is not a readable CSV ({str(err).strip().splitlines()[-1]}). "
            "Quote texts that contain commas."
        ) from None
    missing = [c for c in ("text", "label") if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path.name} has no {missing[0]!r} column (columns: {', '.join(frame.columns)}). "
            "Rename the columns to text,label."
        )
    if frame.empty:
        raise DataError(f"{path.name} has a header but no data rows. Add labelled messages.")
    frame["label"] = frame["label"].str.strip()
    unknown = sorted(set(frame["label"]) - set(labels))
    if unknown:
        row = int(np.flatnonzero((frame["label"] == unknown[0]).to_numpy())[0]) + 2  # +1 header, +1 from 1
        raise DataError(
            f"{path.name} line {row}: unknown label {unknown[0]!r}; allowed: {', '.join(labels)}. "
            "Fix the label or pass labels=."
        )
    if frame["label"].nunique() < 2:
        raise DataError(
            f"{path.name} has one class only ({frame['label'].iloc[0]!r}): a classifier needs at "
            "least two. Check the label column."
        )
    if "id" not in frame:
        frame.insert(0, "id", [f"row{i + 2}" for i in range(len(frame))])
    return frame[["id", "text", "label"]].reset_index(drop=True)


# ---- step 1: cleaning ---------------------------------------------------------------------------
@dataclass
class CleaningReport:
    """What `clean_table` found and removed, row ids included, so each decision can be checked."""

    rows_in: int
    too_short: list = field(default_factory=list)  # ids of empty / one-word rows (dropped)
    duplicate_pairs: int = 0  # exact + near pairs among the remaining rows
    duplicates_dropped: list = field(default_factory=list)  # ids: later copies of a message (first kept)
    conflicts: list = field(default_factory=list)  # ids of copies with different labels (all dropped)
    pii_rows: int = 0
    pii_found: int = 0  # pieces of personal data replaced
    pii_kinds: dict = field(default_factory=dict)
    rows_out: int = 0

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                ("rows read", self.rows_in),
                ("empty or one-word rows dropped", len(self.too_short)),
                ("rows whose personal data was replaced", self.pii_rows),
                ("pieces of personal data replaced", self.pii_found),
                ("contradictory copies dropped (labels differ)", len(self.conflicts)),
                ("duplicate pairs found (exact or near)", self.duplicate_pairs),
                ("duplicate copies dropped (first kept)", len(self.duplicates_dropped)),
                ("rows left", self.rows_out),
            ],
            columns=["step", "rows"],
        ).set_index("step")


def _groups(n: int, pairs) -> list[int]:
    """Union-find: the group representative (smallest index) of each of n rows, given linked pairs."""
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        a, b = root(i), root(j)
        parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(n)]


def clean_table(frame: pd.DataFrame, threshold: float = 0.9) -> tuple[pd.DataFrame, CleaningReport]:
    """careful_clean -> anonymise -> drop short rows -> drop every copy of a contradictory message ->
    keep the first of each group of duplicates. Returns (clean frame, report)."""
    report = CleaningReport(rows_in=len(frame))
    df = frame.copy()
    df["text"] = [careful_clean(t) for t in df["text"]]
    anonymised = [anonymise(t) for t in df["text"]]
    df["text"] = [a for a, _ in anonymised]
    kinds = pd.Series([m.kind for _, found in anonymised for m in found], dtype=str)
    report.pii_rows = sum(bool(found) for _, found in anonymised)
    report.pii_found, report.pii_kinds = len(kinds), kinds.value_counts().to_dict()
    short = short_texts(df["text"])
    report.too_short = df["id"].iloc[short].tolist()
    df = df.drop(index=df.index[short]).reset_index(drop=True)
    pairs = find_duplicates(df["text"], threshold)
    report.duplicate_pairs = len(pairs)
    group = np.asarray(_groups(len(df), zip(pairs["i"], pairs["j"], strict=True)))
    mixed = {g for g in set(group) if df["label"][group == g].nunique() > 1}
    conflict = np.isin(group, list(mixed))
    report.conflicts = df["id"][conflict].tolist()
    later_copy = (group != np.arange(len(df))) & ~conflict
    report.duplicates_dropped = df["id"][later_copy].tolist()
    df = df[~conflict & ~later_copy].reset_index(drop=True)
    report.rows_out = len(df)
    return df, report


# ---- step 4: splits and imbalance ---------------------------------------------------------------
def stratified_split(frame: pd.DataFrame, seed: int = 0, sizes=(0.7, 0.15, 0.15)) -> dict:
    """train / val / test with the same class shares in each (scikit-learn, stratified twice; the
    seed article forgets `stratify=` in its second split, so its val and test shares drift)."""
    from sklearn.model_selection import train_test_split

    if len(sizes) != 3 or abs(sum(sizes) - 1) > 1e-9 or min(sizes) <= 0:
        raise ConfigError(f"sizes must be three positive shares adding up to 1, got {sizes!r}.")
    counts = frame["label"].value_counts()
    if counts.min() < 3:
        raise DataError(
            f"Class {counts.idxmin()!r} has {counts.min()} row(s): a stratified 3-way split needs >= 3."
        )
    train, rest = train_test_split(
        frame, test_size=sizes[1] + sizes[2], random_state=seed, stratify=frame["label"]
    )
    val, test = train_test_split(
        rest, test_size=sizes[2] / (sizes[1] + sizes[2]), random_state=seed, stratify=rest["label"]
    )
    return {
        name: part.reset_index(drop=True) for name, part in (("train", train), ("val", val), ("test", test))
    }


def to_text_data(splits: dict, labels=TRIAGE_LABELS, max_train_rows: int | None = None, seed: int = 0):
    """The kit's `TextData` (integer labels, `to_hf(tokenizer)`) from string-labelled splits.
    `max_train_rows` caps the training split (smoke profile), stratified; val and test stay whole."""
    from ..data.text import TextData

    label2id = {name: i for i, name in enumerate(labels)}
    parts = {}
    for name, part in splits.items():
        part = part.assign(label=part["label"].map(label2id).astype("int64"))
        if name == "train" and max_train_rows and len(part) > max_train_rows:
            from sklearn.model_selection import train_test_split

            part = train_test_split(
                part, train_size=max_train_rows, random_state=seed, stratify=part["label"]
            )[0]
            part = part.sort_index().reset_index(drop=True)
        parts[name] = part
    return TextData(train=parts["train"], val=parts["val"], test=parts["test"], classes=list(labels))


def oversample(train: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Repeat rows of the smaller classes (drawn with replacement) until every class is as large as the
    largest. Text cannot be interpolated like SMOTE's numeric features: copies are the honest version."""
    rng = np.random.default_rng(seed)
    top = train["label"].value_counts().max()
    parts = [train]
    for label, n in train["label"].value_counts().items():
        rows = np.flatnonzero((train["label"] == label).to_numpy())
        parts.append(train.iloc[rng.choice(rows, size=top - n, replace=True)])
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


# ---- step 2: cleaning that hurts ----------------------------------------------------------------
_SIGNALS = {
    "question mark": r"[?？]",
    "exclamation mark": r"[!！]",
    "decimal or reading (38.5, 220/130)": r"\d[./]\d",
    "negation n't": r"n't\b",
    "Chinese comma or full stop": r"[，。]",
}


def seed_clean_text(text: str) -> str:
    """The seed article's `clean_text`, unchanged: tags out, spaces squeezed, then EVERY character that
    is not a letter, digit, underscore or space removed (`[^\\w\\s]`): "?", "!", "38.5", "n't", "，"..."""
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"[^\w\s]", "", text)


def punctuation_damage(texts) -> pd.DataFrame:
    """Rows holding each kind of signal, and how many of them the seed's `[^\\w\\s]` stripper changes."""
    rows = []
    for name, pattern in _SIGNALS.items():
        holding = [t for t in texts if re.search(pattern, t)]
        lost = sum(not re.search(pattern, seed_clean_text(t)) for t in holding)
        kept = sum(bool(re.search(pattern, careful_clean(t))) for t in holding)
        rows.append(
            {
                "signal": name,
                "rows with it": len(holding),
                "lost by seed_clean_text": lost,
                "kept by careful_clean": kept,
            }
        )
    return pd.DataFrame(rows).set_index("signal")


def bag_of_words_f1(train: pd.DataFrame, test: pd.DataFrame, cleaner, seed: int = 0) -> float:
    """Macro-F1 of a TF-IDF (character 1-4-grams) + logistic regression model after `cleaner`: a
    seconds-long measurement of what a cleaning step does to the signal (same split, same model)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=False),
        LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed),
    )
    model.fit([cleaner(t) for t in train["text"]], train["label"])
    return float(f1_score(test["label"], model.predict([cleaner(t) for t in test["text"]]), average="macro"))


# ---- step 3: annotation --------------------------------------------------------------------------
def second_labels(frame: pd.DataFrame, path=None) -> pd.DataFrame:
    """The rows of `frame` that a second reader labelled: id, text, label_a (the file), label_b."""
    path = Path(path or TRIAGE_DIR / "second_labels.csv")
    second = _read_second_labels(path)
    merged = frame.merge(second, on="id", suffixes=("_a", "_b"))
    if merged.empty:
        raise DataError(f"No id of {path.name} is in the table. Pass the second label set of the same file.")
    return merged[["id", "text", "label_a", "label_b"]]


def _read_second_labels(path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Second label file not found: {path}.")
    second = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(second.columns[:2]) != ["id", "label"]:
        raise DataError(f"{path.name} must have the columns id,label; got {', '.join(second.columns)}.")
    return second


# ---- step 5: the recipe --------------------------------------------------------------------------
def lr_schedules(total_steps: int, warmup: float = 0.1, lr: float = 1e-4) -> pd.DataFrame:
    """The learning rate at every step under linear and cosine decay after the same warm-up
    (transformers' own schedulers on a throw-away optimizer)."""
    import torch

    import ftkit

    ftkit.ensure_torchvision()  # before transformers (see ftkit's compat module)
    from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

    if not isinstance(total_steps, int) or total_steps < 2:
        raise ConfigError(f"total_steps must be an integer >= 2, got {total_steps!r}.")
    out = {}
    for name, make in (
        ("linear", get_linear_schedule_with_warmup),
        ("cosine", get_cosine_schedule_with_warmup),
    ):
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=lr)
        sched = make(opt, num_warmup_steps=int(warmup * total_steps), num_training_steps=total_steps)
        rates = []
        for _ in range(total_steps):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        out[name] = rates
    return pd.DataFrame(out).rename_axis("step")


def seed_best_metric_crash(model, tokenizer, ds, output_dir) -> str:
    """Run the seed's settings for one step: `metric_for_best_model="f1"` with no `compute_metrics`.
    Returns the error the Trainer raises at the first evaluation (the model is not changed for good:
    pass a throw-away copy)."""
    import ftkit

    ftkit.ensure_torchvision()  # before transformers (see ftkit's compat module)
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=1,
        eval_strategy="steps",
        eval_steps=1,
        save_strategy="steps",
        save_steps=1,
        load_best_model_at_end=True,
        metric_for_best_model="f1",
        report_to="none",
        disable_tqdm=True,
        per_device_train_batch_size=4,
        save_only_model=True,
        use_cpu=True,
    )
    small = ds["train"].select(range(min(4, len(ds["train"]))))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=small,
        eval_dataset=small,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    try:
        trainer.train()
    except KeyError as err:
        return f"{type(err).__name__}: {str(err).strip(chr(34)).splitlines()[0][:300]}"
    return "no error: this transformers version accepted it"


def freeze_lower_half(model) -> str:
    """Freeze the embeddings and the lower half of the encoder layers (the seed's `layer[:6]` of 12)."""
    import ftkit

    layers = model.config.num_hidden_layers
    strategies = freezing_strategies(model, frozen_layers=layers // 2)
    depth = next(d for name, d in strategies.items() if name.startswith("first"))
    ftkit.freeze(model, depth)
    summary = ftkit.trainable_summary(model)
    frozen = f"embeddings + {layers // 2} of {layers} layers frozen"
    return f"{frozen}: {summary.trainable:,} of {summary.total:,} weights train"


def lora_parameter_count(peft_model) -> pd.DataFrame:
    """Trainable weights of a LoRA sequence classifier by part, against the seed's "10,240"."""
    parts = {"LoRA matrices (A and B)": 0, "classifier head (trained in full)": 0, "other": 0}
    for name, p in peft_model.named_parameters():
        if p.requires_grad:
            key = (
                "LoRA matrices (A and B)"
                if "lora_" in name
                else ("classifier head (trained in full)" if "classifier" in name else "other")
            )
            parts[key] += p.numel()
    total = sum(p.numel() for p in peft_model.parameters())
    rows = [(k, v) for k, v in parts.items() if v] + [
        ("trainable in all", sum(parts.values())),
        ("the seed's comment claims", 10_240),
        ("all weights", total),
    ]
    return pd.DataFrame(rows, columns=["part", "weights"]).set_index("part")


# ---- steps 6-8: metrics, mistakes, the results table ----------------------------------------------
def worst_mistakes(texts, y_true, probs, classes, threshold: float, positive: int = 0, n: int = 10):
    """The most confident mistakes (argmax), with p(positive) and whether the threshold rule fixes them."""
    import ftkit

    from ..thresholds import predict_with_threshold

    y_true = np.asarray(y_true)
    pred = probs.argmax(axis=1)
    table = ftkit.mistakes_table(list(texts), y_true, pred, probs, classes, n=n)
    fixed = predict_with_threshold(probs, positive, threshold)[table.index] == y_true[table.index]
    table[f"p({classes[positive]})"] = probs[table.index, positive].round(3)
    table["right with the threshold"] = fixed
    return table


def results_row(
    name: str, y_true, pred, positive: int, trainable: float | None, time_s: float | None
) -> dict:
    """One row of the seed-style results table."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    return {
        "model": name,
        "accuracy": round(float(accuracy_score(y_true, pred)), 3),
        "macro_f1": round(float(f1_score(y_true, pred, average="macro")), 3),
        "urgent_recall": round(
            float(recall_score(np.asarray(y_true) == positive, np.asarray(pred) == positive)), 3
        ),
        "trainable %": None if trainable is None else round(100 * trainable, 2),
        "time": None if time_s is None else f"{time_s:.0f} s",
    }
