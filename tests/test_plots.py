"""plots: figures carry the expected artists, agree with diagnose(), and leave no figure open."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from ftkit import plots  # noqa: E402
from ftkit.diagnose import diagnose  # noqa: E402
from ftkit.error_plots import mistakes_table, plot_confusion, show_mistakes  # noqa: E402
from ftkit.errors import ConfigError, DataError  # noqa: E402
from ftkit.history import History  # noqa: E402
from ftkit.plots import LivePlot, compare_runs, plot_history, sweep_heatmap  # noqa: E402


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a plotting function left a figure open"


def overfit_history(label="", stop_reason="early_stopping", lr=1e-3):
    h = History(label=label, stop_reason=stop_reason, config={"lr": lr, "depth": 1, "epochs": 6})
    train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.12]
    val = [0.9, 0.6, 0.5, 0.55, 0.62, 0.7]
    acc = [0.5, 0.6, 0.7, 0.72, 0.71, 0.69]
    for i, (t, v, a) in enumerate(zip(train, val, acc, strict=True), start=1):
        for s in range(3):
            h.log_step(step=(i - 1) * 3 + s + 1, epoch=i, train_loss=t + 0.1 * (2 - s))
        h.log_epoch(epoch=i, train_loss=t, val_loss=v, val_accuracy=a, lr=lr, time_s=float(i))
    h.best_epoch = 3
    return h


def gids(ax):
    return [a.get_gid() for a in ax.get_children() if a.get_gid()]


def test_plot_history_artists_agree_with_diagnosis():
    h = overfit_history()
    fig = plot_history(h)
    assert isinstance(fig, matplotlib.figure.Figure)
    loss_ax, metric_ax = fig.axes[:2]
    names = gids(loss_ax)
    for gid in (
        "steps",
        "train",
        "val",
        "best-epoch",
        "best-marker",
        "early-stop",
        "region:under-fitting",
        "region:good fit",
        "region:over-fitting",
    ):
        assert gid in names, gid
    d = diagnose(h)
    spans = [a for a in loss_ax.get_children() if str(a.get_gid()).startswith("region:")]
    assert [s.get_gid()[7:] for s in spans] == [kind for _, _, kind in d.regions]
    best_line = next(a for a in loss_ax.get_lines() if a.get_gid() == "best-epoch")
    assert best_line.get_xdata()[0] == d.best_epoch == 3
    star = next(a for a in loss_ax.get_lines() if a.get_gid() == "best-marker")
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (3, 0.5)
    stop = next(a for a in loss_ax.get_lines() if a.get_gid() == "early-stop")
    assert stop.get_xdata()[0] == 6
    assert "over-fitting" in fig._suptitle.get_text()
    assert "metric" in gids(metric_ax) and "best-epoch" in gids(metric_ax)
    # steps of whole-numbered epochs are spread inside their epoch
    steps = next(a for a in loss_ax.get_lines() if a.get_gid() == "steps")
    assert list(steps.get_xdata()[:3]) == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_plot_history_without_metric_or_diagnosis_and_into_given_axes():
    h = History()
    h.log_epoch(epoch=1, train_loss=1.0, val_loss=float("nan"))
    h.log_epoch(epoch=2, train_loss=0.8, val_loss=0.7)
    fig = plot_history(h, diagnosis=False)
    assert len(fig.axes) == 1 and not any(g.startswith("region:") for g in gids(fig.axes[0]))
    own, ax = plt.subplots()
    assert plot_history(h, ax=ax) is own
    plt.close(own)


def test_plot_history_overlay_of_runs():
    runs = [overfit_history("lr 1e-3"), overfit_history("lr 1e-4", lr=1e-4)]
    fig = plot_history(runs)
    names = gids(fig.axes[0])
    assert "val:lr 1e-3" in names and "train:lr 1e-4" in names
    assert "Comparing 2 runs" in fig._suptitle.get_text()
    with pytest.raises(DataError):
        plot_history([])


def test_live_plot_is_harmless_outside_a_notebook():
    state = type("S", (), {"history": overfit_history(), "step": 3})()
    live = LivePlot(every_steps=1)
    for event in ("on_train_begin", "on_epoch_begin", "on_step_end", "on_epoch_end", "on_train_end"):
        getattr(live, event)(state)
    assert live._handle is None
    with pytest.raises(ConfigError):
        LivePlot(every_steps=0)


def test_live_plot_updates_one_display_in_a_notebook(monkeypatch):
    import IPython.display

    shown = []

    class Handle:
        def update(self, fig):
            shown.append(("update", fig))

    def fake_display(fig, display_id=False):
        assert display_id is True
        shown.append(("display", fig))
        return Handle()

    monkeypatch.setattr(plots, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake_display)
    state = type("S", (), {"history": overfit_history(), "step": 0})()
    live = LivePlot()
    live.on_train_begin(state)
    live.on_epoch_end(state)
    live.on_epoch_end(state)
    live.on_train_end(state)
    assert [kind for kind, _ in shown] == ["display", "update", "update"]
    assert all(isinstance(fig, matplotlib.figure.Figure) for _, fig in shown)


def test_confusion_matches_sklearn():
    y_true = [0, 0, 1, 1, 2, 2, 2, 0, 1, 2]
    y_pred = [0, 1, 1, 1, 2, 0, 2, 0, 2, 2]
    classes = ["cat", "dog", "bird"]
    fig = plot_confusion(y_true, y_pred, classes)
    cm = confusion_matrix(y_true, y_pred)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert [int(t.split("\n")[0]) for t in texts] == cm.ravel().tolist()
    assert texts[0] == "2\n67%"  # row "cat": 2 of 3 right
    only_pct = plot_confusion(y_true, y_pred, classes, normalize="true")
    assert only_pct.axes[0].texts[0].get_text() == "67%"
    with pytest.raises(ConfigError):
        plot_confusion(y_true, y_pred, classes, normalize="all")
    with pytest.raises(DataError):
        plot_confusion([0, 3], [0, 1], classes)


def test_mistakes_worst_first():
    y_true = [0, 1, 1, 0, 1]
    y_pred = [1, 1, 0, 1, 0]
    probs = np.array([[0.4, 0.6], [0.1, 0.9], [0.95, 0.05], [0.2, 0.8], [0.7, 0.3]])
    table = mistakes_table(["a", "b", "c", "d", "e"], y_true, y_pred, probs, ["neg", "pos"], n=3)
    assert list(table.index) == [2, 3, 4]
    assert list(table["text"]) == ["c", "d", "e"]
    assert table.iloc[0].to_dict() == {"text": "c", "true": "pos", "predicted": "neg", "confidence": 0.95}

    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    images = torch.zeros(5, 3, 8, 8)
    fig = show_mistakes(images, y_true, y_pred, probs, ["neg", "pos"], n=3, mean=mean, std=std)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == [
        "true: pos\npred: neg (95%)",
        "true: neg\npred: pos (80%)",
        "true: pos\npred: neg (70%)",
    ]
    shown = titled[0].get_images()[0].get_array()
    assert shown.shape == (8, 8, 3) and np.allclose(shown, 0.5)  # zeros un-normalised to the mean


def test_show_mistakes_from_files_and_dataset(tmp_path):
    from PIL import Image

    paths = []
    for i in range(3):
        p = tmp_path / f"{i}.png"
        Image.new("RGB", (6, 6), (255, 0, 0)).save(p)
        paths.append(str(p))
    probs = np.array([[0.3, 0.7], [0.8, 0.2], [0.5, 0.5]])
    fig = show_mistakes(paths, [0, 1, 0], [1, 0, 0], probs, ["a", "b"])
    assert sum(1 for ax in fig.axes if ax.get_images()) == 2
    dataset = [(torch.rand(1, 6, 6), 0) for _ in range(3)]
    fig = show_mistakes(dataset, [0, 1, 0], [1, 0, 0], probs, ["a", "b"])
    assert fig.axes[0].get_images()[0].get_array().shape == (6, 6)
    empty = show_mistakes(dataset, [0, 0, 0], [0, 0, 0], probs, ["a", "b"])
    assert "No mistakes" in empty.axes[0].texts[0].get_text()


def test_compare_runs_table_and_figure():
    a = overfit_history("lr 1e-3")
    b = overfit_history("lr 1e-4", stop_reason="completed", lr=1e-4)
    b.epochs[-1]["val_accuracy"] = 0.9
    fig, table = compare_runs([a, b], metric="val_accuracy")
    assert list(table["label"]) == ["lr 1e-3", "lr 1e-4"]
    assert list(table["lr"]) == [1e-3, 1e-4] and list(table["depth"]) == [1, 1]
    assert list(table["best val_accuracy"]) == [0.72, 0.9]
    assert list(table["best epoch"]) == [4, 6]
    assert list(table["time_s"]) == [6.0, 6.0]
    assert {"metric:lr 1e-3", "metric:lr 1e-4"} <= set(gids(fig.axes[0]))


def test_sweep_heatmap_outlines_best_cell():
    df = pd.DataFrame({"lr": [1e-4, 1e-3, 1e-4, 1e-3], "depth": [0, 0, 2, 2], "acc": [0.6, 0.7, 0.8, 0.65]})
    fig = sweep_heatmap(df, x="lr", y="depth", value="acc")
    ax = fig.axes[0]
    best = next(p for p in ax.patches if p.get_gid() == "best-cell")
    assert best.get_xy() == (0, 1)  # column lr=1e-4, row depth=2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.0001", "0.001"]
    with pytest.raises(DataError):
        sweep_heatmap(df, x="lr", y="depth", value="f1")
