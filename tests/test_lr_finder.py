"""lr_range_test: geometric learning rates, weights and mode put back, early stop on an explosion,
one-line ConfigErrors for bad arguments, and the same numbers twice."""

import numpy as np
import pytest
import torch
from torch import nn

from ftkit.config import TrainConfig
from ftkit.errors import ConfigError
from ftkit.lr_finder import LRRangeTest, lr_range_test

torch.set_num_threads(1)


def data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] > 0).long()  # learnable: the sign of the first feature
    return torch.utils.data.TensorDataset(x, y)


def tiny(seed=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))


CFG = TrainConfig(batch_size=8, seed=0)


def test_lr_grows_geometrically_from_start_to_end():
    test = lr_range_test(tiny(), data(), CFG, start_lr=1e-5, end_lr=1e-1, steps=9, explode=1e9)
    assert test.stop_reason == "completed" and len(test.lrs) == len(test.losses) == len(test.smoothed) == 9
    ratios = np.asarray(test.lrs[1:]) / np.asarray(test.lrs[:-1])
    assert np.allclose(ratios, 10**0.5) and test.lrs[0] == pytest.approx(1e-5)
    assert test.lrs[-1] == pytest.approx(1e-1)
    assert test.suggestion == pytest.approx(test.min_lr / 10)
    assert test.min_lr == test.lrs[int(np.argmin(test.smoothed))]


def test_weights_buffers_and_mode_are_restored():
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    test = lr_range_test(model, data(), CFG, steps=20)
    assert len(test.lrs) >= 2
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not model.training and all(p.grad is None for p in model.parameters())
    model.train()
    lr_range_test(model, data(), CFG, steps=5)
    assert model.training


def test_stops_early_when_the_loss_explodes():
    test = lr_range_test(tiny(), data(), CFG, start_lr=1e-4, end_lr=1e4, steps=80)
    assert test.stop_reason.startswith("stopped at step") and len(test.lrs) < 80
    last = test.smoothed[-1]
    assert not np.isfinite(test.losses[-1]) or last > 4 * min(test.smoothed) or "became" in test.stop_reason
    assert test.min_lr < test.lrs[-1]


def test_same_numbers_twice():
    a = lr_range_test(tiny(), data(), CFG, steps=15)
    b = lr_range_test(tiny(), data(), CFG, steps=15)
    assert a.losses == b.losses and a.suggestion == b.suggestion


def test_loops_over_the_data_when_steps_exceed_one_pass():
    test = lr_range_test(tiny(), data(16), CFG, steps=12, explode=1e9)  # 2 batches per pass
    assert len(test.lrs) == 12


def test_plot_and_text():
    test = lr_range_test(tiny(), data(), CFG, steps=30)
    assert isinstance(test, LRRangeTest) and "suggested lr" in str(test) and "min/10" in str(test)
    fig = test.plot()
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel().startswith("learning rate")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_lr": 1.0, "end_lr": 1.0}, "start_lr"),
        ({"start_lr": 10.0, "end_lr": 1.0}, "start_lr"),
        ({"steps": 1}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"start_lr": 0}, "start_lr"),
        ({"end_lr": -1}, "end_lr"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"explode": 1.0}, "explode"),
    ],
)
def test_bad_arguments_are_one_line_config_errors(kwargs, match):
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ConfigError, match=match) as err:
        lr_range_test(model, data(), CFG, **kwargs)
    assert "\n" not in str(err.value)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
