"""Tests for ftkit.textcls (the Trainer recipe for text classifiers), on the tiny random BERT preset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_data import SENTIMENT_CSV, tiny_bert

from ftkit.data.text import load_text_table
from ftkit.errors import ConfigError
from ftkit.textcls import TextRecipe, is_chinese, predict_proba, text_model_for, train_text, training_args


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


def test_recipe_validates_and_replaces():
    with pytest.raises(ConfigError):
        TextRecipe(num_train_epochs=0)
    with pytest.raises(ConfigError):
        TextRecipe(warmup_steps=1.5)
    with pytest.raises(ConfigError):
        TextRecipe().replace(lr=1e-3)  # the field is called learning_rate
    r = TextRecipe(learning_rate=1e-4).replace(label_smoothing_factor=0.1)
    assert (r.learning_rate, r.label_smoothing_factor) == (1e-4, 0.1)
    args = training_args(r.replace(early_stopping_patience=2), "/tmp/unused")
    assert (
        args.eval_strategy == "epoch"
        and args.load_best_model_at_end
        and args.metric_for_best_model == "f1_macro"
    )
    assert training_args(r, "/tmp/unused").save_strategy == "no"
    assert (args.learning_rate, args.label_smoothing_factor, args.warmup_steps) == (1e-4, 0.1, 0.1)
    assert training_args(r, "/tmp/unused").train_sampling_strategy == "random"
    assert (
        training_args(
            r.replace(train_sampling_strategy="group_by_length"), "/tmp/unused"
        ).train_sampling_strategy
        == "group_by_length"
    )
    with pytest.raises(ConfigError):
        TextRecipe(train_sampling_strategy="yes")


def test_text_model_for_picks_chinese_bert_for_chinese_text(capsys):
    zh = ["这家酒店的服务非常好。", "摔了一次，屏幕就失灵了。"]
    en = [
        "The room was spotless.",
        "I love the food at 北京 Kitchen on Main Street.",
    ]  # a quoted name is not Chinese text
    assert is_chinese(zh) and not is_chinese(en) and not is_chinese([])
    assert text_model_for(zh, "default") == "bert-base-chinese"
    assert "[UNK]" in capsys.readouterr().out  # it says why
    assert text_model_for(en, "gpu") is None  # the profile's own model (bert-base-uncased on gpu)
    assert text_model_for(zh, "smoke") is None  # tests keep the tiny random model
    assert text_model_for(zh, "default", model="minilm-l6") == "minilm-l6"  # an explicit choice wins


def test_train_text_is_deterministic(data, ds, tmp_path):
    runs = []
    for i in range(2):
        loaded = tiny_bert(data)
        run = train_text(
            loaded.model,
            loaded.tokenizer,
            ds,
            TextRecipe(num_train_epochs=2, learning_rate=1e-3, seed=3),
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
    loaded = tiny_bert(data)
    run = train_text(
        loaded.model,
        loaded.tokenizer,
        ds,
        TextRecipe(num_train_epochs=1, learning_rate=1e-3),
        "kept",
        tmp_path / "a",
    )
    optimizer = run.trainer.optimizer  # AdamW had two averages per weight: gone, as are the gradients
    assert optimizer is not None and len(optimizer.state) == 0
    assert all(p.grad is None for p in loaded.model.parameters())
    assert run.trainer.evaluate()["eval_loss"] == pytest.approx(
        run.metrics["eval_loss"]
    )  # the model still works
    lean = train_text(
        tiny_bert(data).model,
        loaded.tokenizer,
        ds,
        TextRecipe(num_train_epochs=1, learning_rate=1e-3),
        "lean",
        tmp_path / "b",
        keep_trainer=False,
    )
    assert lean.trainer is None and len(lean.history) == 1 and "eval_loss" in lean.metrics


def test_release_training_memory_reports_what_it_freed(data, ds, tmp_path):
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from ftkit.hf import release_training_memory

    loaded = tiny_bert(data)
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


def test_predict_proba(data):
    loaded = tiny_bert(data)
    loaded.model.train()  # predict_proba switches to eval mode itself (and back)
    probs = predict_proba(loaded.model, loaded.tokenizer, data.test["text"])
    assert probs.shape == (len(data.test), 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    again = predict_proba(loaded.model, loaded.tokenizer, data.test["text"], batch_size=3)
    assert np.allclose(probs, again, atol=1e-6)  # eval mode: dropout off, batching does not matter
    assert loaded.model.training


def test_out_of_fold_proba_scores_every_row_with_a_model_that_never_saw_it(tmp_path):
    import pandas as pd

    from ftkit.textcls import out_of_fold_proba

    torch.set_num_threads(1)
    data = load_text_table(SENTIMENT_CSV, max_rows=30, seed=0, split=(0.6, 0.2, 0.2))
    frame = pd.concat([data.train, data.val]).reset_index(drop=True)
    tok = tiny_bert(data).tokenizer
    seen = []

    def make_model():
        seen.append(1)
        return tiny_bert(data).model

    recipe = TextRecipe(num_train_epochs=1, learning_rate=1e-3, early_stopping_patience=1)
    probs = out_of_fold_proba(make_model, tok, frame, recipe, tmp_path, folds=3, max_length=32)
    assert len(seen) == 3 and probs.shape == (len(frame), 2)
    assert np.allclose(probs.sum(axis=1), 1) and (probs > 0).all()  # every row got a score
    again = out_of_fold_proba(make_model, tok, frame, recipe, tmp_path, folds=3, max_length=32)
    assert np.allclose(probs, again)  # seeded: the same folds, the same numbers
    with pytest.raises(ConfigError):
        out_of_fold_proba(make_model, tok, frame.iloc[:4], recipe, tmp_path, folds=3)
