"""Lesson 01's check helpers work the truth out themselves, print a hint and never raise."""

from types import SimpleNamespace

import pandas as pd
from torch import nn

from ftkit.lessons.l01_exercises import (
    check_best_probe_block,
    check_missed_bare_heads,
    check_pretraining_gain,
    check_trainable,
)

CLASSES = ["helmet", "no_helmet"]


def test_check_trainable_counts_only_weights_that_train(capsys):
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))  # 15 + 8 weights
    model[0].requires_grad_(False)
    assert check_trainable(8, model) and "8 weights train" in capsys.readouterr().out
    assert not check_trainable(23, model)  # the frozen layer does not count
    assert "Not yet" in capsys.readouterr().out
    assert not check_trainable(None, model) and "No answer yet" in capsys.readouterr().out
    assert not check_trainable("many", model)


def test_check_missed_bare_heads_reads_the_costly_cell(capsys):
    targets = [1, 1, 1, 0, 0, 1]
    preds = [0, 1, 0, 1, 0, 1]  # two bare heads called helmet, one false alarm
    assert check_missed_bare_heads(2, targets, preds, CLASSES)
    assert not check_missed_bare_heads(3, targets, preds, CLASSES)  # the false alarm is the other mistake
    assert not check_missed_bare_heads(2, targets, preds, ["no_helmet", "helmet"])  # classes set the roles
    hint = capsys.readouterr().out.splitlines()[1]
    assert hint.startswith("Not yet") and "2" not in hint  # the hint does not give the answer away


def test_check_pretraining_gain_uses_the_race_table(capsys):
    table = pd.DataFrame({"test accuracy": [0.93, 0.61]}, index=["pretrained", "random init"])
    race = SimpleNamespace(table=table)
    assert check_pretraining_gain(0.32, race) and check_pretraining_gain("0.318", race)
    assert not check_pretraining_gain(32, race)  # percent, not a fraction
    assert not check_pretraining_gain(-0.32, race)
    assert "fraction" in capsys.readouterr().out


def test_check_best_probe_block_accepts_any_tied_best(capsys):
    index = pd.MultiIndex.from_tuples([("stem", 32), ("stage3", 40), ("stage5", 112), ("head_conv", 1280)])
    probe = pd.DataFrame({"pretrained": [0.7, 0.95, 0.95, 0.9], "random init": [0.8, 0.7, 0.6, 0.5]}, index)
    assert check_best_probe_block("stage3", probe) and check_best_probe_block(" Stage5 ", probe)
    assert not check_best_probe_block("head_conv", probe)
    assert check_best_probe_block("stem", probe, column="random init")
    assert not check_best_probe_block("layer9", probe) and not check_best_probe_block(None, probe)
    assert "No answer yet" in capsys.readouterr().out
