"""Lesson 02's exercise checks read the truth off the lab (runs, runner, sweep) without widget
clicks; a wrong or missing answer gets a hint, never the answer or an exception."""

import pytest
import torch

import ftkit
from ftkit.errors import ConfigError
from ftkit.freeze import trainable_summary
from ftkit.lessons.l02_exercises import (
    check_backbone_lr,
    check_half_depth,
    check_lowest_val_loss_run,
    check_sweep_best,
)
from ftkit.lessons.l02_freeze_lab import LabConfig, freeze_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from ftkit.samples.helmet import generate_helmet_dataset

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("helmet")
    generate_helmet_dataset(root, n_train=16, n_val=8, n_test=8, size=32, seed=0)
    data = ftkit.load_image_folder(root, image_size=32)
    loaded = ftkit.load_vision("tiny-resnet", num_classes=len(data.classes))
    lab = freeze_lab(loaded, data, config=LabConfig(epochs=2, batch_size=16))
    lab.run(depth=0, lr=1e-3)
    lab.run(depth=1, lr=1e-2, backbone_lr_mult=0.1)
    return lab


def test_backbone_lr_is_lr_times_the_multiplier(lab, capsys):
    assert check_backbone_lr(1e-3, lab.runs[1]) and check_backbone_lr("0.001", lab.runs[1])
    assert not check_backbone_lr(1e-2, lab.runs[1])  # the head's rate
    out = capsys.readouterr().out.splitlines()[-1]
    assert out.startswith("Not yet:") and "0.001" not in out
    with pytest.raises(ConfigError, match="lab run"):
        check_backbone_lr(1e-3, lab)


def test_half_depth_is_computed_from_the_runner_and_leaves_the_slider_alone(lab, capsys):
    runner = lab.runner
    truth = next(
        d for d in range(runner.max_depth + 1) if runner.summary(d).trainable >= runner.summary(d).total / 2
    )
    lab.depth.value = 0
    assert check_half_depth(truth, lab) and not check_half_depth(truth + 1, lab)
    assert not check_half_depth(None, lab) and "No answer yet" in capsys.readouterr().out
    assert trainable_summary(runner.model).trainable == runner.summary(0).trainable  # back at the slider's 0


def test_lowest_val_loss_run_reads_the_runs_table(lab, capsys):
    table = lab.table()
    truth = int(table.sort_values("val_loss")["run"].iloc[0])
    assert check_lowest_val_loss_run(truth, lab)
    assert not check_lowest_val_loss_run(3 - truth, lab) and "Not yet" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="lab panel"):
        check_lowest_val_loss_run(1, table)


def test_sweep_best_needs_a_sweep_then_reads_its_best_cell(lab, capsys):
    fresh = freeze_lab(lab.runner.model, lab.runner.data, config=LabConfig(epochs=2, batch_size=16))
    assert (
        not check_sweep_best(None, fresh) and "no sweep yet" in capsys.readouterr().out
    )  # runs as committed
    assert not check_sweep_best(0.5, fresh) and "no sweep yet" in capsys.readouterr().out
    assert not check_lowest_val_loss_run(1, fresh) and "no runs yet" in capsys.readouterr().out
    table = lab.sweep(depths=[0], lrs=[1e-3, 1e-2])
    best = float(table["val_accuracy"].max())
    assert check_sweep_best(best, lab) and check_sweep_best(100 * best, lab)
    assert not check_sweep_best(best - 0.1, lab) and "Not yet" in capsys.readouterr().out
