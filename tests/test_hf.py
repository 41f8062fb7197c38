"""hf: HistoryCallback on a real (tiny, random) BERT Trainer run; metrics; weighted loss."""

import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from ftkit.infra.compat import ensure_torchvision  # noqa: E402

ensure_torchvision()  # before transformers: it imports torchvision (see ftkit/infra/compat.py)

from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
)

from ftkit.callbacks import Callback  # noqa: E402
from ftkit.data.text import class_weights  # noqa: E402
from ftkit.diagnose import diagnose  # noqa: E402
from ftkit.errors import ConfigError  # noqa: E402
from ftkit.hf import HistoryCallback, WeightedLossTrainer, classification_metrics  # noqa: E402
from ftkit.plots import LivePlot  # noqa: E402


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, state):
        self.events.append("begin")

    def on_epoch_end(self, state):
        self.events.append(("epoch", len(state.history)))

    def on_train_end(self, state):
        self.events.append("end")


class TokenData(torch.utils.data.Dataset):
    def __init__(self, n, seed, num_labels=2):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(5, 200, (n, 12), generator=g)
        self.labels = torch.randint(0, num_labels, (n,), generator=g)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones(12, dtype=torch.long),
            "labels": self.labels[i],
        }


def tiny_model(num_labels=2):
    torch.manual_seed(0)
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=200,
        max_position_embeddings=32,
        num_labels=num_labels,
    )
    return BertForSequenceClassification(config)


def args(tmp_path, **overrides):
    settings = dict(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=2,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        learning_rate=1e-3,
        eval_strategy="epoch",
        save_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        use_cpu=True,
        report_to=[],
        seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
        logging_steps=500,
    )
    settings.update(overrides)
    return TrainingArguments(**settings)


def test_history_callback_on_a_real_trainer(tmp_path):
    torch.set_num_threads(1)
    recorder = Recorder()
    live = LivePlot()  # outside a notebook: must do nothing
    cb = HistoryCallback(recorder, live, label="tiny bert")
    trainer = Trainer(
        model=tiny_model(),
        args=args(tmp_path),
        train_dataset=TokenData(32, 0),
        eval_dataset=TokenData(16, 1),
        compute_metrics=classification_metrics,
        callbacks=[cb, EarlyStoppingCallback(early_stopping_patience=2)],
    )
    trainer.train()
    h = cb.history
    assert [r["epoch"] for r in h.epochs] == [1, 2]
    for rec in h.epochs:
        assert {
            "epoch",
            "train_loss",
            "val_loss",
            "val_accuracy",
            "val_precision_macro",
            "val_recall_macro",
            "val_f1_macro",
            "val_roc_auc",
            "lr",
            "time_s",
        } <= set(rec)
        assert "val_runtime" not in rec and math.isfinite(rec["train_loss"])
    # logging_steps=500 > 8 steps: the callback asked the Trainer to log before each evaluation
    assert len(h.steps) == 2 and [s["step"] for s in h.steps] == [4, 8]
    assert h.epochs[0]["train_loss"] == pytest.approx(h.steps[0]["train_loss"])
    assert h.monitor == "val_loss" and h.mode == "min"
    assert h.best_epoch == min(h.epochs, key=lambda r: r["val_loss"])["epoch"]
    assert h.stop_reason == "completed" and "2 epochs" in h.stop_message
    assert h.config["lr"] == 1e-3 and h.config["model"] == "BertForSequenceClassification"
    assert recorder.events == ["begin", ("epoch", 1), ("epoch", 2), "end"]
    assert diagnose(h).verdict in ("good fit", "still improving", "under-fitting", "over-fitting")
    trainer.evaluate()  # an evaluation after training is not a new epoch
    assert len(h) == 2


