"""Lesson 00's exercise checks: the truth comes from what they are given, a wrong or missing
answer gets a hint (never the answer, never an exception), a right one returns True."""

import pytest
import torch
from torch import nn

import ftkit
from ftkit.errors import ConfigError
from ftkit.lessons.l00_exercises import check_accuracy, check_best_epoch, check_trainable_count, check_verdict


def history(pairs):
    h = ftkit.History()
    for epoch, (train_loss, val_loss) in enumerate(pairs, start=1):
        h.log_epoch(epoch=epoch, train_loss=train_loss, val_loss=val_loss)
    return h


OVERFITS = [(0.9, 0.8), (0.6, 0.55), (0.4, 0.45), (0.25, 0.5), (0.15, 0.6), (0.08, 0.72)]
STUCK = [(0.70, 0.70), (0.69, 0.70), (0.69, 0.69), (0.68, 0.69)]


def test_trainable_count_is_read_off_the_model(capsys):
    model = nn.Sequential(nn.Linear(10, 4), nn.Linear(4, 3))
    model[0].requires_grad_(False)
    assert check_trainable_count(15, model) and "15 parameters" in capsys.readouterr().out
    assert check_trainable_count("15", model) and not check_trainable_count(15.5, model)
    capsys.readouterr()
    assert not check_trainable_count(12, model)  # weights only, the biases forgotten
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "15" not in out
    model[0].requires_grad_(True)
    assert check_trainable_count(59, model) and not check_trainable_count(15, model)


def test_best_epoch_is_the_lowest_validation_loss(capsys):
    assert check_best_epoch(3, history(OVERFITS))
    assert not check_best_epoch(6, history(OVERFITS))  # the lowest training loss
    assert "Not yet" in capsys.readouterr().out
    assert not check_best_epoch(None, history(OVERFITS))
    assert "No answer yet" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="History"):
        check_best_epoch(3, [0.8, 0.5])


def test_accuracy_accepts_a_share_or_a_percentage_and_nothing_else(capsys):
    preds, targets = torch.tensor([0, 1, 1, 0, 1]), torch.tensor([0, 1, 0, 0, 0])
    assert check_accuracy(0.6, preds, targets) and check_accuracy(60, preds, targets)
    assert not check_accuracy(0.4, preds, targets) and not check_accuracy("sixty", preds, targets)
    assert "0.6" not in capsys.readouterr().out.split("Not yet")[-1]
    with pytest.raises(ConfigError, match="same length"):
        check_accuracy(0.5, [0, 1], [0])


def test_verdict_is_what_diagnose_says_about_the_answer(capsys):
    assert check_verdict(history(STUCK), "under-fitting")
    assert not check_verdict(history(OVERFITS), "under-fitting")
    assert "diagnose says 'over-fitting'" in capsys.readouterr().out
    assert check_verdict(history(OVERFITS), "over-fitting")
    assert not check_verdict(None) and "No answer yet" in capsys.readouterr().out
    assert not check_verdict([0.7, 0.7]) and "must be a History" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="Unknown verdict"):
        check_verdict(history(STUCK), "underfit")
