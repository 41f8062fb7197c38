"""Before training on a text table: clean carefully, remove personal data, find duplicates and leaks.

    text = careful_clean(raw)                      # HTML debris and odd spaces out, punctuation kept
    safe, found = anonymise(text)                  # "<PERSON>, phone <PHONE>", with what was found
    pairs = find_duplicates(texts)                 # exact and near duplicates (character n-grams)
    leaks = find_leaks({"train": a, "test": b})    # the same message on both sides of a split
    short = short_texts(texts)                     # empty or one-word rows

Personal data: phone numbers come from Google's libphonenumber (the `phonenumbers` package), the rest
from written-down patterns: e-mails, Chinese resident ID numbers (18 digits, checked with their ISO 7064
MOD 11-2 check digit and their birth date), dates with a year, names after a cue ("my name is", "我叫",
"患者" + a common surname), street addresses. Microsoft Presidio is the maintained tool for this, but
its analyzer needs a spaCy language model that it downloads on first use (not possible offline), and
no such model reads Chinese well. Patterns miss what they were not written for (a bare name with no
cue, a phone number in an unusual format): treat `anonymise` as a first pass before a human review.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError

__all__ = [
    "careful_clean",
    "PiiMatch",
    "find_pii",
    "anonymise",
    "cn_id_valid",
    "cn_id_check_digit",
    "normalise_for_dedup",
    "find_duplicates",
    "find_leaks",
    "find_conflicts",
    "short_texts",
]

# ---- cleaning ----------------------------------------------------------------------------------
_TAG = re.compile(r"<[^>]+>")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028-\u202f\u2060\ufeff\x00-\x08\x0b-\x1f\x7f]")


def careful_clean(text: str, nfkc: bool = False) -> str:
    """Remove what carries no meaning and keep what does.

    Out: HTML tags (a `<br>` becomes a space), HTML entities (`&amp;` -> `&`), zero-width and control
    characters, runs of spaces (including the full-width space and the no-break space).
    Kept: all punctuation ("?" and "!" say a lot about urgency, "38.5" and "220/130" are readings,
    "can't" is a negation, "，。？！" mark where a Chinese negation ends), letter case, digits.
    `nfkc=True` also folds full-width characters to their ASCII forms ("？" -> "?", "１" -> "1").
    """
    if not isinstance(text, str):
        raise DataError(
            f"careful_clean expects a string, got {type(text).__name__}. "
            "Convert the column with .astype(str)."
        )
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _INVISIBLE.sub("", text)
    if nfkc:
        text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\u3000\xa0]+", " ", text).strip()


# ---- personal data --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data found in a text: kind, character span and the text itself."""

    kind: str  # PERSON, PHONE, EMAIL, CN_ID, DATE, ADDRESS
    start: int
    end: int
    text: str


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CN_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(
    r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)\d{2}|(?:19|20)\d{2}-\d{1,2}-\d{1,2}"
    rf"|\d{{1,2}} (?:{_MONTHS}) (?:19|20)\d{{2}}|(?:{_MONTHS}) \d{{1,2}}, (?:19|20)\d{{2}})\b"
    r"|(?:19|20)\d{2}年\d{1,2}月\d{1,2}日"
)
_NAME_WORD = r"(?:[A-Z][a-z]*['’][A-Z][a-z]+|[A-Z][a-z]+(?:-[A-Z][a-z]+)?)"  # Emma, O'Neill, Smith-Jones
_NAME_EN = re.compile(
    r"(?:\b(?:[Mm]y name is|[Tt]his is|I am|I'm|[Pp]atient:?|[Nn]ame:)\s+"
    rf"|\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+)({_NAME_WORD}(?:\s+{_NAME_WORD})*)"
)
# The most common Chinese surnames (they cover most of the population): a cue word + surname + 1-2 characters
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_NAME_ZH = re.compile(
    rf"(?:我叫|我是|患者|病人|姓名[:：]?|联系人[:：]?)([{_SURNAMES}][\u4e00-\u9fff]{{1,2}})(?=[，,。：:\s（(]|$)"
)
_STREETS = "Road|Street|Lane|Avenue|Close|Drive|Way|Place|Court|Crescent|Gardens|Terrace"
_ADDRESS = re.compile(
    rf"\b\d{{1,4}}[A-Za-z]? (?:[A-Z][a-z]+ ){{1,3}}(?:{_STREETS})\b(?:, [A-Z][a-z]+)?"
    r"|[\u4e00-\u9fff]{2,3}[省市](?:[\u4e00-\u9fff]{1,6}?[区县市])?[\u4e00-\u9fff]{1,8}?(?:路|街|道|大道)\d{1,5}号"
)
PHONE_REGIONS = ("GB", "US", "CN")  # numbers written without a country code are read as these countries'
MIN_PHONE_DIGITS = 10  # GB, US and CN numbers have 10-11 digits; a blood pressure "165/100" has 6


