"""The freeze-depth x learning-rate lab (ftkit.lessons.l02_freeze_lab), driven without a browser.

Buttons are pressed with `button.click()` (that calls the same handlers a browser click
does); sliders are moved by setting `.value` (that fires the same observers).
"""

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

import ftkit
from ftkit.diagnose import VERDICTS
from ftkit.errors import ConfigError
from ftkit.freeze import max_depth
from ftkit.lessons.l02_freeze_lab import FreezeLab, LabConfig, freeze_lab, parse_grid
from ftkit.lessons.l02_runners import TextRunner, VisionRunner

REPO = Path(__file__).resolve().parent.parent
FAST = LabConfig(epochs=2, batch_size=16)  # two epochs (enough for a verdict), one step each: fast


@pytest.fixture(scope="module")
def helmet(tmp_path_factory):
    from ftkit.samples.helmet import generate_helmet_dataset

    root = tmp_path_factory.mktemp("helmet")
    generate_helmet_dataset(root, n_train=16, n_val=8, n_test=8, size=32, seed=0)
    return ftkit.load_image_folder(root, image_size=32)


@pytest.fixture(scope="module")
def vision(helmet):
    torch.set_num_threads(1)
    return ftkit.load_vision("tiny-resnet", num_classes=len(helmet.classes))


@pytest.fixture()
def lab(vision, helmet):
    return freeze_lab(vision, helmet, config=FAST)


# ---- the config --------------------------------------------------------------------------------
def test_lab_config_refuses_bad_values_in_one_line():
    for bad in (dict(lr=0), dict(lr=5.0), dict(depth=-1), dict(epochs=0), dict(augment="yes")):
        with pytest.raises(ConfigError) as err:
            LabConfig(**bad)
        assert "\n" not in str(err.value)
    tc = LabConfig(lr=3e-4, backbone_lr_mult=0.3, epochs=4).train_config()
    assert (tc.lr, tc.backbone_lr_mult, tc.epochs) == (3e-4, 0.3, 4)


def test_parse_grid():
    assert parse_grid("1e-4, 1e-3;1e-2") == [1e-4, 1e-3, 1e-2]
    assert parse_grid("0 1 1 2", int) == [0, 1, 2]
    for bad, kind in (("abc", float), ("0.5", int), ("", float)):
        with pytest.raises(ConfigError):
            parse_grid(bad, kind)


# ---- the panel ---------------------------------------------------------------------------------
def test_depth_slider_updates_readout_and_config(lab, vision):
    assert lab.depth.max == max_depth(vision.model) == 5
    assert "freeze depth 0 of 5" in lab.readout.value
    before = lab.readout.value
    lab.depth.value = 2  # what dragging the slider does
    assert lab.readout.value != before
    assert "freeze depth 2 of 5" in lab.readout.value and "<table" in lab.readout.value
    assert lab.config.depth == 2
    assert lab.runner.summary(2).trainable > lab.runner.summary(0).trainable
    lab.lr.value = 1e-2
    assert lab.config.lr == pytest.approx(1e-2)


def test_train_button_adds_a_run_row_with_real_numbers(lab, vision):
    before = {k: v.clone() for k, v in vision.model.state_dict().items()}
    lab.train_button.click()
    assert "Error" not in lab.message.value, lab.message.value
    assert len(lab.runs) == 1 and len(lab.runs[0]) == 2
    lab.depth.value = 1
    lab.train_button.click()
    table = lab.table()
    assert list(table["run"]) == [1, 2] and list(table["depth"]) == [0, 1]
    for _, row in table.iterrows():
        assert 0.0 <= row["val_accuracy"] <= 1.0 and math.isfinite(row["val_loss"])
        assert row["verdict"] in VERDICTS
    assert table["trainable"][1] > table["trainable"][0] == lab.runner.summary(0).trainable
    # The caller's model is never trained: the lab works on its own copy.
    assert all(torch.equal(before[k], v) for k, v in vision.model.state_dict().items())


def test_runs_start_fresh_and_reuse_the_feature_cache(lab):
    first = lab.run(depth=0, lr=1e-3)
    lab.run(depth=1, lr=1e-2)  # trains layer4 and its BatchNorm statistics in between
    again = lab.run(depth=0, lr=1e-3)
    assert [r["val_loss"] for r in again.epochs] == [r["val_loss"] for r in first.epochs]
    assert [r["train_loss"] for r in again.epochs] == [r["train_loss"] for r in first.epochs]
    # The deeper run did not touch the original frozen tensors: the head-only re-run reuses their features.
    assert "feature cache ON" in again.config["feature_cache"] and "reused" in again.config["feature_cache"]
    numbers = lambda h: [{k: v for k, v in r.items() if k != "time_s"} for r in h.epochs]  # noqa: E731
    assert numbers(lab.run(depth=1, lr=1e-2)) == numbers(lab.runs[1])


