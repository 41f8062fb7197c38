"""ftkit.lora on the tiny random Qwen2 (seconds): counts, training, save/reload, merge, errors."""

import pytest
import torch

from ftkit.errors import ConfigError, ModelError, SaveError
from ftkit.infra.presets import load_causal_lm
from ftkit.lora import (
    LoraSettings,
    apply_lora,
    generate,
    linear_module_names,
    load_adapter,
    logits_agree,
    memory_advice,
    merge,
    oom_guard,
    perplexity,
    response_loss,
    save_adapter,
    train_sft,
    trainable_share,
)

RECORDS = [  # a tiny repeated set: a few steps must lower the loss on it
    {
        "instruction": "Write a safety note.",
        "input": "A ladder is broken.",
        "output": "RISK: HIGH\nHAZARD: Falling.\nACTION: Remove the ladder.\nWHO: Site supervisor",
    },
    {
        "instruction": "Write a safety note.",
        "input": "A spill in the kitchen.",
        "output": "RISK: MEDIUM\nHAZARD: Slipping.\nACTION: Mop the floor.\nWHO: Kitchen manager",
    },
] * 2
PROMPTS = ["Write a safety note.\n\nA cable is frayed.", "Hello"]
FAST = dict(batch_size=2, grad_accum=1, max_length=64, eval_every=2, verbose=False)


@pytest.fixture(autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # two busy cores: one thread is as fast and does not fight
    yield
    torch.set_num_threads(old)


def tiny():
    return load_causal_lm("tiny-qwen2", seed=0)


def test_trainable_share_matches_hand_count():
    loaded = tiny()
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
    loaded = tiny()
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
        (dict(r=0), "rank"),
        (dict(lora_alpha=0), "lora_alpha"),
        (dict(lora_dropout=1.0), "lora_dropout"),
        (dict(target_modules="attention"), "preset"),
        (dict(target_modules=[]), "target_modules"),
    ],
)
def test_bad_settings_raise_config_error(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        LoraSettings(**kwargs)


def test_unknown_target_module_lists_the_available_names():
    loaded = tiny()
    with pytest.raises(ConfigError) as info:
        apply_lora(loaded.model, LoraSettings(target_modules=["query", "v_proj"]))
    message = str(info.value)
    assert "['query']" in message and "q_proj" in message and "down_proj" in message and "\n" not in message
    assert not any(p.requires_grad is False for p in loaded.model.parameters())  # the model was not touched


def _train(seed=0, steps=3):
    loaded = tiny()
    model = apply_lora(loaded.model, LoraSettings(lora_dropout=0.1, seed=seed), verbose=False)
    run = train_sft(model, loaded.tokenizer, RECORDS, RECORDS[:2], steps=steps, lr=1e-2, seed=seed, **FAST)
    return loaded, model, run


@pytest.fixture(scope="module")
def trained():
    """(loaded, peft model, run) after 3 steps: shared by the tests that only read it."""
    torch.set_num_threads(1)
    return _train()


def test_training_lowers_loss_and_repeats_exactly(trained):
    loaded, model, run = trained
    losses = [s["train_loss"] for s in run.history.steps]
    assert len(losses) == 3 and losses[-1] < losses[0]
    evals = [e["val_loss"] for e in run.history.epochs]
    assert len(evals) == 2 and evals[-1] < evals[0]  # eval loss is logged for plot_history / diagnose
    assert run.tokens > 0 and run.steps == 3
    _, _, again = _train()
    assert [s["train_loss"] for s in again.history.steps] == losses  # seeded CPU runs repeat exactly
    assert [e["val_loss"] for e in again.history.epochs] == evals


def test_response_loss_counts_only_the_response():
    loaded = tiny()
    short = response_loss(loaded.model, loaded.tokenizer, RECORDS[:1], max_length=64)
    # the same record with a much longer prompt: only the response is scored, so it barely moves
    long_prompt = dict(RECORDS[0], instruction="Write a safety note. " * 5)
    longer = response_loss(loaded.model, loaded.tokenizer, [long_prompt], max_length=128)
    assert abs(short - longer) < 0.5
    assert perplexity(loaded.model, loaded.tokenizer, ["some plain text here"]) > 1


def test_response_loss_does_not_depend_on_batching():
    loaded = tiny()
    # records of very different lengths: batched together they get padded; padding must not count
    mixed = RECORDS[:2] + [
        dict(RECORDS[0], instruction="Write a safety note. " * 6),
        dict(RECORDS[1], output="RISK: LOW"),
    ]
    one_by_one = response_loss(loaded.model, loaded.tokenizer, mixed, max_length=128, batch_size=1)
    batched = response_loss(loaded.model, loaded.tokenizer, mixed, max_length=128, batch_size=4)
    assert batched == pytest.approx(one_by_one, rel=1e-5)


def test_response_loss_matches_the_models_own_loss(monkeypatch):
    """The output layer runs only on the scored positions, in chunks: the sum must equal the
    model's own loss over full logits (HF shifts labels and averages the same tokens)."""
    import ftkit.lora as lora
    from ftkit.data.instructions import SFTCollator, build_sft_dataset

    loaded = tiny()
    tok = loaded.tokenizer
    batch = SFTCollator(tok)(build_sft_dataset(tok, RECORDS[:3], 128).examples)
    with torch.no_grad():
        expected = loaded.model(**batch).loss.item()
    monkeypatch.setattr(lora, "_HEAD_CHUNK", 7)  # several chunks per batch, one ragged
    assert response_loss(loaded.model, tok, RECORDS[:3], max_length=128, batch_size=3) == pytest.approx(
        expected, rel=1e-5
    )
    model = apply_lora(loaded.model, LoraSettings(r=4, lora_alpha=8), verbose=False)
    for p in model.parameters():
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.2)  # B != 0: the adapters change the answer, and must be used
    model.eval()  # no LoRA dropout in the reference either
    with torch.no_grad():
        with_adapters = model(**batch).loss.item()
    assert with_adapters != pytest.approx(expected, rel=1e-3)
    assert response_loss(model, tok, RECORDS[:3], max_length=128, batch_size=2) == pytest.approx(
        with_adapters, rel=1e-5
    )


