"""Tests for ftkit.lessons.l03_sentiment (lesson 03's own tools), on the tiny random BERT preset."""

from __future__ import annotations

import pytest
import torch
from tiny_data import SENTIMENT_CSV, tiny_bert

from ftkit.data.text import load_text_table
from ftkit.errors import ConfigError
from ftkit.freeze import max_depth
from ftkit.lessons import l03_sentiment as l03
from ftkit.textcls import TextRecipe, train_text


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models on a shared CPU: one thread is fastest and steadiest
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    return load_text_table(SENTIMENT_CSV, max_rows=40, seed=0, split=(0.6, 0.2, 0.2))


@pytest.fixture(scope="module")
def ds(data):
    return data.to_hf(tiny_bert(data).tokenizer, max_length=64)


def test_layerwise_optimizer_groups(data):
    model = tiny_bert(data).model
    opt = l03.layerwise_optimizer(model, head_lr=5e-4, encoder_lr=1e-5, weight_decay=0.01)
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert (
        lrs["head"] == 5e-4
        and lrs["embeddings"] == pytest.approx(1e-5)
        and lrs["encoder.layer.0"] == pytest.approx(1e-5)
    )
    seen = [id(p) for g in opt.param_groups for p in g["params"]]
    assert sorted(seen) == sorted(id(p) for p in model.parameters())  # every parameter exactly once
    no_decay = {id(p) for g in opt.param_groups if g["weight_decay"] == 0 for p in g["params"]}
    assert id(model.classifier.bias) in no_decay and id(model.classifier.weight) not in no_decay
    with pytest.raises(ConfigError):
        l03.layerwise_optimizer(model, head_lr=1e-5, encoder_lr=1e-3)


def test_freezing_strategies_depths(data):
    model = tiny_bert(data).model  # blocks: embeddings, 2 encoder layers, pooler
    assert max_depth(model) == 4
    assert l03.freezing_strategies(model, frozen_layers=3) == {
        "full fine-tuning": 4,
        "first 2 layers frozen": 1,
        "head only": 0,
        "progressive unfreezing": None,
    }


def test_progressive_unfreezing_trains_only_unfrozen_blocks(data, ds, tmp_path):
    model = tiny_bert(data).model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    from ftkit.freeze import freeze

    freeze(model, 0)
    opt = l03.all_params_optimizer(model, lr=1e-3)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    assert not any(p.requires_grad for p in model.bert.parameters())  # the freeze state is kept
    progressive = l03.ProgressiveUnfreezing(blocks_per_epoch=1)
    train_text(
        model,
        tiny_bert(data).tokenizer,
        ds,
        TextRecipe(num_train_epochs=2, learning_rate=1e-3),
        "progressive",
        tmp_path,
        optimizer=opt,
        callbacks=[progressive],
    )
    assert progressive.schedule == [(1, 0), (2, 1)]
    after = model.state_dict()
    assert torch.equal(
        after["bert.embeddings.word_embeddings.weight"], before["bert.embeddings.word_embeddings.weight"]
    )
    assert torch.equal(
        after["bert.encoder.layer.0.attention.self.query.weight"],
        before["bert.encoder.layer.0.attention.self.query.weight"],
    )
    assert not torch.equal(
        after["bert.pooler.dense.weight"], before["bert.pooler.dense.weight"]
    )  # unfrozen in epoch 2
    assert not torch.equal(after["classifier.weight"], before["classifier.weight"])


def test_set_dropout(data):
    loaded = tiny_bert(data)
    assert l03.set_dropout(loaded.model, 0.3) > 0
    assert all(m.p == 0.3 for m in loaded.model.modules() if isinstance(m, torch.nn.Dropout))
    with pytest.raises(ConfigError):
        l03.set_dropout(loaded.model, 1.0)


def test_time_padding_reports_both_sides(data):
    loaded = tiny_bert(data)
    state = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    r = l03.time_padding(loaded.model, loaded.tokenizer, data.train["text"][:8], max_length=128, batch_size=4)
    assert r["max_length_mean_length"] == 128 and r["dynamic_mean_length"] < 128
    assert r["ratio"] == pytest.approx(r["dynamic_texts_per_s"] / r["max_length_texts_per_s"])
    assert all(torch.equal(v, loaded.model.state_dict()[k]) for k, v in state.items())  # weights unchanged


def test_classifier_from_encoder_reports_missing_head(data, tmp_path):
    model, info = l03.classifier_from_encoder(tiny_bert(data).model, tmp_path / "enc", data.id2label)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert model.config.id2label == data.id2label


def test_compare_peft_table_rows_and_counts(data, ds, tmp_path):
    from ftkit.peft_methods import apply_peft, peft_settings

    tokenizer = tiny_bert(data).tokenizer
    recipe = TextRecipe(num_train_epochs=1, learning_rate=1e-3)
    lora = apply_peft(
        tiny_bert(data).model,
        peft_settings("lora", task_type="SEQ_CLS", target_modules=["query", "value"]),
        verbose=False,
    )
    lora_run = train_text(lora, tokenizer, ds, recipe, "LoRA", tmp_path / "lora")
    methods = {
        "(IA)3": (peft_settings("ia3", task_type="SEQ_CLS"), 1e-2),
        "prefix": (peft_settings("prefix", task_type="SEQ_CLS", num_virtual_tokens=4), 3e-2),
    }
    table, runs = l03.compare_peft(
        lambda: tiny_bert(data).model,
        tokenizer,
        ds,
        recipe,
        methods,
        tmp_path,
        data.test,
        trained=[(lora_run, lora)],
    )
    assert list(table["run"]) == ["LoRA", "(IA)3", "prefix"] and len(runs) == 3
    assert list(table["learning_rate"]) == [1e-3, 1e-2, 3e-2]
    h, layers = lora.config.hidden_size, lora.config.num_hidden_layers
    assert table["trainable"].iloc[2] == 4 * layers * 2 * h + (2 * h + 2)  # PEFT's count = the hand count
    assert table["test_f1_macro"].between(0, 1).all() and all(r.trainer is None for r in runs[1:])
    with pytest.raises(ConfigError, match="compare_peft takes"):
        l03.compare_peft(lambda: tiny_bert(data).model, tokenizer, ds, recipe, {}, tmp_path, data.test)