def test_early_stopping_and_divergence_are_reported():
    cb = HistoryCallback()
    targs = SimpleNamespace(
        metric_for_best_model="eval_accuracy",
        greater_is_better=True,
        learning_rate=0.1,
        num_train_epochs=5,
        per_device_train_batch_size=8,
        weight_decay=0.0,
        warmup_steps=0,
        label_smoothing_factor=0.0,
        seed=0,
        load_best_model_at_end=True,
    )
    control = SimpleNamespace(should_training_stop=False, should_log=False, should_evaluate=False)
    state = SimpleNamespace(epoch=0.0, global_step=0, max_steps=50)
    cb.on_train_begin(targs, state, control)
    assert cb.history.monitor == "val_accuracy" and cb.history.mode == "max"
    for epoch, acc in ((1.0, 0.6), (2.0, 0.7), (3.0, 0.65)):
        state.epoch, state.global_step = epoch, int(epoch * 10)
        cb.on_log(targs, state, control, logs={"loss": 0.5, "learning_rate": 0.1, "grad_norm": 1.0})
        cb.on_evaluate(
            targs, state, control, metrics={"eval_loss": 0.4, "eval_accuracy": acc, "eval_runtime": 1.0}
        )
    cb.on_train_end(targs, state, control)
    assert cb.history.best_epoch == 2 and cb.history.stop_reason == "early_stopping"
    assert "epoch 3 of 5" in cb.history.stop_message and "(2) were restored" in cb.history.stop_message

    cb = HistoryCallback()
    cb.on_train_begin(targs, state, control)
    cb.on_log(targs, state, control, logs={"loss": float("nan"), "learning_rate": 0.1})
    assert control.should_training_stop is True
    cb.on_train_end(targs, state, control)
    assert cb.history.stop_reason == "diverged" and "nan" in cb.history.stop_message
    assert diagnose(cb.history).verdict == "diverged"
    with pytest.raises(ConfigError):
        HistoryCallback(EarlyStoppingCallback())


def test_classification_metrics_two_and_three_classes():
    logits = np.array([[2.0, -1.0], [0.0, 1.0], [1.0, 0.5], [-1.0, 2.0]])
    m = classification_metrics(SimpleNamespace(predictions=logits, label_ids=np.array([0, 1, 1, 1])))
    assert (
        m["accuracy"] == 0.75 and m["precision_macro"] == 0.75 and m["recall_macro"] == pytest.approx(5 / 6)
    )
    assert m["roc_auc"] == 1.0
    logits3 = (np.array([[3, 0, 0], [0, 3, 0], [0, 0, 3], [3, 0, 0]], dtype=float), None)  # tuple output
    m3 = classification_metrics(SimpleNamespace(predictions=logits3, label_ids=np.array([0, 1, 2, 2])))
    assert m3["accuracy"] == 0.75 and set(m3) == {
        "accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "roc_auc",
    }
    one_class = classification_metrics(SimpleNamespace(predictions=logits, label_ids=np.array([1, 1, 1, 1])))
    assert "roc_auc" not in one_class


def test_weighted_loss_trainer(tmp_path):
    torch.set_num_threads(1)
    weights = class_weights([0, 0, 0, 1], num_classes=2)
    assert weights.tolist() == pytest.approx([4 / 6, 2.0])
    model = tiny_model()
    trainer = WeightedLossTrainer(
        model=model,
        args=args(
            tmp_path,
            label_smoothing_factor=0.1,
            eval_strategy="no",
            save_strategy="no",
            load_best_model_at_end=False,
        ),
        class_weights=weights,
    )
    batch = TokenData(8, 3)[0:8]
    model.eval()  # no dropout: both forward passes must see the same network
    loss = trainer.compute_loss(model, batch)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    expected = torch.nn.functional.cross_entropy(logits, batch["labels"], weight=weights, label_smoothing=0.1)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    unweighted = torch.nn.functional.cross_entropy(logits, batch["labels"], label_smoothing=0.1)
    assert abs(unweighted.item() - expected.item()) > 1e-4  # the weights really changed the loss