def test_group_by_length_batches_similar_lengths():
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from ftkit.data.instructions import build_sft_dataset

    loaded = tiny()
    # 112 records: the Trainer sorts by length inside shuffled chunks of ~len/4 records (at most 50 batches)
    records = [dict(RECORDS[i % 2], input="A cable is frayed. " * (1 + i % 7)) for i in range(112)]
    ds = build_sft_dataset(loaded.tokenizer, records, max_length=128)

    def padding(order, batch=4):  # padded positions when batches of `batch` follow `order`
        lengths = [ds.lengths[i] for i in order]
        return sum(
            max(lengths[i : i + batch]) * len(lengths[i : i + batch]) - sum(lengths[i : i + batch])
            for i in range(0, len(lengths), batch)
        )

    model = apply_lora(loaded.model, LoraSettings(), verbose=False)
    grouped = train_sft(model, loaded.tokenizer, ds, steps=1, seed=0, **dict(FAST, batch_size=4))
    sampler = grouped.trainer._get_train_sampler()
    assert isinstance(sampler, LengthGroupedSampler) and grouped.history.config["group_by_length"]
    torch.manual_seed(0)
    shuffled = torch.randperm(len(ds)).tolist()
    assert padding(list(sampler)) < padding(shuffled) / 2


def test_save_reload_gives_identical_logits_and_generations(trained, tmp_path):
    loaded, model, _ = trained
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    answers = generate(model, loaded.tokenizer, PROMPTS, max_new_tokens=6)
    folder = save_adapter(model, tmp_path / "adapter")
    assert (folder / "adapter_model.safetensors").is_file()
    with pytest.raises(SaveError):
        save_adapter(model, folder)  # never overwrite without being asked
    reloaded = load_adapter(tiny().model, folder)
    assert torch.equal(model(input_ids=ids).logits, reloaded(input_ids=ids).logits)
    assert generate(reloaded, loaded.tokenizer, PROMPTS, max_new_tokens=6) == answers
    with pytest.raises(ModelError):
        load_adapter(tiny().model, tmp_path)


