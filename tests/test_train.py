"""The fit loop: config checks, repeatability, early stopping, divergence, interruption, resume."""

import copy
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from ftkit.callbacks import Callback
from ftkit.config import TrainConfig
from ftkit.data.loaders import predict
from ftkit.errors import ConfigError, DataError, TrainingDiverged
from ftkit.history import History
from ftkit.train import evaluate, fit

torch.set_num_threads(1)


def make_data(n=64, seed=0, classes=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y


TRAIN, VAL = make_data(64, 0), make_data(32, 1)


def mlp(seed=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def without_time(records):
    return [{k: v for k, v in r.items() if k != "time_s"} for r in records]


class Recorder(Callback):
    """Remembers the events and the weights at the end of every epoch."""

    def __init__(self):
        self.events, self.weights = [], {}

    def on_train_begin(self, state):
        self.events.append("train_begin")

    def on_epoch_begin(self, state):
        self.events.append(f"epoch_begin {state.epoch}")

    def on_step_end(self, state):
        self.events.append("step")

    def on_epoch_end(self, state):
        self.events.append(f"epoch_end {state.epoch}")
        self.weights[state.epoch] = weights(state.model)

    def on_train_end(self, state):
        self.events.append(f"train_end {state.history.stop_reason}")


# ---- configuration ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes",
    [
        {"lr": 0},
        {"lr": -1e-3},
        {"lr": float("nan")},
        {"lr": float("inf")},
        {"lr": "1e-3"},
        {"epochs": 0},
        {"epochs": 1.5},
        {"batch_size": 0},
        {"schedule": "exponential"},
        {"optimizer": "rmsprop"},
        {"warmup_ratio": 1.0},
        {"mode": "best"},
        {"monitor": "accuracy"},
        {"gradient_accumulation_steps": 0},
        {"patience": 0},
        {"grad_clip": -1.0},
        {"label_smoothing": 1.5},
        {"class_weights": [1.0, -2.0]},
        {"layer_decay": 1.5},
        {"mixed_precision": "fp8"},
        {"seed": -1},
    ],
)
def test_config_rejects_bad_values(changes):
    with pytest.raises(ConfigError) as err:
        TrainConfig(**changes)
    assert "\n" not in str(err.value)


def test_config_defaults_have_help_and_describe():
    cfg = TrainConfig()
    assert cfg.lr == 1e-3 and cfg.backbone_lr_mult == 0.1 and cfg.resolved_mode == "min"
    assert TrainConfig(monitor="val_accuracy").resolved_mode == "max"
    assert all(line.split("#", 1)[1].strip() for line in TrainConfig.describe().splitlines())


def test_fit_checks_before_training():
    model = mlp()
    before = weights(model)
    with pytest.raises(ConfigError, match=r"larger than the training set \(64 examples\)"):
        fit(model, TRAIN, VAL, batch_size=100, progress=False)
    with pytest.raises(ConfigError, match="Unknown training setting"):
        fit(model, TRAIN, VAL, learning_rate=0.1, progress=False)
    with pytest.raises(ConfigError, match="metric 'f1_macro'"):
        fit(model, TRAIN, VAL, monitor="val_f1_macro", progress=False)
    with pytest.raises(ConfigError, match="CUDA"):
        fit(model, TRAIN, VAL, mixed_precision="bf16", device="cpu", progress=False)
    with pytest.raises(ConfigError, match="validation data"):
        fit(model, TRAIN, None, patience=2, progress=False)
    with pytest.raises(DataError):
        fit(model, "not data", progress=False)
    assert same_weights(before, weights(model))  # nothing trained


# ---- the normal run ------------------------------------------------------------------------------------
def test_history_records_and_callback_order():
    rec = Recorder()
    h = fit(
        mlp(),
        TRAIN,
        VAL,
        TrainConfig(epochs=2, batch_size=16),
        metrics=("accuracy", "f1_macro"),
        callbacks=[rec],
        progress=False,
    )
    assert h.stop_reason == "completed" and len(h) == 2 and len(h.steps) == 8
    keys = set(h.epochs[0])
    assert {"epoch", "train_loss", "val_loss", "val_accuracy", "val_f1_macro", "lr", "time_s"} <= keys
    assert {"step", "epoch", "train_loss", "lr", "time_s"} <= set(h.steps[0])
    assert rec.events[:2] == ["train_begin", "epoch_begin 1"] and rec.events[-1] == "train_end completed"
    assert rec.events.count("step") == 8
    assert h.best_epoch in (1, 2) and "feature_cache" in h.config


def test_seeded_runs_repeat_exactly():
    base = mlp()
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    cfg = TrainConfig(epochs=3, batch_size=16, seed=7)
    ha = fit(a, TRAIN, VAL, cfg, metrics=("accuracy", "f1_macro"), progress=False)
    hb = fit(b, TRAIN, VAL, cfg, metrics=("accuracy", "f1_macro"), progress=False)
    assert without_time(ha.epochs) == without_time(hb.epochs)
    assert without_time(ha.steps) == without_time(hb.steps)
    assert same_weights(weights(a), weights(b))
    hc = fit(copy.deepcopy(base), TRAIN, VAL, cfg.updated(seed=8), progress=False)
    assert without_time(hc.steps) != without_time(ha.steps)  # the seed does matter


def test_early_stopping_restores_best_epoch_weights():
    rec, model = Recorder(), mlp()
    h = fit(model, TRAIN, VAL, epochs=30, lr=0.05, batch_size=16, patience=2, callbacks=[rec], progress=False)
    assert h.stop_reason == "early_stopping" and "did not improve" in h.stop_message
    best = int(np.argmin([r["val_loss"] for r in h.epochs])) + 1
    assert h.best_epoch == best and len(h) == best + 2 < 30
    assert same_weights(weights(model), rec.weights[h.best_epoch])
    assert not same_weights(weights(model), rec.weights[len(h)])
    assert not model.training


def test_callback_can_stop_training():
    class StopAfterOne(Callback):
        def on_epoch_end(self, state):
            state.should_stop = True

    h = fit(mlp(), TRAIN, VAL, epochs=5, batch_size=16, callbacks=[StopAfterOne()], progress=False)
    assert len(h) == 1 and h.stop_reason == "stopped_by_callback"


def test_schedule_warmup_then_linear_decay():
    h = fit(
        mlp(),
        TRAIN,
        None,
        epochs=2,
        batch_size=16,
        lr=0.1,
        warmup_ratio=0.25,
        schedule="linear",
        progress=False,
    )
    lrs = [s["lr"] for s in h.steps]  # lr after each of the 8 optimizer steps
    assert lrs[0] == pytest.approx(0.05) and lrs[1] == pytest.approx(0.1)
    assert lrs[-1] == pytest.approx(0.0) and all(x >= y for x, y in zip(lrs[1:], lrs[2:], strict=False))
    h = fit(mlp(), TRAIN, None, epochs=2, batch_size=16, lr=0.1, schedule="cosine", progress=False)
    assert [s["lr"] for s in h.steps][3] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 4 / 8)))


