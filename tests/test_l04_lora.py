"""Lesson 04's tools (ftkit.lessons.l04_lora) on the tiny random Qwen2: the panel and the memory lab."""

import pytest
import torch

from ftkit.errors import ConfigError
from ftkit.infra.presets import load_causal_lm
from ftkit.lessons.l04_lora import (
    LoraPanel,
    activation_memory_mb,
    measure_train_memory,
    qlora_note,
    training_memory_table,
)
from ftkit.lora import LoraSettings, apply_lora

RECORDS = [
    {"instruction": "Write a safety note.", "input": "A ladder is broken.", "output": "RISK: HIGH"},
    {"instruction": "Write a safety note.", "input": "A spill in the kitchen.", "output": "RISK: MEDIUM"},
]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def lora_model():
    """The tiny Qwen2 with LoRA on q_proj, v_proj (memory is about sizes: no training needed)."""
    return apply_lora(load_causal_lm("tiny-qwen2", seed=0).model, LoraSettings(), verbose=False)


def test_panel_builds_settings_and_config_only():
    pytest.importorskip("ipywidgets")

    calls = []
    panel = LoraPanel(lambda: calls.append("load"), RECORDS, RECORDS[:1], max_steps=7, learning_rate=1e-3)
    panel.rank.value, panel.alpha.value, panel.targets.value = 16, 8.0, "all linear"
    settings = panel.settings()
    assert (settings.r, settings.lora_alpha, settings.target_modules, settings.scale) == (
        16,
        8.0,
        "all linear",
        0.5,
    )
    config = panel.train_config()
    assert config["max_steps"] == 7 and config["learning_rate"] == pytest.approx(1e-3)
    assert config["gradient_accumulation_steps"] == 2 and config["per_device_train_batch_size"] == 2
    panel.alpha.value = 0.0  # a bad value: the panel reports it and never loads or trains
    assert panel.train() is None and "lora_alpha" in panel.status.value and calls == []


def test_memory_table_counts_activations_and_optimizer_state(lora_model):
    model = lora_model
    ids = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10]] * 2)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    table = training_memory_table(model, batch).set_index("run")
    lora, full = table.loc["LoRA"], table.loc["full fine-tuning"]
    assert lora["gradients + AdamW MB"] < full["gradients + AdamW MB"]  # frozen weights: no grads, no Adam
    assert full["gradients + AdamW MB"] == pytest.approx(3220032 * 12 / 2**20, abs=0.1)
    # checkpointing keeps fewer activations; at least the 2 x 8 x 49k logits stay in both
    logits_mb = 2 * 8 * model.config.vocab_size * 4 / 2**20
    assert (
        logits_mb - 0.1
        <= table.loc["LoRA + gradient checkpointing", "activations MB"]
        < lora["activations MB"]
    )
    assert activation_memory_mb(model, batch, activation_checkpointing=True) < activation_memory_mb(
        model, batch
    )


def test_measuring_activations_leaves_no_graph_alive(lora_model):
    """The saved-tensor hook must not keep the measured forward pass alive: returning the saved
    tensor itself made each call leak its whole graph (a C++ cycle gc cannot free)."""
    import gc

    ids = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10]] * 2)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    assert activation_memory_mb(lora_model, batch) > 0
    gc.collect()
    alive = [o for o in gc.get_objects() if torch.is_tensor(o) and o.grad_fn is not None]
    assert alive == []


def test_measure_train_memory_reports_each_side_in_its_own_process():
    lora, full = measure_train_memory(
        [{"mode": "lora"}, {"mode": "full"}], model="tiny-qwen2", batch_size=2, seq_len=16, steps=3, threads=1
    )
    assert (
        lora["trainable"] == 3584 and full["trainable"] == full["total"] == lora["total"] - lora["trainable"]
    )
    for side in (lora, full):
        assert 0 < side["step_best_s"] <= side["step_s"]  # the best step is never slower than the mean
        assert side["peak_rss_mb"] >= side["load_rss_mb"] > 0 and side["tokens_per_step"] == 32
    with pytest.raises(ConfigError, match="mode"):
        measure_train_memory([{"mode": "half"}])


def test_qlora_note_says_whether_this_machine_can_run_it():
    import importlib.util

    note = qlora_note()
    ready = torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None
    assert "BitsAndBytesConfig" in note and "apply_lora" in note
    assert ("this machine can run it" in note) == ready and ("not here" in note) == (not ready)


def test_panel_run_reports_format_ok_of_held_out_answers():
    pytest.importorskip("ipywidgets")

    panel = LoraPanel(
        lambda: load_causal_lm("tiny-qwen2", seed=0), RECORDS, RECORDS, max_steps=1, max_new_tokens=4
    )
    assert panel.train() is not None
    assert panel.format_ok == 0.0  # a random tiny model writes no safety note
    assert "format_ok 0.00" in panel.status.value
