"""Lesson 06's exercise checks: right answers pass, wrong ones fail with a hint, none raises."""

import numpy as np
import pytest

from ftkit.lessons import l06_exercises as ex

Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
S = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.5, 0.4, 0.2, 0.1, 0.05])


def test_false_alarms_counts_flagged_negatives(capsys):
    assert ex.check_false_alarms(2, Y, S, 0.45)  # 0.7 and 0.5 are non-urgent and flagged
    assert capsys.readouterr().out.startswith("Right:")
    assert not ex.check_false_alarms(3, Y, S, 0.45)
    assert not ex.check_false_alarms(2 / 6, Y, S, 0.45)  # a share is not a count
    assert "Not yet" in capsys.readouterr().out


def test_cases_needed_is_29_for_90_percent_at_95():
    assert ex.check_cases_needed(29, 0.9, 0.95)
    assert not ex.check_cases_needed(18, 0.9, 0.95) and not ex.check_cases_needed(28, 0.9, 0.95)
    assert ex.check_cases_needed(59, 0.95, 0.95)  # the truth is computed, not stored


def test_kappa_by_hand():
    a = ["urgent", "soon", "soon", "routine", "routine", "routine"]
    b = ["urgent", "soon", "routine", "routine", "routine", "soon"]
    p_o = 4 / 6
    p_e = (1 / 6) * (1 / 6) + (2 / 6) * (2 / 6) + (3 / 6) * (3 / 6)
    assert ex.check_kappa((p_o - p_e) / (1 - p_e), a, b)
    assert not ex.check_kappa(p_o, a, b)  # raw agreement is not kappa


def test_threshold_matches_pick_threshold():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(100, int), np.zeros(100, int)]
    s = np.r_[rng.uniform(0.2, 1, 100), rng.uniform(0, 0.6, 100)]
    from ftkit.thresholds import pick_threshold

    t = pick_threshold(y, s, 0.95, confidence=0.95).threshold
    assert ex.check_threshold(t, y, s, 0.95, confidence=0.95)
    assert not ex.check_threshold(pick_threshold(y, s, 0.95).threshold, y, s, 0.95, confidence=0.95)
    assert not ex.check_threshold(0.95, y, s, 0.95, confidence=0.95)  # the target is not the threshold
    assert not ex.check_threshold(0.5, y[90:], s[90:], 0.95, confidence=0.95)  # 10 positives: impossible


def test_small_sample_risk_is_binomial():
    y = np.r_[np.ones(100, int), np.zeros(10, int)]
    s = np.r_[np.linspace(0.01, 1, 100), np.zeros(10)]
    t = 0.0701  # 93 of the 100 urgent scores are >= t: recall 0.93
    rng = np.random.default_rng(0)
    urgent = s[y == 1]
    draws = rng.choice(urgent, size=(20_000, 18), replace=True)
    simulated = float(np.mean((draws >= t).mean(axis=1) < 0.9))
    assert ex.check_small_sample_risk(simulated, y, s, t, n=18, target=0.9)
    assert 0.3 < simulated < 0.42  # 18 draws at recall 0.93 show < 0.9 more than a third of the time
    assert not ex.check_small_sample_risk(0.07, y, s, t, n=18)  # 1 - recall is not the answer


@pytest.mark.parametrize("answer", [None, ..., "abc"])
def test_unanswered_or_nonsense_never_raises(answer, capsys):
    assert not ex.check_false_alarms(answer, Y, S, 0.45)
    assert not ex.check_cases_needed(answer)
    assert not ex.check_kappa(answer, ["a", "b"], ["a", "a"])
    assert not ex.check_threshold(answer, Y, S, 0.75)
    assert not ex.check_small_sample_risk(answer, Y, S, 0.45, n=18)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 5 and all(line.startswith(("No answer yet", "Not yet")) for line in out)
