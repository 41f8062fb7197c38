"""Lesson 05's exercise checks work the truth out from the run they are given and never raise."""

import pytest

import ftkit
from ftkit.lessons.l05_exercises import (
    check_diagnosis,
    check_lowest_val_loss,
    check_stop_epoch,
    check_wasted_epochs,
)


def history(train, val):
    h = ftkit.History()
    for epoch, (t, v) in enumerate(zip(train, val, strict=True), start=1):
        h.log_epoch(epoch=epoch, train_loss=t, val_loss=v)
    return h


OVERFIT = history([0.70, 0.40, 0.25, 0.15, 0.08, 0.04, 0.02], [0.68, 0.42, 0.33, 0.36, 0.42, 0.50, 0.55])
GOOD = history([0.70, 0.40, 0.25, 0.20, 0.18, 0.17], [0.68, 0.40, 0.28, 0.25, 0.245, 0.25])


def test_check_diagnosis_compares_with_what_diagnose_reads(capsys):
    assert check_diagnosis("Over-fitting ", OVERFIT) is True
    assert capsys.readouterr().out.startswith("Right: the curves show over-fitting")
    assert check_diagnosis("good fit", OVERFIT) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "over-fitting" not in out  # a hint, not the answer
    assert check_diagnosis("good fit", GOOD) is True
    assert check_diagnosis("overfit", GOOD) is False and "one of" in capsys.readouterr().out
    assert check_diagnosis(None, GOOD) is False and "No answer yet" in capsys.readouterr().out


def test_check_wasted_epochs_counts_from_the_kept_epoch(capsys):
    assert check_wasted_epochs(4, OVERFIT) is True  # best epoch 3 of 7
    assert check_wasted_epochs(3, OVERFIT) is False and "Not yet" in capsys.readouterr().out
    assert check_wasted_epochs(1, GOOD) is True  # best 0.245 at epoch 5 of 6
    assert check_wasted_epochs("4", OVERFIT) is False and check_wasted_epochs(True, GOOD) is False


def test_check_lowest_val_loss_uses_the_kept_epoch_not_the_last():
    # the over-fitting run ends worse (0.55 > 0.25) but its kept epoch is not better either: 0.33 vs 0.245
    runs = {"a": OVERFIT, "b": GOOD}
    assert check_lowest_val_loss("b", runs) and not check_lowest_val_loss("a", runs)
    late = history([0.7, 0.5, 0.4], [0.60, 0.20, 0.90])  # best 0.20 although it ends at 0.90
    assert check_lowest_val_loss("late", {"late": late, "good": GOOD})
    assert not check_lowest_val_loss("c", runs) and not check_lowest_val_loss(None, runs)
    assert check_lowest_val_loss("a", {}) is False


@pytest.mark.parametrize("patience, stop", [(1, 4), (2, 5), (4, 7), (5, 7)])
def test_check_stop_epoch_follows_fits_rule(patience, stop):
    assert check_stop_epoch(stop, OVERFIT, patience) is True
    assert check_stop_epoch(stop + 1, OVERFIT, patience) is False


def test_check_stop_epoch_agrees_with_fit():
    torch = pytest.importorskip("torch")
    from torch.utils.data import TensorDataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 4, generator=g)
    y = (x[:, 0] > 0).long()
    xv = torch.randn(16, 4, generator=g)
    yv = torch.randint(0, 2, (16,), generator=g)  # labels unrelated to inputs: val loss soon turns up
    train, val = TensorDataset(x, y), TensorDataset(xv, yv)
    runs = {}
    for patience in (None, 3):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
        cfg = ftkit.TrainConfig(epochs=30, lr=0.05, batch_size=8, seed=0, patience=patience)
        runs[patience] = ftkit.fit(model, train, val, cfg, progress=False)
    assert len(runs[3]) < 30, "the made-up task should stop early"
    assert check_stop_epoch(len(runs[3]), runs[None], 3) is True
