"""The made-up triage messages of lesson 06 (`data_samples/triage/`), regenerated from a seed.

    python -m ftkit.samples.triage            # rewrites data_samples/triage/*.csv and planted_defects.json

Made up for teaching, NOT medical advice. Every message is written twice (English and Chinese, the same
row id in both files) from the hand-written pieces in `triage_phrases.py` (complaints) and
`triage_details.py` (people, details) and the 153 hand-written rows of
`legacy_*.csv` (the kit's first triage files). Classes: `urgent` (emergency care now), `soon` (a doctor
within a few days), `routine` (self-care, a routine appointment, or an administrative question).

On purpose, for lesson 06's first step, the files also hold defects, listed by row id in
`planted_defects.json`: exact and near duplicates, one-word and empty texts, contradictory labels
(the same message twice with different labels), HTML debris, and fake personal data (names, phone
numbers, Chinese resident ID numbers with a valid check digit, dates of birth, e-mails, addresses).
`second_labels.csv` is a second, independent reading of 80 rows (for Cohen's kappa).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.clean import cn_id_check_digit
from . import triage_details as D
from . import triage_phrases as P

__all__ = ["TRIAGE_LABELS", "generate_triage", "write_triage"]

TRIAGE_LABELS = ("urgent", "soon", "routine")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "data_samples" / "triage"
COUNTS = {"urgent": 72, "soon": 240, "routine": 230}  # new rows; with the legacy rows urgent is ~16 %
MAX_SIMILARITY = 0.6  # character-trigram Jaccard: a new row this close to an earlier one is drawn again
# legacy "appointment" rows that are routine care rather than "see a doctor within days" (1-based data rows)
LEGACY_ROUTINE = {19, 24, 51, 53, 62, 75, 81, 86, 105, 118, 143, 153}
LEGACY_MAP = {"urgent": "urgent", "appointment": "soon", "self_care": "routine"}
# complaints where a careful second reader could pick the neighbouring class (used by second_labels.csv)
BORDERLINE = {
    "a red, painful eye that hates bright light": "urgent",
    "palpitations that come and go for a few seconds at a time": "routine",
    "pain in the side that comes in waves, but can still eat": "urgent",
    "a fever of 38.5 for three days but still playing": "routine",
    "a sore throat for two days, eating and drinking normally": "soon",
    "a bump on the head from a cupboard door, no vomiting, no drowsiness": "soon",
    "a red, hot patch of skin on the shin that keeps spreading": "urgent",
    "a tick bite with a red ring around it that is getting bigger": "routine",
    "a mild ache in both knees on long walks, for years": "soon",
    "new breathlessness on the stairs this month": "urgent",
    "a swollen, painful knee after a fall yesterday, but can still walk": "routine",
    "a heart rate of 180 with chest tightness, close to fainting": "urgent",
    "a low-grade temperature of 37.4 with a cold, playing happily": "soon",
    "stitches that should have come out two days ago": "routine",
}


# ---- one message ---------------------------------------------------------------------------
def _person(rng):
    """(English subject, Chinese subject, kind, sex): kind is self, baby, child, adult or note."""
    r = rng.random()
    if r < 0.35:
        return "I", "我", "self", ""
    if r < 0.43:
        months = int(rng.integers(2, 12))
        return f"My {months}-month-old baby", f"我家{months}个月大的宝宝", "baby", ""
    en, zh, sex, lo, hi = D.RELATIVES[rng.integers(len(D.RELATIVES))]
    age = int(rng.integers(lo, hi + 1))
    kind = "child" if age < 13 else "adult"
    if r < 0.55:
        sex = sex or ("m" if rng.random() < 0.5 else "f")
        return f"{age}{sex.upper()}", f"{'男' if sex == 'm' else '女'}，{age}岁", "note", sex
    if rng.random() < 0.5:
        return f"My {age}-year-old {en}", f"我{age}岁的{zh}", kind, sex
    return f"My {en} ({age})", f"我{zh}（{age}岁）", kind, sex


def _fits(who: str, kind: str, sex: str) -> bool:
    if kind == "baby":
        return who == "baby"
    return (
        who == ""
        or (who == "child" and kind == "child")
        or (who == "other" and kind != "self")
        or (who in ("f", "m") and sex == who)
    )


def _pick_core(rng, pool, kind, sex):
    fitting = [c for c in pool if _fits(c[3], kind, sex)]
    return fitting[rng.integers(len(fitting))] if fitting else None


def _clause(subject_en, subject_zh, kind, core) -> tuple[str, str]:
    en, zh, form, _ = core
    if kind == "note":
        return f"{subject_en}, {en}.", f"{subject_zh}，{zh}。"
    if form == "np":
        verb = ("have", "'ve got")[len(en) % 2] if subject_en == "I" else "has"
        en = f"{subject_en}{' ' if not verb.startswith(chr(39)) else ''}{verb} {en}."
    else:
        en = f"{subject_en} {en}."
    return en, f"{subject_zh}{zh}。"


_TIMED = re.compile(
    r"\b(since|days?|weeks?|months?|years?|yesterday|ago|hours?|today|now|after|while|during)\b"
)


def _message(label: str, rng) -> tuple[str, str, str] | None:
    """(English, Chinese, core) for one made-up message of class `label`, or None to draw again."""
    if label == "routine" and rng.random() < 0.3:
        en, zh = P.ADMIN[rng.integers(len(P.ADMIN))]
        for slot, values in P.ADMIN_SLOTS.items():
            if "{" + slot + "}" in en:
                v_en, v_zh = values[rng.integers(len(values))]
                en, zh = en.replace("{" + slot + "}", v_en), zh.replace("{" + slot + "}", v_zh)
        opener = D.OPENERS[rng.integers(len(D.OPENERS))]
        return (
            opener[0] + (en[0].lower() + en[1:] if opener[0].endswith((", ", ": ")) else en),
            opener[1] + zh,
            en,
        )
    subj_en, subj_zh, kind, sex = _person(rng)
    pools = {"urgent": P.URGENT, "soon": P.SOON, "routine": P.ROUTINE}
    core = _pick_core(rng, pools[label], kind, sex)
    if core is None:
        return None
    en, zh = _clause(subj_en, subj_zh, kind, core)
    if (
        label != "routine" and rng.random() < 0.18
    ):  # a mixed complaint: a milder problem first, then the real one
        milder = _pick_core(rng, P.ROUTINE if label == "soon" else (P.ROUTINE + P.SOON), kind, sex)
        if milder is not None and milder[2] == "np" and kind != "note":
            first_en, first_zh = _clause(subj_en, subj_zh, kind, milder)
            link_en, link_zh = (" And now ", "现在又") if label == "urgent" else (" Also ", "另外，")
            pronoun, have = {"m": ("he", "has"), "f": ("she", "has")}.get(sex, ("they", "have"))
            if subj_en == "I":
                pronoun, have = "I", "have"
            en = (
                first_en
                + link_en
                + f"{pronoun} "
                + (core[0] if core[2] == "vp" else f"{have} {core[0]}")
                + "."
            )
            zh = first_zh + link_zh + core[1] + "。"
    parts_en, parts_zh = [en], [zh]
    if rng.random() < 0.7 and not _TIMED.search(core[0]):  # the complaint says when already
        d_en, d_zh = D.DURATION[rng.choice(D.DURATION_FOR[label])][rng.integers(4)]
        parts_en.append(d_en)
        parts_zh.append(d_zh)
    n_neg = int(rng.random() < (0.2 if label == "urgent" else 0.45)) + int(rng.random() < 0.15)
    for i in rng.permutation(len(D.NEGATIONS))[:n_neg]:
        n_en, n_zh, topic = D.NEGATIONS[i]
        if topic not in core[0] and (topic != "~" or label != "urgent"):
            parts_en.append(n_en)
            parts_zh.append(n_zh)
    tone = (
        "urgent"
        if label == "urgent" and rng.random() < 0.5
        else ("calm" if label != "urgent" and rng.random() < 0.25 else "any")
    )
    c_en, c_zh = D.CLOSERS[tone][rng.integers(len(D.CLOSERS[tone]))]
    opener = D.OPENERS[rng.integers(len(D.OPENERS))]
    en = " ".join(p for p in parts_en + [c_en] if p)
    if opener[0] and kind != "note":
        en = opener[0] + (
            en if subj_en == "I" or not opener[0].endswith((", ", ": ")) else en[0].lower() + en[1:]
        )
    zh = opener[1] + "".join(parts_zh) + c_zh
    return en, zh, core[0]


def _noise(en: str, zh: str, rng) -> tuple[str, str]:
    """Typos (both languages), text-message style and HTML debris, as in real inboxes."""
    if rng.random() < 0.1:
        present = [w for w in D.TYPOS_EN if w in en]
        if present:
            w = present[rng.integers(len(present))]
            en = en.replace(w, D.TYPOS_EN[w], 1)
        else:
            words = [m for m in re.finditer(r"[a-z]{6,}", en)]
            if words:
                m = words[rng.integers(len(words))]
                i = m.start() + int(rng.integers(1, len(m.group()) - 2))
                en = en[:i] + en[i + 1] + en[i] + en[i + 2 :]  # two letters swapped
    if rng.random() < 0.1:
        present = [w for w in D.TYPOS_ZH if w in zh]
        if present:
            w = present[rng.integers(len(present))]
            zh = zh.replace(w, D.TYPOS_ZH[w], 1)
    if rng.random() < 0.07:
        en = en.lower().rstrip(".").replace("you", "u").replace("please", "pls")
    if rng.random() < 0.02:
        en, zh = en.replace(". ", ".<br>", 1), zh.replace("。", "。<br/>", 1)
    elif rng.random() < 0.015:
        en, zh = en.replace(" and ", " &amp; ", 1), "\u200b" + zh + "&nbsp;"
    return en, zh


def _trigrams(text: str) -> set:
    t = re.sub(r"[\W_]+", "", text.lower())
    return {t[i : i + 3] for i in range(max(1, len(t) - 2))}


# ---- the files -----------------------------------------------------------------------------
def _legacy(folder: Path) -> list[dict]:
    en = pd.read_csv(folder / "legacy_en.csv", dtype=str, keep_default_na=False)
    zh = pd.read_csv(folder / "legacy_zh.csv", dtype=str, keep_default_na=False)
    rows = []
    # the two legacy files hold the same rows in the same order (153 each)
    for i, (a, b) in enumerate(zip(en.itertuples(), zh.itertuples(), strict=True), start=1):
        label = "routine" if i in LEGACY_ROUTINE else LEGACY_MAP[a.label]
        rows.append(dict(en=a.text, zh=b.text, label=label, core="", source="legacy"))
    return rows


def _pii(rng) -> tuple[str, str, list]:
    """A sentence with fake personal data in each language, and what it holds (for the tests)."""
    name_en, name_zh = D.NAMES_EN[rng.integers(len(D.NAMES_EN))], D.NAMES_ZH[rng.integers(len(D.NAMES_ZH))]
    year, month, day = int(rng.integers(1940, 2015)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    area = D.ID_AREAS[rng.integers(len(D.ID_AREAS))]
    first17 = f"{area}{year:04d}{month:02d}{day:02d}{int(rng.integers(0, 1000)):03d}"
    cn_id = first17 + cn_id_check_digit(first17)
    uk = f"07700 900{int(rng.integers(0, 1000)):03d}"  # Ofcom's range reserved for drama: no real line
    cn_phone = (
        f"1{rng.choice(['38', '39', '58', '86'])}{int(rng.integers(0, 10**8)):08d}"  # random: never call it
    )
    email = f"{name_en.split()[0].lower()}.{int(rng.integers(10, 99))}@example.com"
    n, street, town = int(rng.integers(2, 200)), D.STREETS_EN[rng.integers(6)], D.TOWNS_EN[rng.integers(6)]
    choice = int(rng.integers(6))
    en, zh, kinds = [
        (f"My name is {name_en}, phone {uk}.", f"我叫{name_zh}，电话{cn_phone}。", ["PERSON", "PHONE"]),
        (
            f"Patient: {name_en}, DOB {day:02d}/{month:02d}/{year}.",
            f"患者{name_zh}，出生日期{year}年{month}月{day}日。",
            ["PERSON", "DATE"],
        ),
        (f"ID number {cn_id}.", f"身份证号{cn_id}。", ["CN_ID"]),
        (f"Please reply to {email} or call {uk}.", f"请回复{email}，或打{cn_phone}。", ["EMAIL", "PHONE"]),
        (f"I live at {n} {street}, {town}.", f"住址：{D.ADDRESSES_ZH[rng.integers(6)]}。", ["ADDRESS"]),
        (f"This is {name_en}, ID {cn_id}.", f"我是{name_zh}，身份证{cn_id}。", ["PERSON", "CN_ID"]),
    ][choice]
    return en, zh, kinds


def _near_copy(row: dict, rng) -> dict:
    """The same message with a trivial change: case, spacing, end punctuation or one dropped letter."""
    en, zh = row["en"], row["zh"]
    how = int(rng.integers(3))
    if how == 0:
        en, zh = en.lower(), zh.replace("，", ", ")
    elif how == 1:
        en, zh = "  " + en.rstrip(".!?") + " ", zh.rstrip("。！？") + " "
    else:  # one letter (English) or one character (Chinese) dropped: a near copy, not an exact one
        i = len(en) // 2
        en, zh = en[:i] + en[i + 1 :], zh[1:]  # a Chinese text loses its first character
    return dict(row, en=en, zh=zh)


def generate_triage(seed: int = 15, folder=None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(rows, second_labels, defects): rows has id, en, zh, label; defects maps a defect to row ids."""
    folder = Path(folder or DEFAULT_DIR)
    rng = np.random.default_rng(seed)
    rows = _legacy(folder)
    seen = [_trigrams(r["en"]) for r in rows]
    for label, count in COUNTS.items():
        made = tries = 0
        while made < count and tries < 50 * count:
            tries += 1
            msg = _message(label, rng)
            if msg is None:
                continue
            grams = _trigrams(msg[0])
            if any(len(grams & g) / len(grams | g) >= MAX_SIMILARITY for g in seen):
                continue
            en, zh = _noise(msg[0], msg[1], rng)
            rows.append(dict(en=en, zh=zh, label=label, core=msg[2], source="generated"))
            seen.append(grams)
            made += 1
    for r in rows:
        r["defect"] = ""
        r["pii"] = []
    clean_ids = rng.permutation(len(rows))
    take = iter(clean_ids)
    for _ in range(30):  # fake personal data, added to existing messages (before or after)
        r = rows[next(take)]
        p_en, p_zh, kinds = _pii(rng)
        if rng.random() < 0.5:
            r["en"], r["zh"] = f"{p_en} {r['en']}", p_zh + r["zh"]
        else:
            r["en"], r["zh"] = f"{r['en']} {p_en}", r["zh"] + p_zh
        r["defect"], r["pii"] = "pii", kinds
    extra = []
    for _ in range(8):
        extra.append(dict(rows[next(take)], defect="exact_duplicate"))
    for _ in range(8):
        extra.append(dict(_near_copy(rows[next(take)], rng), defect="near_duplicate"))
    other = {"urgent": "soon", "soon": "routine", "routine": "soon"}
    for _ in range(5):
        r = rows[next(take)]
        extra.append(dict(r, label=other[r["label"]], defect="contradictory_label"))
    for en, zh, label in [
        ("", "", "routine"),
        ("   ", " ", "soon"),
        ("", "", "urgent"),
        ("help", "救命", "urgent"),
        ("pain", "疼", "soon"),
        ("?", "？", "routine"),
    ]:
        extra.append(dict(en=en, zh=zh, label=label, core="", source="planted", defect="too_short", pii=[]))
    frame = pd.DataFrame(rows + extra)
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    frame.insert(0, "id", [f"T{i:04d}" for i in range(1, len(frame) + 1)])
    second = _second_labels(frame, rng)
    defects = {
        k: frame.loc[frame["defect"] == k, "id"].tolist()
        for k in ("exact_duplicate", "near_duplicate", "contradictory_label", "too_short", "pii")
    }
    defects["pii_kinds"] = {i: k for i, k in zip(frame["id"], frame["pii"], strict=True) if k}
    defects["html_debris"] = frame.loc[
        frame["en"].str.contains("<br|&amp;|&nbsp;", regex=True)
        | frame["zh"].str.contains("<br|&nbsp;|\u200b", regex=True),
        "id",
    ].tolist()
    return frame, second, defects


