"""Lesson 04's exercise checks: each works out the truth itself, prints one line, never raises."""

import pytest
from tiny_data import tiny_qwen2

from ftkit import LoraSettings, apply_lora
from ftkit.lessons.l04_exercises import check_format_share, check_lora_count, check_note_format, check_rouge_l

GOOD_EN = "RISK: HIGH\nHAZARD: Falling from the scaffold.\nACTION: Fit guard rails.\nWHO: Site supervisor"
GOOD_ZH = "风险：高\n隐患：梯子放在湿地上，可能滑倒。\n措施：停止使用，移到干燥平整的地面。\n负责人：班组长"
BAD_EN = "RISK: SEVERE\nHAZARD: Falling.\nACTION: Stop work.\nWHO: Site supervisor"  # not a valid level


@pytest.fixture(scope="module")
def lora_model():
    model = tiny_qwen2().model
    return apply_lora(model, LoraSettings(r=4, lora_alpha=8, target_modules="all linear"))


def hand_count(config, r):
    """r x (d_in + d_out) for q, k, v, o, gate, up, down, times the blocks: the exercise's own sum."""
    head = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    h, ff = config.hidden_size, config.intermediate_size
    q, kv = config.num_attention_heads * head, config.num_key_value_heads * head
    shapes = [(h, q), (h, kv), (h, kv), (q, h), (h, ff), (h, ff), (ff, h)]
    return config.num_hidden_layers * sum(r * (a + b) for a, b in shapes)


def test_lora_count_is_checked_against_the_model(lora_model, capsys):
    truth = hand_count(lora_model.config, 4)
    assert check_lora_count(truth, lora_model)
    assert capsys.readouterr().out.startswith("Right:")
    assert not check_lora_count(truth + 4, lora_model)
    assert not check_lora_count(hand_count(lora_model.config, 8), lora_model)  # the rank matters
    out = capsys.readouterr().out
    assert "Not yet" in out and str(truth) not in out.replace(",", "")  # a hint, never the answer
    assert not check_lora_count(None, lora_model) and "No answer yet" in capsys.readouterr().out


def test_note_format_uses_the_lessons_checker(capsys):
    assert check_note_format(GOOD_EN, "en") and check_note_format(GOOD_ZH, "zh")
    assert not check_note_format(BAD_EN, "en")
    assert "risk level" in capsys.readouterr().out.splitlines()[-1]
    assert not check_note_format(GOOD_EN, "zh")  # English labels are not the Chinese format
    assert not check_note_format(GOOD_ZH.replace("：", ":"), "zh")  # full-width colons
    assert not check_note_format(None, "zh") and not check_note_format(42, "en")
    assert "No answer yet" in capsys.readouterr().out.splitlines()[-2]


def test_rouge_l_by_hand(capsys):
    ref, pred = "stop work and fit a hard hat", "fit a hard hat before work"
    p, r = 4 / 6, 4 / 7  # LCS "fit a hard hat"
    assert check_rouge_l(2 * p * r / (p + r), pred, ref)
    assert not check_rouge_l(p, pred, ref) and not check_rouge_l(r, pred, ref)
    same = "风险：高"
    assert check_rouge_l(1.0, same, same, "zh") and not check_rouge_l(0.5, same, same, "zh")
    assert not check_rouge_l(None, pred, ref)


def test_format_share_is_counted_from_the_answers(capsys):
    answers = [GOOD_EN, BAD_EN, "The site looks fine.", GOOD_EN]
    assert check_format_share(0.5, answers, "en") and check_format_share("0.5", answers, "en")
    assert not check_format_share(0.75, answers, "en") and not check_format_share(None, answers, "en")
    assert check_format_share(1 / 3, [GOOD_ZH, "你好", GOOD_ZH + "\n附注"], "zh")