def test_runs_train_copies_and_reset_puts_the_loaded_tensors_back(lab, vision):
    loaded = lab.runner.model.state_dict(keep_vars=True)  # the tensor objects, not copies
    lab.run(depth=1, lr=1e-2)
    now = lab.runner.model.state_dict(keep_vars=True)
    assert (
        now["conv1.weight"] is loaded["conv1.weight"]
        and now["layer3.0.bn1.running_mean"] is loaded["layer3.0.bn1.running_mean"]
    )  # frozen: the very same tensors
    assert (
        now["fc.weight"] is not loaded["fc.weight"]
        and now["layer4.0.conv1.weight"] is not loaded["layer4.0.conv1.weight"]
    )  # trained: fresh copies
    assert not torch.equal(now["fc.weight"], loaded["fc.weight"])
    lab.runner.reset()
    assert all(v is loaded[k] for k, v in lab.runner.model.state_dict(keep_vars=True).items())
    original = vision.model.state_dict()
    assert all(torch.equal(v, original[k]) for k, v in loaded.items())  # never trained in place


def test_sweep_fills_the_grid_and_picks_the_best(lab):
    table = lab.sweep(depths="0, 1", lrs="1e-3, 1e-2")
    assert len(table) == 4
    grid = table.pivot_table(index="depth", columns="lr", values="val_accuracy")
    assert grid.shape == (2, 2) and grid.notna().all().all()
    best = lab.best_sweep_config()
    assert (best.depth, best.lr) in {(d, lr) for d in (0, 1) for lr in (1e-3, 1e-2)}
    assert table["val_accuracy"].max() == pytest.approx(
        table[(table.depth == best.depth) & (table.lr == best.lr)]["val_accuracy"].iloc[0]
    )
    assert lab.heatmap().axes  # a drawn figure
    assert "sweep done" in lab.message.value


def test_bad_input_shows_one_red_line_not_a_traceback(lab):
    lab.sweep_lrs.value = "1e-3, fast"
    lab.sweep_button.click()  # must not raise
    assert "ConfigError" in lab.message.value and "fast" in lab.message.value
    assert "\n" not in lab.message.value and "Traceback" not in lab.message.value
    lab.sweep_lrs.value = "1e-3"
    lab.sweep_depths.value = "0, 9"
    lab.sweep_button.click()
    assert "from 0 (head only) to 5" in lab.message.value and "got 9" in lab.message.value
    assert lab.sweep_table is None  # refused before any run
    with pytest.raises(ConfigError):
        lab.run(depth=7)
    assert lab.runs == []


def test_evaluate_needs_a_run_then_reports_test_metrics(lab):
    with pytest.raises(ConfigError):
        lab.runner.evaluate("test")
    lab.run()
    scores = lab.runner.evaluate("test")
    assert set(scores) >= {"accuracy", "f1_macro", "loss"} and 0.0 <= scores["accuracy"] <= 1.0


def test_the_same_panel_works_for_text():
    data = ftkit.load_text_table(REPO / "data_samples" / "sentiment" / "sentiment_en.csv", max_rows=40)
    loaded = ftkit.load_text_classifier("tiny-bert", num_labels=data.num_labels, id2label=data.id2label)
    lab = freeze_lab(loaded, data, config=FAST, max_length=32)
    assert isinstance(lab, FreezeLab) and isinstance(lab.runner, TextRunner)
    assert lab.depth.max == max_depth(loaded.model) and lab.augment.disabled
    lab.depth.value = 1
    assert "freeze depth 1 of" in lab.readout.value
    lab.train_button.click()
    assert len(lab.runs) == 1 and 0.0 <= lab.table()["val_accuracy"][0] <= 1.0
    assert lab.runner.train_set.input_ids.shape[1] <= 32
    lab.augment.value = True  # disabled in the panel; set from code it is refused politely
    lab.train_button.click()
    assert "only available for images" in lab.message.value and len(lab.runs) == 1


def test_runner_rejects_wrong_inputs(vision, helmet):
    with pytest.raises(ConfigError):
        VisionRunner(object(), helmet)
    with pytest.raises(ftkit.DataError):
        VisionRunner(vision, pd.DataFrame())
    with pytest.raises(ConfigError):
        TextRunner(vision, helmet)  # a vision model has no tokenizer
