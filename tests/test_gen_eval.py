"""ftkit.gen_eval: the safety-note format check (English and Chinese), ROUGE-L, repetition, tables."""

import pytest

from ftkit.errors import ConfigError
from ftkit.gen_eval import (
    check_safety_note,
    evaluation_table,
    format_ok,
    generation_scores,
    repetition_rate,
    rouge_l,
    rubric_table,
    text_language,
)

GOOD_EN = (
    "RISK: HIGH\nHAZARD: Head injury from falling objects.\nACTION: Stop work and fit a hard hat.\n"
    "WHO: Site supervisor"
)
GOOD_ZH = "风险：高\n隐患：上方坠物砸伤头部。\n措施：立即停止作业，戴好安全帽。\n负责人：现场主管"

BAD_EN = {
    "three lines": "RISK: HIGH\nHAZARD: Falling.\nACTION: Stop work.",
    "five lines": GOOD_EN + "\nNOTE: extra",
    "wrong order": "HAZARD: Falling.\nRISK: HIGH\nACTION: Stop work.\nWHO: Site supervisor",
    "bad level": "RISK: VERY HIGH\nHAZARD: Falling.\nACTION: Stop work.\nWHO: Site supervisor",
    "lower-case level": "RISK: high\nHAZARD: Falling.\nACTION: Stop work.\nWHO: Site supervisor",
    "empty field": "RISK: LOW\nHAZARD: Falling.\nACTION:\nWHO: Site supervisor",
    "blank line inside": "RISK: LOW\n\nHAZARD: Falling.\nACTION: Stop.\nWHO: Site supervisor",
    "prose": "A worker on the scaffold is not wearing a hard hat.",
    "Chinese labels": GOOD_ZH,
}
BAD_ZH = {
    "three lines": "风险：高\n隐患：坠落。\n措施：停止作业。",
    "ascii colons": "风险:高\n隐患:坠落。\n措施:停止作业。\n负责人:班组长",
    "bad level": "风险：很高\n隐患：坠落。\n措施：停止作业。\n负责人：班组长",
    "empty field": "风险：中\n隐患：\n措施：停止作业。\n负责人：班组长",
    "wrong label": "风险：中\n危害：坠落。\n措施：停止作业。\n负责人：班组长",
    "English labels": GOOD_EN,
}


def test_good_notes_pass_in_both_languages():
    assert check_safety_note(GOOD_EN, "en").ok and check_safety_note(GOOD_ZH, "zh").ok
    assert check_safety_note("\n" + GOOD_EN + "  \n").ok  # blank lines around the note do not count
    assert check_safety_note(GOOD_ZH).ok and text_language(GOOD_ZH) == "zh" and text_language(GOOD_EN) == "en"
    for level in ("MEDIUM", "LOW"):
        assert check_safety_note(GOOD_EN.replace("HIGH", level), "en")


@pytest.mark.parametrize("name", BAD_EN)
def test_bad_english_notes_fail_with_a_reason(name):
    check = check_safety_note(BAD_EN[name], "en")
    assert not check.ok and check.problems and str(check) != "ok"


@pytest.mark.parametrize("name", BAD_ZH)
def test_bad_chinese_notes_fail_with_a_reason(name):
    check = check_safety_note(BAD_ZH[name], "zh")
    assert not check.ok and check.problems


def test_format_ok_is_a_share_and_bad_input_is_refused():
    assert format_ok([GOOD_EN, BAD_EN["prose"], GOOD_EN, BAD_EN["bad level"]], "en") == 0.5
    assert format_ok([GOOD_ZH, GOOD_ZH, BAD_ZH["ascii colons"]]) == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match="lang"):
        check_safety_note(GOOD_EN, "fr")
    with pytest.raises(ConfigError, match="non-empty"):
        format_ok([])


def test_rouge_l_on_known_strings():
    assert rouge_l(["the cat sat on the mat"], ["the cat sat on the mat"]) == 1.0
    assert rouge_l(["dog"], ["the cat sat"]) == 0.0
    # LCS "the cat the mat": 4 of the 5 predicted and of the 6 reference words (case is ignored)
    assert rouge_l(["The cat ate the mat"], ["the cat sat on the mat"]) == pytest.approx(
        2 * (4 / 5) * (4 / 6) / (4 / 5 + 4 / 6)
    )
    # Chinese on characters: LCS 戴安全帽, all 4 predicted and 4 of the 5 reference characters
    assert rouge_l(["戴安全帽"], ["戴好安全帽"], "zh") == pytest.approx(2 * (4 / 4) * (4 / 5) / (1 + 4 / 5))
    assert rouge_l(["戴安全帽"], ["戴好安全帽"]) == rouge_l(["戴安全帽"], ["戴好安全帽"], "zh")  # detected
    assert rouge_l(["甲乙", "x"], ["甲乙", "y"], per_answer=True) == [1.0, 0.0]
    with pytest.raises(ConfigError, match="references"):
        rouge_l(["a", "b"], ["a"])


def test_repetition_counts_words_in_english_and_characters_in_chinese():
    assert repetition_rate("the cat sat. the cat sat. the cat sat.") == pytest.approx(4 / 7)
    assert repetition_rate("one two three four") == 0.0
    # no spaces: as words this would be one unit and never repeat
    assert repetition_rate("注意安全注意安全注意安全") == pytest.approx(6 / 10)
    assert repetition_rate("注意安全", n=3) == 0.0 and repetition_rate("短", n=3) == 0.0


def test_repetition_with_a_tokenizer():
    from ftkit.infra.presets import load_causal_lm

    tok = load_causal_lm("tiny-qwen2").tokenizer
    looped = repetition_rate("注意安全 " * 6, tokenizer=tok)
    assert looped > 0.5 and repetition_rate(GOOD_EN, tokenizer=tok) == 0.0


def test_scores_and_tables():
    scores = generation_scores([GOOD_EN, BAD_EN["prose"]], [GOOD_EN, GOOD_EN])
    assert scores["format_ok"] == 0.5 and 0.5 < scores["rougeL"] < 1 and scores["repetition"] == 0.0
    prompts = ["Write a safety note.\n\nA hard hat is missing.", "写一条安全提示。"]
    table = evaluation_table(prompts, [BAD_EN["prose"], "好"], [GOOD_EN, GOOD_ZH], [GOOD_EN, GOOD_ZH])
    assert list(table.columns) == [
        "prompt", "base answer", "base checks", "tuned answer", "tuned checks", "reference",
    ]  # fmt: skip
    assert table["tuned checks"][0].startswith("format ok | ROUGE-L 1.00")
    assert table["base checks"][1].startswith("format NO (1 lines, not 4")
    rubric = rubric_table(prompts, [GOOD_EN, "好"], [GOOD_EN, GOOD_ZH])
    assert list(rubric.columns[2:6]) == ["correct", "relevant", "fluent", "safe"]
    assert rubric["correct"].isna().all() and rubric["format_ok"].tolist() == [True, False]
    rubric.loc[0, "correct"] = 1  # the learner's mark fits the column
    with pytest.raises(ConfigError, match="one per prompt"):
        evaluation_table(prompts, [GOOD_EN], [GOOD_EN, GOOD_ZH], [GOOD_EN, GOOD_ZH])
