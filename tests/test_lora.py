"""ftkit.lora on the tiny random Qwen2 and BERT (seconds): counts, settings, save/reload, merge, SEQ_CLS."""

import numpy as np
import pytest
import torch
from tiny_data import PROMPTS, RECORDS, SENTIMENT_CSV, tiny_qwen2

from ftkit.data.text import load_text_table
from ftkit.errors import ConfigError, ModelError, SaveError
from ftkit.infra.presets import load_text_classifier
from ftkit.lora import (
    LoraSettings,
    adapter_sizes,
    apply_lora,
    linear_module_names,
    load_adapter,
    load_adapters,
    logits_agree,
    merge,
    save_adapter,
    switch_adapters,
    trainable_share,
)
from ftkit.sft import generate, train_sft
from ftkit.textcls import predict_proba

pytestmark = pytest.mark.usefixtures("one_thread")


def test_trainable_share_matches_hand_count():
    loaded = tiny_qwen2()
    cfg = loaded.model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    d, q_out, v_out, r = (
        cfg.hidden_size,
        cfg.num_attention_heads * head_dim,
        cfg.num_key_value_heads * head_dim,
        8,
    )
    per_layer = r * (d + q_out) + r * (d + v_out)  # A: r x d_in, B: d_out x r, for q_proj and v_proj
    expected = cfg.num_hidden_layers * per_layer
    assert expected == 2 * (8 * (64 + 64) + 8 * (64 + 32)) == 3584  # the numbers written out
    total_before = sum(p.numel() for p in loaded.model.parameters())
    model = apply_lora(
        loaded.model, LoraSettings(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj"]), verbose=False
    )
    share = trainable_share(model)
    assert share["trainable"] == expected
    assert share["total"] == total_before + expected
    assert share["percent"] == pytest.approx(100 * expected / (total_before + expected))


def test_all_linear_adapts_every_block_linear_but_not_the_head():
    loaded = tiny_qwen2()
    assert linear_module_names(loaded.model) == [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ]
    model = apply_lora(loaded.model, LoraSettings(target_modules="all linear"), verbose=False)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("down_proj.lora_A" in n for n in names) and not any("lm_head" in n for n in names)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(r=0), "r must be a whole number"),
        (dict(lora_alpha=0), "lora_alpha"),
        (dict(lora_dropout=1.0), "lora_dropout"),
        (dict(target_modules="attention"), "preset"),
        (dict(target_modules=[]), "target_modules"),
        (dict(task_type="TOKEN_CLS"), "task_type"),
        (dict(modules_to_save="classifier"), "modules_to_save"),
    ],
)
def test_bad_settings_raise_config_error(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        LoraSettings(**kwargs)


def test_unknown_target_module_lists_the_available_names():
    loaded = tiny_qwen2()
    with pytest.raises(ConfigError) as info:
        apply_lora(loaded.model, LoraSettings(target_modules=["query", "v_proj"]))
    message = str(info.value)
    assert "['query']" in message and "q_proj" in message and "down_proj" in message and "\n" not in message
    assert not any(p.requires_grad is False for p in loaded.model.parameters())  # the model was not touched


@pytest.fixture(scope="module")
def trained():
    """(loaded, peft model) after 3 training steps: shared by the tests that only read it."""
    torch.set_num_threads(1)
    loaded = tiny_qwen2()
    model = apply_lora(loaded.model, LoraSettings(lora_dropout=0.1, seed=0), verbose=False)
    fast = dict(per_device_train_batch_size=2, gradient_accumulation_steps=1, max_length=64, verbose=False)
    train_sft(model, loaded.tokenizer, RECORDS, RECORDS[:2], max_steps=3, learning_rate=1e-2, **fast)
    return loaded, model


def test_save_reload_gives_identical_logits_and_generations(trained, tmp_path):
    loaded, model = trained
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    answers = generate(model, loaded.tokenizer, PROMPTS, max_new_tokens=6)
    folder = save_adapter(model, tmp_path / "adapter")
    assert (folder / "adapter_model.safetensors").is_file()
    with pytest.raises(SaveError):
        save_adapter(model, folder)  # never overwrite without being asked
    reloaded = load_adapter(tiny_qwen2().model, folder)
    assert torch.equal(model(input_ids=ids).logits, reloaded(input_ids=ids).logits)
    assert generate(reloaded, loaded.tokenizer, PROMPTS, max_new_tokens=6) == answers
    with pytest.raises(ModelError):
        load_adapter(tiny_qwen2().model, tmp_path)


def test_merged_model_agrees_with_adapter_model(trained):
    loaded, model = trained
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    merged = merge(model)
    assert not hasattr(merged, "peft_config")
    assert logits_agree(model, merged, ids, atol=1e-4)
    # and the check can fail: the base model (adapters off) differs from the tuned one
    with model.disable_adapter():
        base_logits = model(input_ids=ids).logits
    assert (base_logits - merged(input_ids=ids).logits).abs().max() > 1e-4


# ---- SEQ_CLS: a BERT classifier (lesson 03) ---------------------------------------------------
@pytest.fixture(scope="module")
def sentiment():
    return load_text_table(SENTIMENT_CSV, max_rows=40, seed=0, split=(0.6, 0.2, 0.2))


def tiny_bert(data, seed=0):
    return load_text_classifier("tiny-bert", num_labels=2, id2label=data.id2label, seed=seed)


def test_seq_cls_preset_finds_bert_names_and_keeps_the_head_whole(sentiment):
    settings = LoraSettings(task_type="SEQ_CLS", target_modules="attention q,v")
    assert settings.resolve_targets(tiny_bert(sentiment).model) == ["query", "value"]  # BERT's spelling
    everything = LoraSettings(task_type="SEQ_CLS", target_modules="all linear")
    targets = everything.resolve_targets(tiny_bert(sentiment).model)
    assert {"query", "key", "value", "dense"} <= set(targets) and "classifier" not in targets


def test_seq_cls_lora_save_reload_identical(sentiment, tmp_path):
    loaded = tiny_bert(sentiment)
    settings = LoraSettings(
        task_type="SEQ_CLS",
        r=4,
        lora_alpha=8,
        target_modules=["query", "value"],
        modules_to_save=["classifier"],
    )
    peft_model = apply_lora(loaded.model, settings, verbose=False)
    names = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in names) and any("classifier" in n for n in names)
    assert not any("word_embeddings" in n for n in names)
    with torch.no_grad():  # move the adapter and the head away from their initial values
        for p in peft_model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    folder = save_adapter(peft_model, tmp_path / "adapter")
    reloaded = load_adapter(tiny_bert(sentiment).model, folder)
    a = predict_proba(peft_model, loaded.tokenizer, sentiment.test["text"])
    b = predict_proba(reloaded, loaded.tokenizer, sentiment.test["text"])
    assert np.allclose(a, b, atol=1e-6)
    batch = loaded.tokenizer(list(sentiment.test["text"][:3]), padding=True, return_tensors="pt")
    assert logits_agree(peft_model, merge(peft_model), dict(batch), atol=1e-5)  # (batch x classes) logits
    with pytest.raises(ModelError):
        load_adapter(tiny_bert(sentiment).model, tmp_path)


