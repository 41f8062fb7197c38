"""Splitting and sampling data sets: stratified (every class is cut on its own) and seeded.

`check_split` validates a (train, val, test) split for both image folders and text tables;
`stratified_split` and `stratified_sample` cut a text table's DataFrame.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .text_files import sorted_labels

__all__ = ["check_split", "split_ratio", "stratified_split", "stratified_sample"]


def check_split(split, allow_empty_test: bool = False) -> tuple:
    """Three fractions (train, val, test) adding up to 1 -> a tuple of floats, else a ConfigError.

    Every part must be > 0, except the test part with `allow_empty_test` (an image folder
    split into train and val only)."""
    need = (
        "three fractions (train, val, test) adding up to 1, train and val > 0"
        if allow_empty_test
        else "three positive fractions adding up to 1 (train, val, test)"
    )
    problem = ConfigError(f"split must be {need}, got {split!r}. Use e.g. (0.8, 0.1, 0.1).")
    try:
        fractions = tuple(float(f) for f in split)
    except (TypeError, ValueError):
        raise problem from None
    if len(fractions) != 3 or not all(math.isfinite(f) and f >= 0 for f in fractions):
        raise problem
    if min(fractions[:2] if allow_empty_test else fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise problem
    return fractions


def split_ratio(split) -> str:
    """(0.8, 0.1, 0.1) -> '8:1:1', for printed lines."""
    return ":".join(f"{round(f * 10, 1):g}" for f in split)


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


def stratified_split(frame: pd.DataFrame, fractions, seed: int, source: str) -> list:
    """Cut each class by `fractions`; the parts keep file order."""
    rng = np.random.default_rng(seed)
    parts: list = [[] for _ in fractions]
    for value in sorted_labels(frame["label"].unique()):
        rows = rng.permutation(np.flatnonzero((frame["label"] == value).to_numpy()))
        start = 0
        for part, count in zip(parts, _allocate(len(rows), fractions), strict=True):
            part.extend(rows[start : start + count])
            start += count
    if any(len(part) == 0 for part in parts):
        smallest = frame["label"].value_counts().min()
        raise DataError(
            f"{source}: too few rows ({len(frame)}, smallest class {smallest}) to split "
            f"{split_ratio(fractions)} into non-empty parts. Add rows, raise max_rows, or pass eval_file=."
        )
    return [frame.iloc[sorted(part)].reset_index(drop=True) for part in parts]


def stratified_sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most max_rows rows with the same class balance (each class keeps >= 1 row)."""
    if len(frame) <= max_rows:
        return frame
    rng = np.random.default_rng(seed)
    counts = frame["label"].value_counts()
    quota = {value: max(1, round(n * max_rows / len(frame))) for value, n in counts.items()}
    while sum(quota.values()) > max_rows:  # rounding up small classes can overshoot by a few
        quota[max(quota, key=quota.get)] -= 1
    keep = []
    for value in sorted_labels(counts.index):
        rows = np.flatnonzero((frame["label"] == value).to_numpy())
        keep.extend(rng.choice(rows, size=quota[value], replace=False))
    return frame.iloc[sorted(keep)].reset_index(drop=True)
