"""Reading one labelled text table: CSV / TSV / JSONL file -> DataFrame with `text` and `label`.

`read_labelled(path)` decodes the file (UTF-8, else GB18030 for Chinese files, with a note),
reads it as a table (delimiter from the extension, checked against the first line; header
row guessed from its content unless `header=` says), picks the text and label columns (by
name, else by content), drops a few empty rows (refuses many), and prints one line saying
what it picked.  `load_text_table` in text.py calls it for each file.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["read_labelled", "sorted_labels", "TEXT_COLUMN_NAMES", "LABEL_COLUMN_NAMES"]

# Column names recognised without being told (compared case-insensitively).
TEXT_COLUMN_NAMES = ("text", "sentence", "content", "review", "comment", "query")
LABEL_COLUMN_NAMES = ("label", "labels", "sentiment", "class", "target", "category", "y")

MAX_EMPTY_FRACTION = 0.05  # a few empty rows are noise; more usually means a wrong column
MAX_CATEGORIES = 50  # a headerless column with at most this many values can be the label
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


def read_labelled(path, text_col, label_col, header) -> tuple[pd.DataFrame, str]:
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
    shown = ", ".join(sorted_labels(frame["label"].unique())[:10]) + (", ..." if n_classes > 10 else "")
    print(
        f"{path.name}: text={text_name!r}, label={label_name!r} ({n_classes} classes: {shown}), "
        f"{len(frame):,} rows"
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
                f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}. "
                "Fix that line."
            ) from None
    else:
        for lineno, line in enumerate(content.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise DataError(
                        f"{path} line {lineno} is not valid JSON: {err.msg} (column {err.colno}). "
                        "Fix that line."
                    ) from None
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(
                f"{path}: record {i} is a {type(record).__name__}, expected an object like "
                f'{{"text": ..., "label": ...}}.'
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
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty. Check the path or re-export the file.") from None
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
        what = (
            f"{path.name}: {n:,} of {len(frame):,} rows have an empty {column} "
            f"(data rows {rows}; row 1 = first data row)"
        )
        if n / len(frame) > MAX_EMPTY_FRACTION:
            raise DataError(
                f"{what}, more than {MAX_EMPTY_FRACTION:.0%}. Check text_col/label_col, or clean the file."
            )
        print(f"{what}; dropped them.")
        keep &= ~empty
    return frame[keep]


def sorted_labels(values) -> list:
    """Numbers numerically ("2" before "10"), anything else alphabetically."""
    values = [str(v) for v in values]
    if _all_numeric(pd.Series(values, dtype=str)):
        return sorted(values, key=float)
    return sorted(values)
