"""diagnose(): every verdict on hand-made histories, with the numbers in the evidence."""

import math

import pytest

from ftkit.diagnose import ADVICE, VERDICTS, Diagnosis, diagnose
from ftkit.history import History


def make(train, val, **kwargs):
    h = History(**kwargs)
    for i, (t, v) in enumerate(zip(train, val, strict=True), start=1):
        rec = {"epoch": i, "train_loss": t}
        if v is not None:
            rec["val_loss"] = v
        h.log_epoch(**rec)
    return h


def text(d: Diagnosis) -> str:
    return " ".join(d.evidence)


def test_over_fitting():
    h = make([1.0, 0.6, 0.4, 0.3, 0.2, 0.12], [0.9, 0.6, 0.5, 0.55, 0.62, 0.7], stop_reason="completed")
    d = diagnose(h)
    assert d.verdict == "over-fitting"
    assert d.best_epoch == 3 and d.stop_epoch == 6
    assert d.numbers["epochs_since_best"] == 3
    assert d.numbers["val_rise"] == pytest.approx(0.4)
    assert d.numbers["gap_growth"] == pytest.approx(0.58 - 0.1)
    t = text(d)
    for snippet in (
        "epoch 3 (0.5)",
        "0.7",
        "+40.0%",
        "3 of 3 epoch",
        "0.58",
        "grew by 0.48",
        "0.12",
        "per epoch",
    ):
        assert snippet in t, snippet
    assert any("early stopping" in a.lower() for a in d.advice)
    assert any("augmentation" in a.lower() for a in d.advice)
    assert [kind for _, _, kind in d.regions] == ["under-fitting", "good fit", "over-fitting"]
    assert d.regions[-1][1] == 6 and d.regions[-1][0] == 3.5


def test_one_bad_epoch_is_not_over_fitting():
    # val rose once after its best (noise) -> good fit, not over-fitting
    h = make([1.0, 0.5, 0.35, 0.3, 0.28], [0.9, 0.5, 0.42, 0.41, 0.415])
    d = diagnose(h)
    assert d.verdict == "good fit"
    assert d.best_epoch == 4
    assert "epoch 4 (0.41)" in text(d)
    assert d.regions[-1][2] == "good fit" and d.regions[-1][1] == 5


def test_val_rising_but_train_also_rising_is_not_over_fitting():
    h = make([1.0, 0.5, 0.4, 0.45, 0.5], [0.9, 0.5, 0.45, 0.5, 0.55])
    assert diagnose(h).verdict != "over-fitting"


def test_under_fitting():
    h = make([1.0, 0.95, 0.92, 0.9, 0.9], [1.0, 0.96, 0.93, 0.92, 0.92])
    d = diagnose(h)
    assert d.verdict == "under-fitting"
    assert d.numbers["train_loss_ratio"] == pytest.approx(0.9)
    assert "90% of its start" in text(d)
    assert any("unfreeze" in a.lower() for a in d.advice)
    assert d.regions == [(1, 5, "under-fitting")]


def test_under_fitting_from_accuracy():
    h = make([1.0, 0.5, 0.47, 0.46], [1.0, 0.6, 0.58, 0.58])
    for rec, acc in zip(h.epochs, (0.4, 0.5, 0.55, 0.56), strict=True):
        rec["train_accuracy"], rec["val_accuracy"] = acc, acc - 0.01
    d = diagnose(h)
    assert d.verdict == "under-fitting"
    assert "56.0%" in text(d)


def test_start_loss_comes_from_first_step():
    # epoch means look fine, but the first step shows the model barely moved from its start
    h = make([0.70, 0.69, 0.69], [0.70, 0.695, 0.695])
    h.log_step(step=1, epoch=1, train_loss=0.71)
    d = diagnose(h)
    assert d.numbers["start_train_loss"] == 0.71
    assert d.verdict == "under-fitting"


def test_still_improving():
    h = make([1.0, 0.7, 0.5, 0.4], [0.9, 0.7, 0.55, 0.45])
    d = diagnose(h)
    assert d.verdict == "still improving"
    assert d.best_epoch == 4
    assert d.numbers["val_slope"] < -0.02
    assert "-22.1% per epoch" in text(d)
    assert any("more epochs" in a for a in d.advice)


def test_diverged_on_nan_names_the_learning_rate():
    h = make([1.0, math.nan], [0.9, 0.8], config={"lr": 0.01})
    d = diagnose(h)
    assert d.verdict == "diverged"
    assert "nan" in text(d) and "epoch 2" in text(d)
    assert "0.01" in d.advice[0] and "0.001" in d.advice[0]
    assert any("clip" in a.lower() for a in d.advice) and any("warmup" in a.lower() for a in d.advice)


def test_diverged_on_inf_step_or_stop_reason():
    h = make([1.0, 0.9], [0.9, 0.8])
    h.log_step(step=7, epoch=2, train_loss=math.inf, lr=3e-4)
    d = diagnose(h)
    assert d.verdict == "diverged" and "step 7" in text(d)
    assert "3e-05" in d.advice[0]
    h2 = make([1.0, 0.9], [0.9, 0.8], stop_reason="diverged", stop_message="Loss exploded at step 3.")
    d2 = diagnose(h2)
    assert d2.verdict == "diverged" and "Loss exploded at step 3." in d2.evidence