def cn_id_check_digit(first17: str) -> str:
    """The check character of an 18-digit Chinese resident ID (ISO 7064 MOD 11-2, standard GB 11643)."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def cn_id_valid(number: str) -> bool:
    """Is this an 18-character Chinese resident ID with a real birth date and a correct check digit?"""
    if not re.fullmatch(r"\d{17}[\dXx]", number or ""):
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today() and cn_id_check_digit(number[:17]) == number[17].upper()


def find_pii(text: str, regions=PHONE_REGIONS) -> list[PiiMatch]:
    """Every piece of personal data found in `text`, in order, without overlaps."""
    import phonenumbers

    if not isinstance(text, str):
        raise DataError(f"find_pii expects a string, got {type(text).__name__}.")
    found: list[PiiMatch] = []

    def add(kind, start, end):
        if not any(start < m.end and m.start < end for m in found):
            found.append(PiiMatch(kind, start, end, text[start:end]))

    for m in _EMAIL.finditer(text):
        add("EMAIL", m.start(), m.end())
    for m in _CN_ID.finditer(text):
        if cn_id_valid(m.group(1)):
            add("CN_ID", m.start(1), m.end(1))
    for m in _DATE.finditer(text):
        add("DATE", m.start(), m.end())
    for region in regions:
        for leniency in (phonenumbers.Leniency.VALID, phonenumbers.Leniency.POSSIBLE):
            for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency):
                digits = sum(ch.isdigit() for ch in m.raw_string)
                if leniency == phonenumbers.Leniency.VALID or digits >= MIN_PHONE_DIGITS:
                    add("PHONE", m.start, m.end)  # POSSIBLE: e.g. UK drama numbers 07700 900xxx
    for pattern, kind in ((_NAME_EN, "PERSON"), (_NAME_ZH, "PERSON"), (_ADDRESS, "ADDRESS")):
        for m in pattern.finditer(text):
            group = 1 if pattern.groups else 0
            add(kind, m.start(group), m.end(group))
    return sorted(found, key=lambda m: m.start)


def anonymise(text: str, regions=PHONE_REGIONS) -> tuple[str, list[PiiMatch]]:
    """(`text` with each piece of personal data replaced by `<KIND>`, the matches)."""
    found = find_pii(text, regions)
    for m in reversed(found):
        text = text[: m.start] + f"<{m.kind}>" + text[m.end :]
    return text, found


# ---- duplicates, leaks, conflicts, short rows ----------------------------------------------------
def normalise_for_dedup(text: str) -> str:
    """Lower case, full-width folded, everything but letters and digits removed: "Help!" == "help"."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", str(text)).lower())


def _check_threshold(threshold) -> None:
    if not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ConfigError(
            f"threshold is a cosine similarity in (0, 1], got {threshold!r}. 0.9 finds near copies."
        )