def test_merged_model_agrees_with_adapter_model(trained):
    loaded, model, _ = trained
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    merged = merge(model)
    assert not hasattr(merged, "peft_config")
    assert logits_agree(model, merged, ids, atol=1e-4)
    # and the check can fail: the base model (adapters off) differs from the tuned one
    with model.disable_adapter():
        base_logits = model(input_ids=ids).logits
    assert (base_logits - merged(input_ids=ids).logits).abs().max() > 1e-4


def test_oom_becomes_one_line_advice():
    with pytest.raises(ConfigError, match="gradient accumulation") as info:
        with oom_guard(batch_size=8, grad_accum=1):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert "batch_size=4, grad_accum=2" in str(info.value)
    assert "gradient_checkpointing" in memory_advice()


def test_train_sft_refuses_a_frozen_model():
    loaded = tiny()
    for p in loaded.model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ConfigError, match="apply_lora"):
        train_sft(loaded.model, loaded.tokenizer, RECORDS, steps=1)


def test_panel_builds_settings_and_config_only():
    pytest.importorskip("ipywidgets")
    from ftkit.lessons.l04_lora import LoraPanel

    calls = []
    panel = LoraPanel(lambda: calls.append("load"), RECORDS, RECORDS[:1], steps=7, lr=1e-3)
    panel.rank.value, panel.alpha.value, panel.targets.value = 16, 8.0, "all linear"
    settings = panel.settings()
    assert (settings.r, settings.lora_alpha, settings.target_modules, settings.scale) == (
        16,
        8.0,
        "all linear",
        0.5,
    )
    config = panel.train_config()
    assert config["steps"] == 7 and config["lr"] == pytest.approx(1e-3) and config["grad_accum"] == 2
    panel.alpha.value = 0.0  # a bad value: the panel reports it and never loads or trains
    assert panel.train() is None and "lora_alpha" in panel.status.value and calls == []


def test_memory_table_counts_activations_and_optimizer_state(trained):
    from ftkit.lora import training_memory_table

    loaded, model, _ = trained
    ids = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10]] * 2)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    table = training_memory_table(model, batch).set_index("run")
    lora, full = table.loc["LoRA"], table.loc["full fine-tuning"]
    assert (
        lora["gradients + AdamW MB"] < full["gradients + AdamW MB"]
    )  # frozen weights need no grads or Adam state
    assert full["gradients + AdamW MB"] == pytest.approx(3220032 * 12 / 2**20, abs=0.1)
    # checkpointing keeps fewer activations; at least the 2 x 8 x 49k logits stay in both
    logits_mb = 2 * 8 * model.config.vocab_size * 4 / 2**20
    assert (
        logits_mb - 0.1
        <= table.loc["LoRA + gradient checkpointing", "activations MB"]
        < lora["activations MB"]
    )


def test_measuring_activations_leaves_no_graph_alive(trained):
    """The saved-tensor hook must not keep the measured forward pass alive: returning the saved
    tensor itself made each call leak its whole graph (a C++ cycle gc cannot free)."""
    import gc

    from ftkit.lora import activation_memory_mb

    _, model, _ = trained
    ids = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10]] * 2)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    assert activation_memory_mb(model, batch) > 0
    gc.collect()
    alive = [o for o in gc.get_objects() if torch.is_tensor(o) and o.grad_fn is not None]
    assert alive == []


def test_measure_train_memory_reports_each_side_in_its_own_process():
    from ftkit.lora import measure_train_memory

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
