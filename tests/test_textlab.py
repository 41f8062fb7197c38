"""Tests for ftkit.lessons.l03_sentiment (the BERT lesson's plumbing), on the tiny random BERT preset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ftkit.data.text import load_text_table
from ftkit.errors import ConfigError
from ftkit.freeze import max_depth
from ftkit.infra.presets import load_text_classifier
from ftkit.lessons import l03_sentiment as tl

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "sentiment" / "sentiment_en.csv"


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models on a shared CPU: one thread is fastest and steadiest
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    return load_text_table(SAMPLE, max_rows=40, seed=0, split=(0.6, 0.2, 0.2))


def tiny(data, seed=0):
    return load_text_classifier("tiny-bert", num_labels=2, id2label=data.id2label, seed=seed)


@pytest.fixture(scope="module")
def ds(data):
    return data.to_hf(tiny(data).tokenizer, max_length=64)


def test_recipe_validates_and_replaces():
    with pytest.raises(ConfigError):
        tl.TextRecipe(epochs=0)
    with pytest.raises(ConfigError):
        tl.TextRecipe(warmup=1.5)
    with pytest.raises(ConfigError):
        tl.TextRecipe().replace(learning_rate=1e-3)  # the field is called lr
    r = tl.TextRecipe(lr=1e-4).replace(label_smoothing=0.1)
    assert (r.lr, r.label_smoothing) == (1e-4, 0.1)
    args = tl.training_args(r.replace(patience=2), "/tmp/unused")
    assert (
        args.eval_strategy == "epoch" and args.load_best_model_at_end and args.metric_for_best_model == "f1_macro"
    )
    assert tl.training_args(r, "/tmp/unused").save_strategy == "no"
    assert tl.training_args(r, "/tmp/unused").train_sampling_strategy == "random"
    assert (
        tl.training_args(r.replace(group_by_length=True), "/tmp/unused").train_sampling_strategy
        == "group_by_length"
    )
    with pytest.raises(ConfigError):
        tl.TextRecipe(group_by_length="yes")


def test_text_model_for_picks_chinese_bert_for_chinese_text(capsys):
    zh = ["这家酒店的服务非常好。", "摔了一次，屏幕就失灵了。"]
    en = [
        "The room was spotless.",
        "I love the food at 北京 Kitchen on Main Street.",
    ]  # a quoted name is not Chinese text
    assert tl.is_chinese(zh) and not tl.is_chinese(en) and not tl.is_chinese([])
    assert tl.text_model_for(zh, "default") == "bert-base-chinese"
    assert "[UNK]" in capsys.readouterr().out  # it says why
    assert tl.text_model_for(en, "gpu") is None  # the profile's own model (bert-base-uncased on gpu)
    assert tl.text_model_for(zh, "smoke") is None  # tests keep the tiny random model
    assert tl.text_model_for(zh, "default", model="minilm-l6") == "minilm-l6"  # an explicit choice wins


def test_layerwise_optimizer_groups(data):
    model = tiny(data).model
    opt = tl.layerwise_optimizer(model, head_lr=5e-4, encoder_lr=1e-5, weight_decay=0.01)
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
        tl.layerwise_optimizer(model, head_lr=1e-5, encoder_lr=1e-3)


def test_freezing_strategies_depths(data):
    model = tiny(data).model  # blocks: embeddings, 2 encoder layers, pooler
    assert max_depth(model) == 4
    assert tl.freezing_strategies(model, frozen_layers=3) == {
        "full fine-tuning": 4,
        "first 2 layers frozen": 1,
        "head only": 0,
        "progressive unfreezing": None,
    }


def test_progressive_unfreezing_trains_only_unfrozen_blocks(data, ds, tmp_path):
    model = tiny(data).model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    from ftkit.freeze import freeze

    freeze(model, 0)
    opt = tl.all_params_optimizer(model, lr=1e-3)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    assert not any(p.requires_grad for p in model.bert.parameters())  # the freeze state is kept
    progressive = tl.ProgressiveUnfreezing(blocks_per_epoch=1)
    tl.train_text(
        model,
        tiny(data).tokenizer,
        ds,
        tl.TextRecipe(epochs=2, lr=1e-3),
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


def test_train_text_is_deterministic(data, ds, tmp_path):
    runs = []
    for i in range(2):
        loaded = tiny(data)
        run = tl.train_text(
            loaded.model,
            loaded.tokenizer,
            ds,
            tl.TextRecipe(epochs=2, lr=1e-3, seed=3),
            f"r{i}",
            tmp_path / str(i),
        )
        runs.append(run)
    a, b = runs
    assert len(a.history) == 2 and "val_f1_macro" in a.history.last()
    assert a.history.series("val_loss") == b.history.series("val_loss")
    assert a.metrics["eval_loss"] == b.metrics["eval_loss"]
    row = a.row()
    assert (
        row["trainable"] == sum(p.numel() for p in loaded.model.parameters()) and row["trainable %"] == 100.0
    )


def test_train_text_frees_the_optimizer_state_but_keeps_a_working_model(data, ds, tmp_path):
    loaded = tiny(data)
    run = tl.train_text(
        loaded.model, loaded.tokenizer, ds, tl.TextRecipe(epochs=1, lr=1e-3), "kept", tmp_path / "a"
    )
    optimizer = run.trainer.optimizer  # AdamW had two averages per weight: gone, as are the gradients
    assert optimizer is not None and len(optimizer.state) == 0
    assert all(p.grad is None for p in loaded.model.parameters())
    assert run.trainer.evaluate()["eval_loss"] == pytest.approx(
        run.metrics["eval_loss"]
    )  # the model still works
    lean = tl.train_text(
        tiny(data).model,
        loaded.tokenizer,
        ds,
        tl.TextRecipe(epochs=1, lr=1e-3),
        "lean",
        tmp_path / "b",
        keep_trainer=False,
    )
    assert lean.trainer is None and len(lean.history) == 1 and "eval_loss" in lean.metrics


def test_release_training_memory_reports_what_it_freed(data, ds, tmp_path):
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from ftkit.hf import release_training_memory

    loaded = tiny(data)
    args = TrainingArguments(str(tmp_path), num_train_epochs=1, report_to=[], disable_tqdm=True)
    trainer = Trainer(
        model=loaded.model,
        args=args,
        train_dataset=ds["train"],
        data_collator=DataCollatorWithPadding(loaded.tokenizer),
    )
    trainer.train()
    weights = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
    assert len(trainer.optimizer.state) > 0  # what a Trainer keeps after train() returns
    assert release_training_memory(trainer) >= 2 * weights  # AdamW: exp_avg + exp_avg_sq of every weight
    assert len(trainer.optimizer.state) == 0 and release_training_memory(trainer) == 0  # twice is harmless


def test_set_dropout_and_predict_proba(data):
    loaded = tiny(data)
    assert tl.set_dropout(loaded.model, 0.3) > 0
    assert all(m.p == 0.3 for m in loaded.model.modules() if isinstance(m, torch.nn.Dropout))
    with pytest.raises(ConfigError):
        tl.set_dropout(loaded.model, 1.0)
    probs = tl.predict_proba(loaded.model, loaded.tokenizer, data.test["text"])
    assert probs.shape == (len(data.test), 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    again = tl.predict_proba(loaded.model, loaded.tokenizer, data.test["text"], batch_size=3)
    assert np.allclose(probs, again, atol=1e-6)  # eval mode: dropout off, batching does not matter


def test_time_padding_reports_both_sides(data):
    loaded = tiny(data)
    state = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    r = tl.time_padding(loaded.model, loaded.tokenizer, data.train["text"][:8], max_length=128, batch_size=4)
    assert r["max_length_mean_length"] == 128 and r["dynamic_mean_length"] < 128
    assert r["ratio"] == pytest.approx(r["dynamic_texts_per_s"] / r["max_length_texts_per_s"])
    assert all(torch.equal(v, loaded.model.state_dict()[k]) for k, v in state.items())  # weights unchanged


def test_classifier_from_encoder_reports_missing_head(data, tmp_path):
    model, info = tl.classifier_from_encoder(tiny(data).model, tmp_path / "enc", data.id2label)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert model.config.id2label == data.id2label


def test_lora_seq_cls_save_reload_identical(data, tmp_path):
    from ftkit.infra.io import save_pretrained

    loaded = tiny(data)
    peft_model = tl.lora_seq_cls(loaded.model, r=4, alpha=8)
    names = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in names) and any("classifier" in n for n in names)
    assert not any("word_embeddings" in n for n in names)
    with torch.no_grad():  # move the adapter and the head away from their initial values
        for n, p in peft_model.named_parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    folder = save_pretrained(tmp_path / "adapter", peft_model)
    reloaded = tl.load_lora_seq_cls(tiny(data).model, folder)
    a = tl.predict_proba(peft_model, loaded.tokenizer, data.test["text"])
    b = tl.predict_proba(reloaded, loaded.tokenizer, data.test["text"])
    assert np.allclose(a, b, atol=1e-6)
    with pytest.raises(ConfigError):
        tl.load_lora_seq_cls(tiny(data).model, tmp_path)