def find_duplicates(texts, threshold: float = 0.9) -> pd.DataFrame:
    """Pairs of rows (i < j) whose texts are the same after `normalise_for_dedup` ("exact") or whose
    character 2-4-gram count vectors have a cosine similarity >= `threshold` ("near").

    Columns: i, j, similarity, kind. Character n-grams work for Chinese (no spaces) and survive typos;
    no idf weighting, so a pair's score does not depend on the rest of the file (one dropped letter
    in a 50-character message scores about 0.94).
    Rows that are empty after normalising are left out (see `short_texts`).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import NearestNeighbors

    _check_threshold(threshold)
    keys = [normalise_for_dedup(t) for t in list(texts)]
    rows = [i for i, k in enumerate(keys) if k]
    columns = ["i", "j", "similarity", "kind"]
    if len(rows) < 2:
        return pd.DataFrame(columns=columns)
    vectors = TfidfVectorizer(analyzer="char", ngram_range=(2, 4), use_idf=False).fit_transform(
        [keys[i] for i in rows]
    )
    nn = NearestNeighbors(metric="cosine", radius=1 - threshold + 1e-9, algorithm="brute").fit(vectors)
    distances, neighbours = nn.radius_neighbors(vectors)
    pairs = []
    for a, (dist, idx) in enumerate(zip(distances, neighbours, strict=True)):
        for d, b in zip(dist, idx, strict=True):
            if b > a:
                i, j = rows[a], rows[b]
                pairs.append((i, j, round(1 - float(d), 4), "exact" if keys[i] == keys[j] else "near"))
    return pd.DataFrame(pairs, columns=columns).sort_values(["i", "j"]).reset_index(drop=True)


def find_leaks(splits: dict, threshold: float = 0.9) -> pd.DataFrame:
    """Duplicate pairs that sit in two different splits: the model is tested on what it trained on.

    `splits`: name -> texts, e.g. {"train": data.train["text"], "test": data.test["text"]}.
    Columns: split_a, row_a, split_b, row_b, similarity, kind, text_a, text_b (rows are positions
    within each split).
    """
    if not isinstance(splits, dict) or len(splits) < 2:
        raise ConfigError(
            "find_leaks needs a dict of at least two splits, e.g. {'train': texts, 'test': texts}."
        )
    names, positions, texts = [], [], []
    for name, part in splits.items():
        part = list(part)
        names += [name] * len(part)
        positions += list(range(len(part)))
        texts += [str(t) for t in part]
    pairs = find_duplicates(texts, threshold)
    out = [
        (names[i], positions[i], names[j], positions[j], s, k, texts[i], texts[j])
        for i, j, s, k in pairs.itertuples(index=False)
        if names[i] != names[j]
    ]
    return pd.DataFrame(
        out, columns=["split_a", "row_a", "split_b", "row_b", "similarity", "kind", "text_a", "text_b"]
    )


def find_conflicts(texts, labels, threshold: float = 0.9) -> pd.DataFrame:
    """Duplicate pairs (exact or near) whose labels differ: label noise, or a message too vague to label.

    Columns: i, j, similarity, kind, label_i, label_j.
    """
    labels = list(labels)
    texts = list(texts)
    if len(labels) != len(texts):
        raise DataError(
            f"find_conflicts got {len(texts)} texts but {len(labels)} labels. Pass one label per text."
        )
    pairs = find_duplicates(texts, threshold)
    pairs["label_i"] = [labels[i] for i in pairs["i"]]
    pairs["label_j"] = [labels[j] for j in pairs["j"]]
    return pairs[pairs["label_i"] != pairs["label_j"]].reset_index(drop=True)


def short_texts(texts, min_chars: int = 5) -> np.ndarray:
    """Positions of rows too short to classify: empty, or under `min_chars` letters/digits/ideographs
    once punctuation and spaces are gone ("help", "?", "疼"), or a single word of a spaced language."""
    out = []
    for i, t in enumerate(texts):
        key = normalise_for_dedup(t)
        cjk = any("\u4e00" <= ch <= "\u9fff" for ch in key)
        if len(key) < min_chars or (not cjk and len(str(t).split()) < 2):
            out.append(i)
    return np.asarray(out, dtype=int)
