"""Guards for the hand-written text samples in data_samples/sentiment/.

These files are data, not code, so nothing else would notice an accidental edit: a lost
quote that merges two rows, a label typo ("postive"), a duplicated sentence, an unbalanced
class, or a README whose counts no longer match.  Each test checks one such property.
"""

import csv
import re
from pathlib import Path

import pandas as pd
import pytest

DATA_DIR = Path(__file__).resolve().parent.parent / "data_samples" / "sentiment"
README = DATA_DIR / "README.md"

SENTIMENT_LABELS = {"positive", "negative"}
KINDS = {"plain", "negation", "contrast", "sarcasm", "mixed", "intensifier", "comparative"}

# file name -> (columns, minimum rows, allowed labels, language)
SPECS = {
    "sentiment_en.csv": (["text", "label", "kind"], 320, SENTIMENT_LABELS, "en"),
    "sentiment_zh.csv": (["text", "label", "kind"], 320, SENTIMENT_LABELS, "zh"),
}
SENTIMENT_FILES = ["sentiment_en.csv", "sentiment_zh.csv"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def load(name: str) -> pd.DataFrame:
    # keep_default_na=False: an empty cell stays "" instead of becoming NaN, so the
    # emptiness test below sees it; dtype=str: no column is silently turned into numbers.
    return pd.read_csv(DATA_DIR / name, dtype=str, keep_default_na=False)


def normalise(text: str) -> str:
    """Lower-case, drop spaces and punctuation: catches duplicates that differ only in those."""
    return re.sub(r"[\W_]+", "", text.lower())


@pytest.mark.parametrize("name", SPECS)
def test_file_is_utf8_without_bom(name):
    raw = (DATA_DIR / name).read_bytes()
    raw.decode("utf-8")  # raises UnicodeDecodeError on invalid bytes
    assert not raw.startswith(b"\xef\xbb\xbf"), f"{name} starts with a BOM"
    assert b"\r" not in raw, f"{name} has Windows line endings"


@pytest.mark.parametrize("name", SPECS)
def test_every_csv_row_has_the_right_number_of_fields(name):
    columns = SPECS[name][0]
    with open(DATA_DIR / name, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, strict=True))
    assert rows[0] == columns
    bad = [i + 1 for i, row in enumerate(rows) if len(row) != len(columns)]
    assert not bad, f"{name}: lines {bad[:5]} do not have {len(columns)} fields (a quoting mistake?)"


@pytest.mark.parametrize("name", SPECS)
def test_columns_and_row_count(name):
    columns, min_rows, _, _ = SPECS[name]
    df = load(name)
    assert list(df.columns) == columns
    assert len(df) >= min_rows


@pytest.mark.parametrize("name", SPECS)
def test_only_allowed_labels_and_classes_balanced(name):
    allowed = SPECS[name][2]
    counts = load(name)["label"].value_counts()
    assert set(counts.index) == allowed, f"{name}: labels {sorted(counts.index)}"
    assert counts.max() - counts.min() <= 1, f"{name}: unbalanced {counts.to_dict()}"


@pytest.mark.parametrize("name", SPECS)
def test_no_empty_padded_or_duplicate_texts(name):
    texts = load(name)["text"]
    assert (texts.str.strip() != "").all(), f"{name} has an empty text"
    assert (texts == texts.str.strip()).all(), f"{name} has a text with surrounding spaces"
    assert not texts.str.contains("\n").any(), f"{name} has a text with a line break"
    dupes = texts[texts.map(normalise).duplicated(keep=False)]
    assert dupes.empty, f"{name} has duplicates: {dupes.tolist()[:4]}"


@pytest.mark.parametrize("name", SPECS)
def test_texts_are_in_the_right_language(name):
    language = SPECS[name][3]
    has_cjk = load(name)["text"].map(lambda t: bool(CJK.search(t)))
    if language == "zh":
        assert has_cjk.all(), "a row in the Chinese file has no Chinese characters"
        # Chinese text uses full-width punctuation (，？：); an ASCII comma here is a typo.
        ascii_punct = load(name)["text"].str.contains(r"[\u4e00-\u9fff][,;:?!]")
        assert not ascii_punct.any(), f"{name}: ASCII punctuation after a Chinese character"
    else:
        assert not has_cjk.any(), "a row in the English file has Chinese characters"


@pytest.mark.parametrize("name", SENTIMENT_FILES)
def test_sentiment_kinds(name):
    df = load(name)
    assert set(df["kind"]) == KINDS, f"{name}: kinds {sorted(set(df['kind']))}"
    # Both labels in every kind, so that `kind` alone cannot predict `label`.
    labels_per_kind = df.groupby("kind")["label"].nunique()
    assert (labels_per_kind == 2).all(), labels_per_kind.to_dict()
    # About half plain sentences, the rest hard cases.
    plain_share = (df["kind"] == "plain").mean()
    assert 0.45 <= plain_share <= 0.65, f"{name}: {plain_share:.0%} plain"


def test_english_sentiment_lengths():
    words = load("sentiment_en.csv")["text"].str.split().str.len()
    assert words.min() >= 4 and words.max() <= 40


@pytest.mark.parametrize("name", SPECS)
def test_readme_file_table_matches_the_data(name):
    df = load(name)
    readme = README.read_text(encoding="utf-8")
    assert f"| `{name}` | {len(df)} |" in readme, f"README row count for {name} is out of date"
    for label, count in df["label"].value_counts().items():
        assert f"`{label}` {count}" in readme, f"README count of {label} in {name} is out of date"


@pytest.mark.parametrize("name", SENTIMENT_FILES)
def test_readme_kind_table_matches_the_data(name):
    table = pd.crosstab(load(name)["kind"], load(name)["label"])
    readme = README.read_text(encoding="utf-8")
    for kind, row in table.iterrows():
        line = f"| {kind} | {row['positive']} | {row['negative']} | {row.sum()} |"
        assert line in readme, f"README kind table is out of date for {name}: expected {line!r}"
