"""results.json: round trip, JSON-safe numbers, validation, and the lessons table."""

import json
import math

import numpy as np
import pytest
import torch

from ftkit.errors import ConfigError, DataError
from ftkit.history import History
from ftkit.infra.results import RESULTS_FILE, read_results, results_table, write_results


def test_round_trip_with_numpy_torch_and_nan(tmp_path):
    h = History(label="run")
    h.log_epoch(epoch=1, train_loss=0.5, val_loss=float("nan"))
    metrics = {
        "val_accuracy": np.float32(0.75),
        "val_f1": torch.tensor(0.5),
        "val_loss": float("nan"),
        "passed": np.bool_(True),
        "note": "ok",
        "roc_auc": None,
        "epochs": np.int64(3),
    }
    path = write_results(
        tmp_path / "lesson1",
        "01_helmet",
        "tiny-resnet",
        "smoke",
        np.float64(12.5),
        metrics,
        history=h.to_dict(),
        classes=("a", "b"),
        device="cpu",
    )
    assert path == tmp_path / "lesson1" / RESULTS_FILE
    raw = path.read_text()
    assert "NaN" not in raw  # strict JSON: NaN is written as null
    data = read_results(tmp_path / "lesson1")
    assert data == json.loads(raw) == read_results(path)
    assert data["metrics"] == {
        "val_accuracy": 0.75,
        "val_f1": 0.5,
        "val_loss": None,
        "passed": True,
        "note": "ok",
        "roc_auc": None,
        "epochs": 3,
    }
    assert data["lesson"] == "01_helmet" and data["model"] == "tiny-resnet" and data["profile"] == "smoke"
    assert data["wall_s"] == 12.5 and data["device"] == "cpu"
    assert data["history"]["epochs"][0]["val_loss"] is None and data["classes"] == ["a", "b"]
    assert data["torch_version"] == torch.__version__
    assert {"ftkit_version", "created"} <= set(data)
    assert [p.name for p in (tmp_path / "lesson1").iterdir()] == [RESULTS_FILE]  # no temp file left behind


def test_bad_input_is_refused_before_writing(tmp_path):
    with pytest.raises(ConfigError, match="metrics must be numbers"):
        write_results(tmp_path, "l", "m", "smoke", 1.0, {"acc": [0.1, 0.2]})
    with pytest.raises(ConfigError):
        write_results(tmp_path, "", "m", "smoke", 1.0, {})
    with pytest.raises(ConfigError):
        write_results(tmp_path, "l", "m", "smoke", 1.0, {"acc": 1.0}, lesson_extra=object())
    with pytest.raises(ConfigError):
        write_results(tmp_path, "l", "m", "smoke", 1.0, {}, metrics_again=1, created="now")
    with pytest.raises(ConfigError):
        write_results(tmp_path, "l", "m", "smoke", "fast", {})
    assert not (tmp_path / RESULTS_FILE).exists()


def test_read_results_errors(tmp_path):
    with pytest.raises(DataError, match="No results.json"):
        read_results(tmp_path)
    (tmp_path / RESULTS_FILE).write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        read_results(tmp_path)


def test_results_table(tmp_path):
    empty = results_table(tmp_path)
    assert len(empty) == 0 and list(empty.columns)[:4] == ["lesson", "model", "profile", "wall_s"]
    write_results(
        tmp_path / "02_bert",
        "02_bert",
        "tiny-bert",
        "smoke",
        3.0,
        {"val_f1": 0.6, "val_accuracy": 0.7},
        device="cpu",
    )
    write_results(
        tmp_path / "01_resnet", "01_resnet", "tiny-resnet", "smoke", 2.0, {"val_accuracy": 0.9}, device="cpu"
    )
    table = results_table(tmp_path)
    assert list(table["lesson"]) == ["01_resnet", "02_bert"]
    assert list(table.columns) == ["lesson", "model", "profile", "wall_s", "val_accuracy", "val_f1", "folder"]
    assert table.loc[0, "val_accuracy"] == 0.9 and math.isnan(table.loc[0, "val_f1"])
    assert list(table["folder"]) == ["01_resnet", "02_bert"]
