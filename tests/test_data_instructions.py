"""Checks on the instruction-tuning samples in data_samples/instructions/.

The lesson fine-tunes a chat model on these records and shows the class the result, so every
record must follow the same four-line safety-note format. Pure file checks: no model, no network.
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parent.parent / "data_samples" / "instructions"

# One entry per language: file name, the exact output format, and the allowed risk levels.
FORMATS = {
    "en": {
        "file": "safety_notes_en.json",
        "pattern": re.compile(
            r"RISK: (HIGH|MEDIUM|LOW)\nHAZARD: [^\n]+\.\nACTION: [^\n]+\.\nWHO: [A-Z][^\n.]+"
        ),
        "levels": {"HIGH", "MEDIUM", "LOW"},
    },
    "zh": {
        "file": "safety_notes_zh.json",
        "pattern": re.compile(r"风险：(高|中|低)\n隐患：[^\n]+。\n措施：[^\n]+。\n负责人：[^\n。]+"),
        "levels": {"高", "中", "低"},
    },
}
MIN_RECORDS = 140
KEYS = {"instruction", "input", "output"}


def load_records(lang):
    with open(DATA_DIR / FORMATS[lang]["file"], encoding="utf-8") as fh:
        return json.load(fh)


def paragraphs(name):
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    return [p for p in text.split("\n\n") if p.strip()], text


@pytest.fixture(scope="module", params=["en", "zh"])
def lang_records(request):
    return request.param, load_records(request.param)


def test_records_are_alpaca_dicts(lang_records):
    lang, records = lang_records
    assert isinstance(records, list)
    assert len(records) >= MIN_RECORDS, f"{lang}: only {len(records)} records"
    for i, rec in enumerate(records):
        assert isinstance(rec, dict) and set(rec) == KEYS, f"{lang} record {i}: keys {sorted(rec)}"
        assert all(isinstance(rec[k], str) for k in KEYS), f"{lang} record {i}: non-string value"
        assert rec["instruction"].strip() and rec["output"].strip(), f"{lang} record {i}: empty"
        assert rec["input"] == rec["input"].strip(), f"{lang} record {i}: stray whitespace in input"


def test_every_output_follows_the_format(lang_records):
    lang, records = lang_records
    pattern = FORMATS[lang]["pattern"]
    bad = [i for i, rec in enumerate(records) if not pattern.fullmatch(rec["output"])]
    assert not bad, f"{lang}: outputs not in the four-line format at indexes {bad[:10]}"


def test_all_risk_levels_are_used(lang_records):
    lang, records = lang_records
    pattern = FORMATS[lang]["pattern"]
    levels = Counter(pattern.fullmatch(rec["output"]).group(1) for rec in records)
    assert set(levels) == FORMATS[lang]["levels"]
    # No level may be a token presence: the model has to see each one often enough to learn it.
    assert min(levels.values()) >= 15, f"{lang}: risk levels too unbalanced: {dict(levels)}"


def test_no_duplicate_prompts(lang_records):
    lang, records = lang_records
    pairs = Counter((rec["instruction"], rec["input"]) for rec in records)
    dups = [pair for pair, n in pairs.items() if n > 1]
    assert not dups, f"{lang}: duplicate (instruction, input) pairs: {dups[:3]}"
    # The same observation must not appear twice under different wordings either.
    observations = Counter(rec["input"] for rec in records if rec["input"])
    assert max(observations.values()) == 1, f"{lang}: an observation is repeated"


def test_instruction_wording_varies_and_some_inputs_are_empty(lang_records):
    lang, records = lang_records
    wordings = {rec["instruction"] for rec in records if rec["input"]}
    assert len(wordings) >= 8, f"{lang}: only {len(wordings)} instruction wordings"
    empty = [rec for rec in records if not rec["input"]]
    assert len(empty) >= 10, f"{lang}: only {len(empty)} records with an empty input"
    # With no input, the observation must be inside the instruction, so it is a long one.
    assert all(rec["instruction"] not in wordings for rec in empty)


def test_outputs_stay_short_and_roles_stay_few(lang_records):
    lang, records = lang_records
    # Short outputs keep CPU training fast (English <= ~60 SmolLM2 tokens).
    sizes = [len(rec["output"].split()) if lang == "en" else len(rec["output"]) for rec in records]
    limit = 45 if lang == "en" else 90  # words for English, characters for Chinese
    assert max(sizes) <= limit, f"{lang}: an output is {max(sizes)} long (limit {limit})"
    roles = {rec["output"].rsplit("\n", 1)[1] for rec in records}
    assert len(roles) <= 20, f"{lang}: {len(roles)} different roles; keep the WHO list short"


@pytest.mark.parametrize("name, min_size", [("general_en.txt", 2000), ("general_zh.txt", 3000)])
def test_general_texts(name, min_size):
    paras, text = paragraphs(name)
    assert len(paras) >= 30, f"{name}: {len(paras)} paragraphs"
    size = len(text.split()) if name.endswith("en.txt") else len(re.sub(r"\s", "", text))
    assert size >= min_size, f"{name}: {size} words/characters"
    # The forgetting measurement needs text unlike the training task.
    for label in ("RISK:", "HAZARD:", "风险：", "隐患："):
        assert label not in text, f"{name} contains the safety-note label {label!r}"


def test_readme_counts_match_the_files():
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    for lang in FORMATS:
        row = next(line for line in readme.splitlines() if FORMATS[lang]["file"] in line)
        assert f"| {len(load_records(lang))} (" in row, f"README count is stale for {lang}"
    for name in ("general_en.txt", "general_zh.txt"):
        row = next(line for line in readme.splitlines() if name in line)
        assert f"| {len(paragraphs(name)[0])} paragraphs" in row, f"README count stale: {name}"
