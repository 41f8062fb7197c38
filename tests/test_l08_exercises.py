"""Lesson 08's checks work the truth out themselves, accept it, refuse near misses and never raise."""

import math

import pytest

from ftkit import TrainConfig
from ftkit.lessons import l08_exercises as ex
from ftkit.lessons.l08_scale import ARCHS, KIT, estimate_step, load_recipe


@pytest.fixture(scope="module")
def helmet():
    return load_recipe(KIT / "configs" / "helmet.yaml")


@pytest.fixture(scope="module")
def text():
    return load_recipe(KIT / "configs" / "text_cls.yaml")


def test_per_process_batch(helmet, capsys):
    batch = helmet.configs["head"].batch_size
    assert ex.check_per_process_batch(batch // 2, helmet, processes=2)
    assert ex.check_per_process_batch(batch // 4, helmet, processes=4)
    assert not ex.check_per_process_batch(batch, helmet, processes=2)
    assert not ex.check_per_process_batch(None, helmet, processes=2)
    assert "No answer yet" in capsys.readouterr().out.splitlines()[-1]


def test_per_device_batch_keeps_the_global_batch(text):
    per_device = text.configs["train"].per_device_train_batch_size
    assert ex.check_per_device_batch(per_device // 4, text, processes=4)
    assert not ex.check_per_device_batch(per_device, text, processes=4)
    assert not ex.check_per_device_batch(per_device * 4, text, processes=4)
    assert not ex.check_per_device_batch("four", text, processes=4)


def test_scaled_lr_rule_follows_the_optimizer():
    adam = TrainConfig(lr=1e-3, optimizer="adam")
    sgd = TrainConfig(lr=1e-2, optimizer="sgd")
    assert ex.check_scaled_lr(1e-3 * math.sqrt(8), adam, factor=8)
    assert not ex.check_scaled_lr(8e-3, adam, factor=8)
    assert ex.check_scaled_lr(8e-2, sgd, factor=8)
    assert not ex.check_scaled_lr(1e-2 * math.sqrt(8), sgd, factor=8)


def test_sharded_memory_from_the_estimate_model(capsys):
    row = estimate_step(ARCHS["qwen2.5-7b"], "full", 2, 256)
    states = row["weights_GB"] + row["grads_GB"] + row["optimizer_GB"]
    zero3 = states / 8 + row["activations_GB"]
    zero2 = row["weights_GB"] + (row["grads_GB"] + row["optimizer_GB"]) / 8 + row["activations_GB"]
    assert 15 < zero3 < zero2 < row["total_GB"]
    assert ex.check_sharded_memory(zero3, "qwen2.5-7b", "full", gpus=8, stage=3)
    assert ex.check_sharded_memory(zero2, "qwen2.5-7b", "full", gpus=8, stage=2)
    assert not ex.check_sharded_memory(zero2, "qwen2.5-7b", "full", gpus=8, stage=3)
    assert not ex.check_sharded_memory(row["total_GB"], "qwen2.5-7b", "full", gpus=8, stage=3)
    out = capsys.readouterr().out
    assert f"{zero3:.1f}" not in out and f"{zero2:.1f}" not in out  # hints never give the answer
