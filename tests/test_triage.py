"""Lesson 06's tools: anonymisation, careful cleaning, duplicates and leaks, thresholds, the triage files."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ftkit.data.clean import (
    anonymise,
    careful_clean,
    cn_id_check_digit,
    cn_id_valid,
    find_conflicts,
    find_duplicates,
    find_leaks,
    find_pii,
    short_texts,
)
from ftkit.error_plots import plot_roc_pr
from ftkit.errors import ConfigError, DataError
from ftkit.lessons import l06_triage as triage
from ftkit.thresholds import (
    at_threshold,
    curves,
    one_vs_rest,
    pick_threshold,
    predict_with_threshold,
    recall_lower_bound,
)

TRIAGE = Path(__file__).resolve().parent.parent / "data_samples" / "triage"
VALID_ID = "110105198506121045"  # made up; check digit computed by ISO 7064 MOD 11-2


def kinds(text):
    return [m.kind for m in find_pii(text)]


# ---- anonymisation: every pattern, both languages ----------------------------------------------
@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("My name is Emma Clarke, I feel sick.", "PERSON", "Emma Clarke"),
        ("This is Grace O'Neill speaking.", "PERSON", "Grace O'Neill"),
        ("Please ask Dr. Patel to call.", "PERSON", "Patel"),
        ("我叫张伟，胸口疼。", "PERSON", "张伟"),
        ("患者王芳，女，61岁。", "PERSON", "王芳"),
        ("Call me on 07700 900123 please.", "PHONE", "07700 900123"),
        ("My number is (202) 555-0147.", "PHONE", "(202) 555-0147"),
        ("电话13912345678。", "PHONE", "13912345678"),
        ("Call +86 139 1234 5678 now", "PHONE", "+86 139 1234 5678"),
        ("Reply to emma.clarke@example.com thanks", "EMAIL", "emma.clarke@example.com"),
        ("邮箱li.na@example.org。", "EMAIL", "li.na@example.org"),
        (f"ID {VALID_ID}.", "CN_ID", VALID_ID),
        (f"身份证号{VALID_ID}。", "CN_ID", VALID_ID),
        ("DOB 04/11/1961.", "DATE", "04/11/1961"),
        ("born 12 March 1961", "DATE", "12 March 1961"),
        ("出生日期1961年3月12日。", "DATE", "1961年3月12日"),
        ("I live at 14 Elm Road, Leeds.", "ADDRESS", "14 Elm Road, Leeds"),
        ("住址：北京市朝阳区建国路88号。", "ADDRESS", "北京市朝阳区建国路88号"),
    ],
)
def test_each_pattern_is_found_and_replaced(text, kind, value):
    found = find_pii(text)
    assert [(m.kind, m.text) for m in found] == [(kind, value)]
    safe, _ = anonymise(text)
    assert value not in safe and f"<{kind}>" in safe


@pytest.mark.parametrize(
    "text",
    [
        "BP 220/130 with a pounding headache, temperature 38.5.",
        "Blood sugar 1.9 at 07:30, heart rate 180.",
        "Order number 110105194912310029 is not an ID (wrong check digit).",
        "110105198513121043 has a 13th month, so it is not an ID either.",
        "I have had chest pain for 3 days and lost 5 kg in 2 months.",
        "This is urgent, my son can't breathe!",
        "我不发烧，胸口疼，血压165/100。",
        "我是说真的，头很疼。",
        "Readings of 165/100 on the monitor three days running.",
        "",
    ],
)
def test_text_without_personal_data_is_left_alone(text):
    assert find_pii(text) == []
    assert anonymise(text)[0] == text


def test_several_pieces_in_one_text_in_order():
    text = f"This is Oliver Bennett, ID {VALID_ID}, phone 07700 900321, oliver@example.com."
    assert kinds(text) == ["PERSON", "CN_ID", "PHONE", "EMAIL"]
    assert anonymise(text)[0] == "This is <PERSON>, ID <CN_ID>, phone <PHONE>, <EMAIL>."


def test_chinese_id_check_digit_and_birth_date():
    assert cn_id_check_digit(VALID_ID[:17]) == VALID_ID[17]
    assert cn_id_check_digit("11010519491231002") == "X"
    assert cn_id_valid("11010519491231002X") and cn_id_valid("11010519491231002x")
    assert not cn_id_valid("110105194912310021")  # wrong check digit
    assert not cn_id_valid("12345")


def test_find_pii_rejects_a_non_string():
    with pytest.raises(DataError):
        find_pii(None)


# ---- cleaning ------------------------------------------------------------------------------------
def test_seed_cleaner_strips_signal_and_careful_cleaner_keeps_it():
    raw = "Temp 40.2<br>can't breathe&nbsp;!! BP 220/130?\u200b"
    assert triage.seed_clean_text(raw) == "Temp 402cant breathenbsp BP 220130"
    assert careful_clean(raw) == "Temp 40.2 can't breathe !! BP 220/130?"
    assert triage.seed_clean_text("不发烧，胸口疼！") == "不发烧胸口疼"
    assert careful_clean("不发烧，胸口疼！\u3000") == "不发烧，胸口疼！"
    assert careful_clean("不发烧？", nfkc=True) == "不发烧?"
    with pytest.raises(DataError):
        careful_clean(3.5)


# ---- duplicates, leaks, conflicts, short rows ------------------------------------------------------
def test_duplicates_exact_near_and_distinct():
    texts = [
        "My chest hurts badly since an hour and I feel sick!",
        "my chest hurts badly since an hour and i feel sick",
        "My chest hurts bdly since an hour and I feel sick!",
        "I need a repeat prescription for my inhaler.",
        "我胸口疼了一个小时，很厉害。",
        "胸口疼了一个小时，很厉害。",
    ]
    pairs = find_duplicates(texts)
    found = {(i, j): k for i, j, _, k in pairs.itertuples(index=False)}
    assert found[(0, 1)] == "exact" and found[(0, 2)] == "near" and found[(1, 2)] == "near"
    assert (4, 5) in found
    assert not any(3 in p for p in found)


def test_threshold_must_be_a_similarity():
    with pytest.raises(ConfigError):
        find_duplicates(["a b", "a b"], threshold=0)
    with pytest.raises(ConfigError):
        find_duplicates(["a b", "a b"], threshold=1.5)


def test_leaks_only_across_splits():
    train = [
        "Crushing chest pain for twenty minutes.",
        "Crushing chest pain for twenty minutes.",
        "A mild cold.",
    ]
    test = ["crushing chest pain for twenty minutes", "Can I book a flu jab?"]
    leaks = find_leaks({"train": train, "test": test})
    assert sorted(zip(leaks["row_a"], leaks["row_b"], strict=True)) == [
        (0, 0),
        (1, 0),
    ]  # the train copy pair is not a leak
    assert set(leaks["split_a"]) == {"train"} and set(leaks["split_b"]) == {"test"}
    assert find_leaks({"train": ["A mild cold."], "test": ["Can I book a flu jab?"]}).empty
    with pytest.raises(ConfigError):
        find_leaks(["only", "a list"])


def test_conflicts_are_copies_with_different_labels():
    texts = ["Bad headache since this morning.", "Bad headache since this morning!", "A mild cold."]
    conflicts = find_conflicts(texts, ["soon", "urgent", "routine"])
    assert conflicts[["i", "j", "label_i", "label_j"]].values.tolist() == [[0, 1, "soon", "urgent"]]
    assert find_conflicts(texts, ["soon", "soon", "routine"]).empty
    with pytest.raises(DataError):
        find_conflicts(texts, ["soon"])


def test_short_texts():
    assert short_texts(
        ["", "   ", "help", "?", "疼", "救命", "I bled a lot", "胸口疼得厉害", "Chest pain"]
    ).tolist() == [0, 1, 2, 3, 4, 5]


def test_clean_table_drops_conflicts_and_later_copies():
    frame = pd.DataFrame(
        {
            "id": list("abcdef"),
            "label": ["urgent", "urgent", "soon", "soon", "routine", "soon"],
            "text": [
                "Crushing chest pain now!",
                "crushing chest pain now",
                "Cough for three weeks.",
                "Cough for three weeks!",
                "",
                "My name is Emma Clarke, ankle sore for a week.",
            ],
        }
    )
    frame.loc[3, "label"] = "routine"  # the two cough messages now disagree
    clean, report = triage.clean_table(frame)
    assert clean["id"].tolist() == ["a", "f"]
    assert report.too_short == ["e"] and report.conflicts == ["c", "d"] and report.duplicates_dropped == ["b"]
    assert report.pii_found == 1 and "<PERSON>" in clean["text"].iloc[1]
    assert report.table().loc["rows left", "rows"] == 2


# ---- thresholds ---------------------------------------------------------------------------------------
def test_pick_threshold_is_the_highest_that_reaches_the_recall():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.5, 0.4, 0.2, 0.1, 0.05])
    c = pick_threshold(y, s, min_recall=0.75)
    assert c.threshold == 0.6 and c.recall == 0.75 and c.flagged == 4
    assert c.false_alarm_rate == pytest.approx(1 / 6) and c.precision == 0.75
    full = pick_threshold(y, s, min_recall=1.0)
    assert full.threshold == 0.3 and full.recall == 1 and full.false_alarm_rate == pytest.approx(3 / 6)
    assert at_threshold(y, s, 0.95).recall == 0 and at_threshold(y, s, 0.95).flagged == 0


def test_recall_lower_bound_is_clopper_pearson():
    assert recall_lower_bound(18, 18) == pytest.approx(0.05 ** (1 / 18))  # all caught: (1 - conf) ** (1/n)
    assert recall_lower_bound(0, 10) == 0.0
    assert recall_lower_bound(90, 100) < 0.9 < recall_lower_bound(97, 100)
    assert recall_lower_bound(90, 100, confidence=0.5) == pytest.approx(0.9, abs=0.01)  # about the median
    with pytest.raises(DataError):
        recall_lower_bound(5, 4)
    with pytest.raises(ConfigError):
        recall_lower_bound(3, 4, confidence=95)


def test_pick_threshold_with_a_confidence_margin():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(200, int), np.zeros(200, int)]
    s = np.r_[rng.uniform(0.2, 1.0, 200), rng.uniform(0.0, 0.6, 200)]
    plain = pick_threshold(y, s, min_recall=0.9)
    safe = pick_threshold(y, s, min_recall=0.9, confidence=0.95)
    assert safe.threshold < plain.threshold and safe.recall > plain.recall >= 0.9
    caught = round(safe.recall * safe.positives)
    assert recall_lower_bound(caught, 200) >= 0.9 > recall_lower_bound(caught - 1, 200)
    with pytest.raises(DataError, match="at least 29"):  # 18 of 18 caught still only shows 0.847
        pick_threshold(y[182:], s[182:], min_recall=0.9, confidence=0.95)


def test_threshold_bad_inputs():
    with pytest.raises(DataError):
        pick_threshold([0, 0, 0], [0.1, 0.2, 0.3])  # no positive example
    with pytest.raises(DataError):
        pick_threshold([1, 0], [0.5])
    with pytest.raises(DataError):
        pick_threshold([2, 0], [0.5, 0.1])
    with pytest.raises(ConfigError):
        pick_threshold([1, 0], [0.5, 0.1], min_recall=0)
    with pytest.raises(ConfigError):
        one_vs_rest([0, 1], np.ones((2, 3)) / 3, positive=3)


def test_one_vs_rest_predict_with_threshold_and_curves():
    probs = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.35, 0.05, 0.6]])
    y, s = one_vs_rest([0, 0, 2, 1], probs, positive=0)
    assert y.tolist() == [1, 1, 0, 0] and s.tolist() == [0.2, 0.6, 0.1, 0.35]
    assert predict_with_threshold(probs, 0, 0.3).tolist() == [1, 0, 2, 0]
    assert predict_with_threshold(probs, 0, 0.15).tolist() == [0, 0, 2, 0]
    c = curves(y, s)
    assert c["roc_auc"] == 0.75 and c["base_rate"] == 0.5
    assert plot_roc_pr(y, s, 0.3, name="urgent").axes[0].get_title() == "ROC curve"


# ---- the lesson's reader: bad inputs are one-line errors --------------------------------------------
@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("text,label\n", "no data rows"),
        (
            "text,label\nChest pain,urgent\nA cold,routine\nHeadache,critical\n",
            "line 4: unknown label 'critical'",
        ),
        ("text,label\nChest pain,urgent\nStroke,urgent\n", "one class only"),
        ("message,label\nChest pain,urgent\n", "no 'text' column"),
    ],
)
def test_read_triage_bad_inputs(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as err:
        triage.read_triage(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_read_triage_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        triage.read_triage(tmp_path / "nope.csv")


# ---- splits, oversampling, schedules -------------------------------------------------------------------
def test_stratified_split_and_oversample():
    frame = pd.DataFrame(
        {
            "id": range(200),
            "text": [f"t{i}" for i in range(200)],
            "label": ["urgent"] * 40 + ["soon"] * 60 + ["routine"] * 100,
        }
    )
    parts = triage.stratified_split(frame, seed=3)
    assert [len(parts[n]) for n in ("train", "val", "test")] == [140, 30, 30]
    for part in parts.values():
        assert part["label"].value_counts()["urgent"] / len(part) == pytest.approx(0.2, abs=0.02)
    assert not set(parts["train"]["id"]) & set(parts["test"]["id"])
    over = triage.oversample(parts["train"], seed=0)
    assert over["label"].value_counts().tolist() == [70, 70, 70]
    with pytest.raises(ConfigError):
        triage.stratified_split(frame, sizes=(0.5, 0.5))


def test_lr_schedules_warm_up_then_decay():
    table = triage.lr_schedules(100, warmup=0.1, lr=1e-4)
    assert list(table.columns) == ["linear", "cosine"] and len(table) == 100
    for name in table:
        assert (
            table[name].iloc[0] == 0
            and table[name].idxmax() == 10
            and table[name].max() == pytest.approx(1e-4)
        )
    assert table.loc[30, "cosine"] > table.loc[30, "linear"]  # the half cosine stays high longer...
    assert table.loc[80, "cosine"] < table.loc[80, "linear"]  # ...then falls faster


# ---- the sample files -------------------------------------------------------------------------------------
def test_triage_files_sizes_classes_and_alignment():
    en = pd.read_csv(TRIAGE / "triage_en.csv", dtype=str, keep_default_na=False)
    zh = pd.read_csv(TRIAGE / "triage_zh.csv", dtype=str, keep_default_na=False)
    assert len(en) >= 600 and len(zh) >= 600 and en["id"].tolist() == zh["id"].tolist()
    assert set(en["label"]) == set(zh["label"]) == set(triage.TRIAGE_LABELS)
    assert (en["label"] == zh["label"]).all()
    assert (
        en["label"].value_counts()["urgent"] < en["label"].value_counts().min() + 1
    )  # urgent is the rare class
    second = pd.read_csv(TRIAGE / "second_labels.csv", dtype=str)
    assert (
        len(second) >= 60
        and set(second["id"]) <= set(en["id"])
        and set(second["label"]) <= set(triage.TRIAGE_LABELS)
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_planted_defect_is_found(lang):
    defects = json.loads((TRIAGE / "planted_defects.json").read_text(encoding="utf-8"))
    frame = pd.read_csv(TRIAGE / f"triage_{lang}.csv", dtype=str, keep_default_na=False)
    ids = frame["id"].to_numpy()
    pairs = find_duplicates(frame["text"])
    in_pairs = set(ids[pairs["i"]]) | set(ids[pairs["j"]])
    assert (
        set(defects["exact_duplicate"] + defects["near_duplicate"] + defects["contradictory_label"])
        <= in_pairs
    )
    assert set(ids[short_texts(frame["text"])]) == set(defects["too_short"])
    conflicts = find_conflicts(frame["text"], frame["label"])
    assert set(defects["contradictory_label"]) <= set(ids[conflicts["i"]]) | set(ids[conflicts["j"]])
    found = {i: sorted({m.kind for m in find_pii(t)}) for i, t in zip(ids, frame["text"], strict=True)}
    assert {i for i, k in found.items() if k} == set(defects["pii"])
    assert all(found[i] == sorted(set(k)) for i, k in defects["pii_kinds"].items())


def test_generator_reproduces_the_committed_files(tmp_path):
    from ftkit.samples.triage import write_triage

    for name in ("legacy_en.csv", "legacy_zh.csv"):
        shutil.copy(TRIAGE / name, tmp_path / name)
    write_triage(tmp_path)
    for name in ("triage_en.csv", "triage_zh.csv", "second_labels.csv", "planted_defects.json"):
        assert (tmp_path / name).read_bytes() == (TRIAGE / name).read_bytes(), name


def test_readme_counts_match_the_files():
    readme = (TRIAGE / "README.md").read_text(encoding="utf-8")
    for lang in ("en", "zh"):
        frame = pd.read_csv(TRIAGE / f"triage_{lang}.csv", dtype=str, keep_default_na=False)
        counts = frame["label"].value_counts()
        assert f"| `triage_{lang}.csv` | {len(frame)} |" in readme
    assert ", ".join(f"`{c}` {counts[c]}" for c in triage.TRIAGE_LABELS) in readme
    defects = json.loads((TRIAGE / "planted_defects.json").read_text(encoding="utf-8"))
    for name in (
        "exact_duplicate",
        "near_duplicate",
        "contradictory_label",
        "too_short",
        "pii",
        "html_debris",
    ):
        assert f"| `{name}` | {len(defects[name])} |" in readme, name


def test_second_labels_join_and_bad_files(tmp_path):
    frame = triage.read_triage(TRIAGE / "triage_en.csv")
    pairs = triage.second_labels(frame)
    assert len(pairs) == 80 and list(pairs.columns) == ["id", "text", "label_a", "label_b"]
    bad = tmp_path / "second.csv"
    bad.write_text("row,label\nT0001,urgent\n", encoding="utf-8")
    with pytest.raises(DataError, match="columns id,label"):
        triage.second_labels(frame, bad)
    bad.write_text("id,label\nX9999,urgent\n", encoding="utf-8")
    with pytest.raises(DataError, match="No id"):
        triage.second_labels(frame, bad)
    with pytest.raises(DataError, match="not found"):
        triage.second_labels(frame, tmp_path / "missing.csv")