def test_accumulation_clipping_and_step_limit():
    h = fit(
        mlp(),
        TRAIN,
        VAL,
        epochs=1,
        batch_size=8,
        gradient_accumulation_steps=2,
        grad_clip=0.5,
        progress=False,
    )
    assert len(h.steps) == 4  # 8 batches, one optimizer step per 2
    h = fit(mlp(), TRAIN, VAL, epochs=2, batch_size=8, max_steps_per_epoch=3, progress=False)
    assert len(h.steps) == 6


def test_without_validation_keeps_last_weights():
    h = fit(mlp(), TRAIN, None, epochs=2, batch_size=16, progress=False)
    assert h.best_epoch == 2 and h.monitor == "train_loss" and "val_loss" not in h.epochs[0]


def test_hf_style_outputs_and_dict_inputs():
    class HFLike(nn.Module):
        def __init__(self):
            super().__init__()
            self.classifier = nn.Linear(8, 3)

        def forward(self, input_ids):
            return SimpleNamespace(logits=self.classifier(input_ids))

    class DictData(torch.utils.data.Dataset):
        def __len__(self):
            return 32

        def __getitem__(self, i):
            return {"input_ids": TRAIN[0][i]}, TRAIN[1][i]

    h = fit(HFLike(), DictData(), DictData(), epochs=1, batch_size=8, progress=False)
    assert h.stop_reason == "completed" and "val_accuracy" in h.epochs[0]


