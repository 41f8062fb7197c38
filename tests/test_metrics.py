"""metrics: one F1 (macro) everywhere, numbers equal to scikit-learn's, val and test measured alike."""

import numpy as np
import pytest
import torch
from sklearn.metrics import classification_report, f1_score, roc_auc_score
from torch import nn

from ftkit.config import TrainConfig
from ftkit.data.loaders import predict
from ftkit.errors import ConfigError, DataError
from ftkit.metrics import classification_report_df, f1_macro, metrics_summary, resolve_metrics
from ftkit.train import fit


def test_classification_report_df_matches_sklearn():
    y_true = [0, 0, 1, 1, 2, 2, 2, 0, 1, 2]
    y_pred = [0, 1, 1, 1, 2, 0, 2, 0, 2, 2]
    classes = ["cat", "dog", "bird"]
    df = classification_report_df(y_true, y_pred, classes)
    ref = classification_report(y_true, y_pred, target_names=classes, output_dict=True)
    for name in classes + ["macro avg", "weighted avg"]:
        assert df.loc[name, "precision"] == pytest.approx(ref[name]["precision"])
        assert df.loc[name, "recall"] == pytest.approx(ref[name]["recall"])
        assert df.loc[name, "f1"] == pytest.approx(ref[name]["f1-score"])
        assert df.loc[name, "support"] == ref[name]["support"]
    assert df.loc["accuracy", "f1"] == pytest.approx(0.7)


def test_metrics_summary_binary_and_multiclass():
    y_true = np.array([0, 1, 1, 0, 1, 0])
    y_pred = np.array([0, 1, 0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3], [0.1, 0.9], [0.4, 0.6]])
    m = metrics_summary(y_true, y_pred, probs)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1_macro"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y_true, probs[:, 1]))
    assert "roc_auc" not in metrics_summary(y_true, y_pred)

    y3 = np.array([0, 1, 2, 2, 1, 0])
    p3 = np.array(
        [[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4], [0.3, 0.4, 0.3], [0.3, 0.3, 0.4]]
    )
    m3 = metrics_summary(torch.tensor(y3), torch.tensor(p3.argmax(1)), torch.tensor(p3))
    assert m3["f1_macro"] == pytest.approx(f1_score(y3, p3.argmax(1), average="macro"))
    assert m3["roc_auc"] == pytest.approx(roc_auc_score(y3, p3, multi_class="ovr"))
    assert metrics_summary([1, 1], [1, 0], [[0.2, 0.8], [0.6, 0.4]])["roc_auc"] is None  # one class only


def test_fit_and_metrics_summary_report_the_same_f1_on_the_same_split():
    """The bug this module fixes: fit's val F1 was macro, metrics_summary's binary (0.56 vs 0.73)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(80, 4, generator=g)
    y = (x[:, 0] + 0.8 * torch.randn(80, generator=g) > 0.6).long()  # two unbalanced classes
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    config = TrainConfig(epochs=2, batch_size=16, restore_best=False)
    history = fit(model, (x[:60], y[:60]), (x[60:], y[60:]), config, metrics=("f1_macro",), progress=False)
    probs, preds, targets = predict(model, (x[60:], y[60:]))
    summary = metrics_summary(targets, preds, probs)
    assert summary["f1_macro"] == pytest.approx(history.last()["val_f1_macro"])
    binary = f1_score(targets, preds, zero_division=0)  # what test_f1 used to be
    assert summary["f1_macro"] == pytest.approx(f1_score(targets, preds, average="macro"))
    assert not np.isclose(binary, summary["f1_macro"])  # the two F1s really differ on this data


def test_f1_macro_counts_classes_seen_in_either_array():
    assert f1_macro(np.array([0, 0, 1]), np.array([0, 0, 0])) == pytest.approx(
        f1_score([0, 0, 0], [0, 0, 1], labels=[0, 1], average="macro", zero_division=0)
    )
    assert np.isnan(f1_macro(np.array([]), np.array([])))


def test_unknown_metric_names_the_known_ones():
    with pytest.raises(ConfigError, match="'accuracy', 'f1_macro'"):
        resolve_metrics(("f1",))


def test_labels_outside_the_classes_are_a_data_error():
    with pytest.raises(DataError, match="outside 0..1"):
        classification_report_df([0, 2], [0, 1], ["a", "b"])