def test_diverged_when_finite_loss_explodes():
    h = make([0.9, 6.3e5, 6.3e5], [0.5, 0.0, 0.0], config={"lr": 1e6})
    h.log_step(step=1, epoch=0.3, train_loss=0.8652)
    d = diagnose(h)
    assert d.verdict == "diverged"
    assert "exploded to 630000 at epoch 2" in text(d) and "0.8652" in text(d)
    assert "from 1e+06 to 100000" in d.advice[0]


def test_too_short_and_interrupted():
    assert diagnose(History()).verdict == "too short to tell"
    assert diagnose(make([1.0], [0.9])).verdict == "too short to tell"
    d = diagnose(make([1.0], [0.9], stop_reason="interrupted"))
    assert d.verdict == "interrupted"
    assert d.advice == ADVICE["interrupted"]


def test_interrupted_with_enough_epochs_still_judged():
    d = diagnose(make([1.0, 0.7, 0.5, 0.4], [0.9, 0.7, 0.55, 0.45], stop_reason="interrupted"))
    assert d.verdict == "still improving"
    assert "interrupted" in d.evidence[0]


def test_no_validation_set():
    d = diagnose(make([1.0, 0.5, 0.3], [None, None, None]))
    assert d.verdict == "still improving"  # judged on the train loss alone
    assert diagnose(make([1.0, 0.5, 0.3, 0.3, 0.3], [None] * 5)).verdict == "good fit"
    assert diagnose(make([1.0, 0.9, 0.85], [None] * 3)).verdict == "under-fitting"
    assert "No validation loss" in text(d)


def test_monitor_accuracy_picks_best_epoch_by_max():
    h = make([1.0, 0.6, 0.4, 0.3, 0.2, 0.12], [0.9, 0.6, 0.5, 0.55, 0.62, 0.7])
    for rec, acc in zip(h.epochs, (0.5, 0.6, 0.7, 0.72, 0.71, 0.7), strict=True):
        rec["val_accuracy"] = acc
    d = diagnose(h, monitor="val_accuracy")
    assert d.best_epoch == 4 and d.monitor == "val_accuracy"
    assert d.verdict == "over-fitting"  # the curve shape is still judged on the losses


def test_early_stopping_is_mentioned():
    h = make([1.0, 0.6, 0.4, 0.3, 0.2], [0.9, 0.6, 0.5, 0.56, 0.6], stop_reason="early_stopping")
    d = diagnose(h)
    assert d.verdict == "over-fitting"
    assert "Early stopping ended training at epoch 5; best epoch kept: 3." in d.evidence


def test_deterministic_and_renders():
    h = make([1.0, 0.6, 0.4, 0.3, 0.2, 0.12], [0.9, 0.6, 0.5, 0.55, 0.62, 0.7])
    a, b = diagnose(h), diagnose(History.from_dict(h.to_dict()))
    assert a == b and str(a) == str(b)
    assert str(a).startswith("Verdict: over-fitting\n")
    assert "What to try:" in str(a)
    html = a._repr_html_()
    assert "<li>" in html and "over-fitting" in html
    assert set(VERDICTS) >= {a.verdict}


# ---- val loss never improves while train loss falls: nothing carries over (was "good fit") --------
CHANCE_TRAIN = [0.69, 0.45, 0.25, 0.12, 0.06, 0.03]
CHANCE_VAL = [0.70, 0.69, 0.695, 0.70, 0.69, 0.695]  # flat at ln 2: a coin toss on every val image


def test_flat_val_at_chance_while_train_falls_is_over_fitting():
    d = diagnose(make(CHANCE_TRAIN, CHANCE_VAL))
    assert d.verdict == "over-fitting"
    assert d.numbers["val_start"] == pytest.approx(0.70)
    assert d.numbers["val_gain"] == pytest.approx(1 - 0.69 / 0.70)
    t = text(d)
    assert "nothing carries over" in t and "4% of its start" in t and "1.4% below" in t and "(0.7;" in t
    assert d.regions == [(1, 6, "over-fitting")]  # no epoch generalised: no good-fit span
    assert any("more training data" in a.lower() for a in d.advice)


def test_flat_val_that_only_gets_worse_is_over_fitting():
    # val is best at epoch 1 and creeps up by less than the 5% noise threshold
    d = diagnose(make([0.7, 0.3, 0.15, 0.08], [0.69, 0.70, 0.71, 0.715]))
    assert d.verdict == "over-fitting" and d.best_epoch == 1


def test_first_epoch_already_good_is_not_flagged():
    # the first epoch already took val from the untrained loss (first step 0.72) to 0.2;
    # afterwards val is flat near its best while train keeps falling: a good fit
    h = make([0.35, 0.15, 0.10, 0.08, 0.07], [0.20, 0.19, 0.19, 0.19, 0.19])
    h.log_step(step=1, epoch=0.1, train_loss=0.72)
    d = diagnose(h)
    assert d.verdict == "good fit"
    assert d.numbers["val_start"] == 0.72 and d.numbers["val_gain"] > 0.7


def test_val_that_improves_from_a_high_start_is_not_flagged():
    # val starts far above train (a shifted val set) and improves a lot, ending near ln 2
    d = diagnose(make([0.69, 0.3, 0.15, 0.1, 0.08], [2.0, 0.9, 0.7, 0.66, 0.65]))
    assert d.verdict != "over-fitting"


def test_flat_val_with_little_training_progress_is_not_this_rule():
    # train loss only fell to 60% of its start: not enough to call it memorising
    d = diagnose(make([0.69, 0.55, 0.47, 0.43, 0.415], [0.70, 0.69, 0.69, 0.69, 0.69]))
    assert "nothing carries over" not in text(d)