def _second_labels(frame: pd.DataFrame, rng, n: int = 80) -> pd.DataFrame:
    """A second reader's labels for n clean rows: borderline complaints get the neighbouring class
    70 % of the time, other rows agree except for a 3 % slip."""
    clean = frame[(frame["defect"] == "") & (frame["source"] == "generated")]
    borderline = clean[clean["core"].isin(BORDERLINE)].index.to_numpy()
    chosen = list(rng.permutation(borderline)[:20])
    rest = rng.permutation(clean.index.difference(chosen).to_numpy())[: n - len(chosen)]
    out = []
    for i in sorted(chosen + list(rest)):
        row, label = frame.loc[i], frame.loc[i, "label"]
        if row["core"] in BORDERLINE and rng.random() < 0.7:
            label = BORDERLINE[row["core"]]
        elif rng.random() < 0.015:
            label = {"urgent": "soon", "soon": "routine", "routine": "soon"}[label]
        out.append({"id": row["id"], "label": label})
    return pd.DataFrame(out)


def write_triage(folder=None, seed: int = 15) -> Path:
    """Write triage_en.csv, triage_zh.csv, second_labels.csv and planted_defects.json into `folder`."""
    folder = Path(folder or DEFAULT_DIR)
    frame, second, defects = generate_triage(seed, folder)
    for lang in ("en", "zh"):
        out = frame[["id", lang, "label"]].rename(columns={lang: "text"})
        out.to_csv(folder / f"triage_{lang}.csv", index=False, lineterminator="\n")
    second.to_csv(folder / "second_labels.csv", index=False, lineterminator="\n")
    (folder / "planted_defects.json").write_text(
        json.dumps(defects, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return folder


if __name__ == "__main__":
    print("wrote", write_triage())
