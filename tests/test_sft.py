"""ftkit.sft on the tiny random Qwen2 (seconds): training, masked loss, perplexity, generation, errors."""

import pytest
import torch
from tiny_data import PROMPTS, RECORDS, tiny_qwen2

from ftkit.errors import ConfigError
from ftkit.gen_eval import repetition_rate
from ftkit.infra.runtime import memory_advice, oom_guard
from ftkit.lora import LoraSettings, apply_lora
from ftkit.sft import compare_answers, generate, perplexity, response_loss, train_sft

FAST = dict(
    per_device_train_batch_size=2, gradient_accumulation_steps=1, max_length=64, eval_steps=2, verbose=False
)


pytestmark = pytest.mark.usefixtures("one_thread")


def _train(seed=0, steps=3):
    loaded = tiny_qwen2()
    model = apply_lora(loaded.model, LoraSettings(lora_dropout=0.1, seed=seed), verbose=False)
    run = train_sft(
        model, loaded.tokenizer, RECORDS, RECORDS[:2], max_steps=steps, learning_rate=1e-2, seed=seed, **FAST
    )
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
    assert run.tokens > 0 and run.steps == 3 and run.time_s > 0
    _, _, again = _train()
    assert [s["train_loss"] for s in again.history.steps] == losses  # seeded CPU runs repeat exactly
    assert [e["val_loss"] for e in again.history.epochs] == evals


def test_response_loss_counts_only_the_response():
    loaded = tiny_qwen2()
    short = response_loss(loaded.model, loaded.tokenizer, RECORDS[:1], max_length=64)
    # the same record with a much longer prompt: only the response is scored, so it barely moves
    long_prompt = dict(RECORDS[0], instruction="Write a safety note. " * 5)
    longer = response_loss(loaded.model, loaded.tokenizer, [long_prompt], max_length=128)
    assert abs(short - longer) < 0.5
    assert perplexity(loaded.model, loaded.tokenizer, ["some plain text here"]) > 1


def test_response_loss_does_not_depend_on_batching():
    loaded = tiny_qwen2()
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
    import ftkit.sft as sft
    from ftkit.data.sft_encoding import SFTCollator, build_sft_dataset

    loaded = tiny_qwen2()
    tok = loaded.tokenizer
    batch = SFTCollator(tok)(build_sft_dataset(tok, RECORDS[:3], 128).examples)
    with torch.no_grad():
        expected = loaded.model(**batch).loss.item()
    monkeypatch.setattr(sft, "_HEAD_CHUNK", 7)  # several chunks per batch, one ragged
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

    from ftkit.data.sft_encoding import build_sft_dataset

    loaded = tiny_qwen2()
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
    grouped = train_sft(
        model, loaded.tokenizer, ds, max_steps=1, seed=0, **dict(FAST, per_device_train_batch_size=4)
    )
    sampler = grouped.trainer._get_train_sampler()
    assert (
        isinstance(sampler, LengthGroupedSampler)
        and grouped.history.config["train_sampling_strategy"] == "group_by_length"
    )
    torch.manual_seed(0)
    shuffled = torch.randperm(len(ds)).tolist()
    assert padding(list(sampler)) < padding(shuffled) / 2


def test_oom_becomes_one_line_advice():
    with pytest.raises(ConfigError, match="gradient accumulation") as info:
        with oom_guard(batch_size=8, gradient_accumulation_steps=1):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert "batch_size=4, gradient_accumulation_steps=2" in str(info.value)
    assert "activation_checkpointing" in memory_advice()


def test_train_sft_refuses_a_frozen_model():
    loaded = tiny_qwen2()
    for p in loaded.model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ConfigError, match="apply_lora"):
        train_sft(loaded.model, loaded.tokenizer, RECORDS, max_steps=1)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(max_steps=0), "max_steps"),
        (dict(learning_rate=0), "learning_rate"),
        (dict(learning_rate=2.0), "learning_rate"),
        (dict(gradient_accumulation_steps=0), "gradient_accumulation_steps"),
        (dict(warmup_steps=1.5), "warmup_steps"),
        (dict(train_sampling_strategy="by_length"), "train_sampling_strategy"),
        (dict(activation_checkpointing="yes"), "activation_checkpointing"),
    ],
)
def test_bad_training_settings_stop_before_any_work(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        train_sft(None, None, RECORDS, **kwargs)  # no model needed: the check comes first


def test_warmup_share_is_rounded_to_whole_steps(monkeypatch):
    """warmup_steps=0.1 over 30 steps is 3 warm-up steps (the Trainer's own ceil would give 4)."""
    from transformers import Trainer

    seen = {}

    def stop(self, *args, **kwargs):  # record the arguments, skip the training itself
        seen["warmup"] = self.args.get_warmup_steps(self.args.max_steps)
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "train", stop)
    loaded = tiny_qwen2()
    model = apply_lora(loaded.model, LoraSettings(), verbose=False)
    with pytest.raises(KeyboardInterrupt):
        train_sft(model, loaded.tokenizer, RECORDS, max_steps=30, warmup_steps=0.1, **FAST)
    assert seen["warmup"] == 3


def test_generation_helpers():
    loaded = tiny_qwen2()
    answers = generate(loaded.model, loaded.tokenizer, PROMPTS, max_new_tokens=4)
    assert len(answers) == 2 and answers == generate(
        loaded.model, loaded.tokenizer, PROMPTS, max_new_tokens=4
    )
    table = compare_answers(answers, answers, loaded.tokenizer, PROMPTS, expected=["a", "b"])
    assert list(table.columns) == ["prompt", "base", "tuned", "expected"] and table["prompt"][1] == "Hello"
    with pytest.raises(ConfigError, match="answers"):
        compare_answers(answers[:1], answers, loaded.tokenizer, PROMPTS)
    assert repetition_rate("the cat sat. the cat sat. the cat sat.") == pytest.approx(4 / 7)


def test_batched_generation_answers_every_prompt_and_restores_the_padding_side():
    loaded = tiny_qwen2()
    tok = loaded.tokenizer
    side = tok.padding_side
    batched = generate(loaded.model, tok, PROMPTS + ["A third prompt"], max_new_tokens=4, batch_size=2)
    assert len(batched) == 3 and tok.padding_side == side
    assert batched == generate(
        loaded.model, tok, PROMPTS + ["A third prompt"], max_new_tokens=4, batch_size=2
    )
    with pytest.raises(ConfigError, match="batch_size"):
        generate(loaded.model, tok, PROMPTS, batch_size=0)