# ---- divergence ---------------------------------------------------------------------------------------
class NaNAfter:
    """Cross-entropy that returns NaN from the n-th call on (a stand-in for a blown-up loss)."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, logits, y):
        self.calls += 1
        loss = nn.functional.cross_entropy(logits, y)
        return loss * float("nan") if self.calls >= self.n else loss


def test_nan_loss_stops_and_restores_initial_weights():
    model = mlp()
    start = weights(model)
    h = fit(model, TRAIN, VAL, epochs=3, batch_size=16, loss_fn=NaNAfter(3), progress=False)
    assert h.stop_reason == "diverged" and h.best_epoch is None and len(h) == 0
    assert "lr=0.001" in h.stop_message and "learning rate" in h.stop_message
    assert same_weights(start, weights(model))


def test_nan_loss_after_an_epoch_restores_that_epoch():
    rec, model = Recorder(), mlp()
    h = fit(model, TRAIN, VAL, epochs=3, batch_size=16, loss_fn=NaNAfter(12), callbacks=[rec], progress=False)
    assert h.stop_reason == "diverged" and h.best_epoch == 1  # 4 train steps + 2 val batches per epoch
    assert same_weights(rec.weights[1], weights(model))
    assert rec.events[-1] == "train_end diverged"


def test_huge_learning_rate_diverges_with_finite_weights():
    model = mlp()
    h = fit(model, TRAIN, VAL, epochs=5, batch_size=16, lr=1e6, optimizer="sgd", progress=False)
    assert h.stop_reason == "diverged" and "lr=1e+06" in h.stop_message
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_strict_mode_raises():
    with pytest.raises(TrainingDiverged, match="learning rate"):
        fit(mlp(), TRAIN, VAL, epochs=2, batch_size=16, loss_fn=NaNAfter(2), strict=True, progress=False)


# ---- interruption and resume ---------------------------------------------------------------------------
class StopButton(Callback):
    """Raises KeyboardInterrupt (what Jupyter's stop button sends) in the middle of epoch 2."""

    def on_step_end(self, state):
        if state.epoch == 2 and state.step == 6:
            raise KeyboardInterrupt


def test_interrupt_keeps_history_and_resume_continues_numbering(capsys):
    rec, model = Recorder(), mlp()
    h = fit(model, TRAIN, VAL, epochs=3, batch_size=16, callbacks=[StopButton(), rec], progress=False)
    assert h.stop_reason == "interrupted" and len(h) == 1 and len(h.steps) == 6
    assert "history=history" in capsys.readouterr().out
    assert not model.training and same_weights(rec.weights[1], weights(model))
    probs, preds, targets = predict(model, VAL)  # the model is usable as it is
    assert probs.shape == (32, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    h2 = fit(model, TRAIN, VAL, epochs=2, batch_size=16, history=h, progress=False)
    assert h2 is h and [r["epoch"] for r in h.epochs] == [1, 2, 3]
    assert [s["step"] for s in h.steps] == list(range(1, 15)) and h.stop_reason == "completed"


def test_resume_from_saved_history(tmp_path):
    model = mlp()
    h = fit(model, TRAIN, VAL, epochs=1, batch_size=16, progress=False)
    h.save(tmp_path / "h.json")
    h2 = fit(
        model, TRAIN, VAL, epochs=1, batch_size=16, history=History.load(tmp_path / "h.json"), progress=False
    )
    assert [r["epoch"] for r in h2.epochs] == [1, 2]


# ---- helpers ------------------------------------------------------------------------------------------
def test_evaluate_and_predict_agree():
    model = mlp()
    fit(model, TRAIN, VAL, epochs=1, batch_size=16, progress=False)
    scores = evaluate(model, VAL, metrics=("accuracy", "f1_macro"))
    probs, preds, targets = predict(model, VAL)
    assert scores["accuracy"] == pytest.approx(float((preds == targets).mean()))
    assert 0 <= scores["f1_macro"] <= 1 and scores["loss"] > 0
    assert np.array_equal(targets, VAL[1].numpy())


def test_out_of_memory_keeps_history_and_weights_and_gives_advice(capsys):
    """A GPU out-of-memory error mid-run (simulated) stops like an interruption, with advice."""
    from ftkit.callbacks import Callback

    class RunOutOfMemory(Callback):
        def on_step_end(self, state):
            if state.epoch == 2:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    history = fit(model, (x, y), (x, y), epochs=3, batch_size=8, progress=False, callbacks=[RunOutOfMemory()])
    assert history.stop_reason == "out_of_memory" and len(history.epochs) == 1
    assert "smaller batch" in history.stop_message and "batch_size=4" in history.stop_message
    assert "Out of memory" in capsys.readouterr().out
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_progress_bar_is_an_ordinary_callback(capsys):
    rec = Recorder()
    h = fit(mlp(), TRAIN, VAL, epochs=2, batch_size=16, callbacks=[rec], progress=True)
    assert h.stop_reason == "completed" and rec.events[-1] == "train_end completed"
    shown = capsys.readouterr().err  # tqdm writes to stderr outside a notebook
    assert "epoch 2/2" in shown and "8/8" in shown and "val_loss=" in shown and "loss=" in shown
