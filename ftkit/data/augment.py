"""Text augmentation that needs no model and no download: word masking, deletion and swaps.

    bigger = augment_texts(train, method="mask", share=0.15, copies=1, mask_token=tokenizer.mask_token)

Seed 002 (step 2) and seed 003 (2.1.1) name four ways to grow a small text set: back-translation,
random masking, synonym replacement and sentence reordering.  Back-translation needs two translation
models and synonym replacement a thesaurus (WordNet is not bundled with nltk; the data is a separate
download), so an offline kit can only do the cheap, label-keeping edits below.  Each edit keeps the
row's label: a masked or shuffled review is assumed to mean the same thing, which is the bet every
augmentation makes (and which fails for "not good" -> "[MASK] good").

A "word" is a run of non-space characters; a text without spaces (Chinese) is cut into characters.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..checks import check_choice, check_int, is_number
from ..errors import ConfigError, DataError

__all__ = ["augment_texts", "augment_text", "METHODS"]

METHODS = ("mask", "delete", "swap")


def _check_share(share) -> None:
    if isinstance(share, bool) or not is_number(share) or not math.isfinite(share) or not 0 <= share <= 1:
        raise ConfigError(f"share must be a number from 0 to 1 (the share of words to edit), got {share!r}.")


def _words(text: str) -> tuple[list, str]:
    """The text's words and the string that joins them back (characters for text without spaces)."""
    words = text.split()
    if len(words) == 1 and len(text.strip()) > 1:
        return list(text.strip()), ""
    return words, " "


def augment_text(text: str, method: str, share: float, rng: np.random.Generator, mask_token="[MASK]") -> str:
    """One edited copy of `text`: round(share x words) words masked, deleted or swapped.

    "mask" replaces the chosen words by `mask_token` (a BERT tokenizer's `mask_token`, so the
    model reads its own [MASK] piece); "delete" drops them (at least one word is kept); "swap"
    exchanges each chosen word with a random other word of the text.
    """
    check_choice("method", method, METHODS)
    _check_share(share)
    if not isinstance(text, str):
        raise DataError(f"augment_text needs a string, got {type(text).__name__}: {text!r}.")
    words, sep = _words(text)
    k = round(share * len(words))
    if method == "delete":
        k = min(k, len(words) - 1)
    if k <= 0 or len(words) < 2 and method == "swap":
        return text
    chosen = rng.choice(len(words), size=k, replace=False)
    if method == "mask":
        for i in chosen:
            words[i] = mask_token
    elif method == "delete":
        drop = set(chosen.tolist())
        words = [w for i, w in enumerate(words) if i not in drop]
    else:
        for i in chosen:
            j = int(rng.integers(len(words) - 1))
            j += j >= i  # another position than i
            words[i], words[j] = words[j], words[i]
    return sep.join(words)


def augment_texts(
    frame: pd.DataFrame,
    method: str = "mask",
    share: float = 0.15,
    copies: int = 1,
    seed: int = 0,
    mask_token: str = "[MASK]",
) -> pd.DataFrame:
    """The rows of `frame` followed by `copies` edited copies of each (same label, other columns kept).

    A new frame is returned (the input is not changed), with a column `augmented` (False for the
    originals).  Same `seed`, same copies.  `share` is the share of each text's words edited (0 to 1).
    """
    check_choice("method", method, METHODS)
    _check_share(share)
    check_int("copies", copies, minimum=1)
    check_int("seed", seed, minimum=0)
    if not isinstance(mask_token, str) or not mask_token:
        raise ConfigError(
            f"mask_token must be a non-empty string such as tokenizer.mask_token, got {mask_token!r}."
        )
    if not isinstance(frame, pd.DataFrame) or "text" not in frame:
        raise DataError("augment_texts needs a DataFrame with a 'text' column (e.g. data.train).")
    rng = np.random.default_rng(seed)
    originals = frame.assign(augmented=False)
    parts = [originals]
    for _ in range(copies):
        edited = [augment_text(t, method, share, rng, mask_token) for t in frame["text"]]
        parts.append(frame.assign(text=edited, augmented=True))
    return pd.concat(parts, ignore_index=True)