def test_two_named_adapters_on_one_base_switch_back_and_forth(trained, tmp_path):
    loaded, model = trained
    first = save_adapter(model, tmp_path / "first")
    other = apply_lora(tiny_qwen2().model, LoraSettings(r=4, lora_alpha=16, seed=1), verbose=False)
    fast = dict(per_device_train_batch_size=2, gradient_accumulation_steps=1, max_length=64, verbose=False)
    train_sft(other, loaded.tokenizer, RECORDS[1:2] * 4, None, max_steps=3, learning_rate=5e-2, **fast)
    second = save_adapter(other, tmp_path / "second")
    own = {
        "first": generate(model, loaded.tokenizer, PROMPTS, max_new_tokens=6),
        "second": generate(other, loaded.tokenizer, PROMPTS, max_new_tokens=6),
    }
    assert own["first"] != own["second"]  # two different adapters, or the switch test proves nothing
    both = load_adapters(tiny_qwen2().model, {"first": first, "second": second})
    assert sorted(both.peft_config) == ["first", "second"] and both.active_adapter == "first"
    table, same = switch_adapters(both, loaded.tokenizer, PROMPTS, rounds=2, max_new_tokens=6)
    assert same and table["adapter first"].tolist() == own["first"]
    assert table["adapter second"].tolist() == own["second"]
    base = generate(tiny_qwen2().model, loaded.tokenizer, PROMPTS, max_new_tokens=6)
    assert table["base (adapters off)"].tolist() == base
    sizes = adapter_sizes({"first": first, "second": second}, both)
    assert sizes["what"].tolist() == ["adapter first", "adapter second", "a full copy of the model"]
    assert (sizes["MB"][:2] < sizes["MB"][2]).all()
    with pytest.raises(ModelError, match="second"):
        load_adapters(tiny_qwen2().model, {"first": first, "second": tmp_path})


def test_dora_adds_one_length_per_output_of_each_adapted_layer():
    loaded = tiny_qwen2()
    cfg = loaded.model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    q_out, v_out = cfg.num_attention_heads * head_dim, cfg.num_key_value_heads * head_dim
    settings = dict(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj"])
    lora = trainable_share(apply_lora(tiny_qwen2().model, LoraSettings(**settings), verbose=False))
    dora_model = apply_lora(loaded.model, LoraSettings(**settings, use_dora=True), verbose=False)
    dora = trainable_share(dora_model)
    assert dora["trainable"] - lora["trainable"] == cfg.num_hidden_layers * (q_out + v_out)
    assert any("lora_magnitude_vector" in n for n, p in dora_model.named_parameters() if p.requires_grad)


def test_use_dora_must_be_a_bool():
    with pytest.raises(ConfigError, match="use_dora"):
        LoraSettings(use_dora="yes")
