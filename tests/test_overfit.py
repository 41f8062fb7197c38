"""ftkit.lessons.l05_overfit: head swapping, few-per-class subsets and the run table of lesson 05."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from ftkit.diagnose import diagnose
from ftkit.errors import ConfigError, DataError
from ftkit.freeze import freeze
from ftkit.history import History
from ftkit.infra import cache
from ftkit.infra.compat import ensure_torchvision
from ftkit.lessons.l05_overfit import accumulation_check, few_per_class, overfit_table, set_head
from ftkit.train import fit

ensure_torchvision()
from torchvision.models.resnet import BasicBlock, ResNet  # noqa: E402

torch.set_num_threads(1)


class Images(torch.utils.data.Dataset):
    def __init__(self, n, seed, random_transform=False):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, 16, 16, generator=g)
        self.targets = [i % 3 for i in range(n)]  # 3 balanced classes
        self.classes = ["a", "b", "c"]
        self.random_transform = random_transform
        self.fingerprint = f"images-{n}-{seed}"

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.targets[i]


class EffLike(nn.Module):
    """The two attribute names set_head cares about on an EfficientNet-Lite."""

    def __init__(self):
        super().__init__()
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(8, 2)

    def forward(self, x):
        return self._fc(self._dropout(x))


def loaded_resnet():
    torch.manual_seed(0)
    return SimpleNamespace(model=ResNet(BasicBlock, [1, 1, 1, 1], num_classes=3), head_name="fc")


def test_set_head_shapes_dropout_and_seed():
    loaded = loaded_resnet()
    attributes = set(vars(loaded.model))
    head = set_head(loaded, hidden=7, dropout=0.5, seed=1)
    assert set(vars(loaded.model)) == attributes  # only the head module changes; nothing stored on the model
    assert loaded.model.fc is head
    assert [type(m).__name__ for m in head] == ["Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert (head[1].in_features, head[1].out_features, head[4].out_features) == (512, 7, 3)
    assert loaded.model(torch.randn(2, 3, 16, 16)).shape == (2, 3)
    # swapping again finds the input size inside the Sequential; same seed, same weights
    linear = set_head(loaded, seed=1)
    assert isinstance(linear, nn.Linear) and (linear.in_features, linear.out_features) == (512, 3)
    again = set_head(loaded, seed=1)
    assert torch.equal(linear.weight, again.weight)
    assert not torch.equal(set_head(loaded, seed=2).weight, again.weight)
    assert set_head(loaded, module=head) is head and loaded.model.fc is head  # put a trained head back
    tiny = set_head(loaded, inputs=4)
    assert [type(m).__name__ for m in tiny] == ["FirstFeatures", "Linear"] and tiny[1].in_features == 4
    assert sum(p.numel() for p in tiny.parameters()) == 4 * 3 + 3
    assert torch.equal(tiny[0](torch.arange(10.0).reshape(1, 10)), torch.arange(4.0).reshape(1, 4))
    assert loaded.model(torch.randn(2, 3, 16, 16)).shape == (2, 3)
    assert set_head(loaded).in_features == 512  # after a tiny head, a full one sees all features again


def test_set_head_leaves_the_global_random_stream_alone():
    loaded = loaded_resnet()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    set_head(loaded, hidden=4, seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_set_head_switches_off_efficientnets_own_dropout():
    loaded = SimpleNamespace(model=EffLike(), head_name="_fc")
    set_head(loaded, hidden=4)
    assert isinstance(loaded.model._dropout, nn.Identity)
    assert not any(isinstance(m, nn.Dropout) for m in loaded.model.modules())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hidden": 0},
        {"hidden": 2.5},
        {"dropout": 1.0},
        {"dropout": -0.1},
        {"dropout": True},
        {"module": "fc"},
        {"inputs": 0},
        {"inputs": 513},
    ],
)
def test_set_head_refuses_bad_settings(kwargs):
    with pytest.raises(ConfigError):
        set_head(loaded_resnet(), **kwargs)


def test_few_per_class_is_balanced_seeded_and_keeps_attributes():
    data = Images(30, 0, random_transform=True)
    few = few_per_class(data, 4, seed=0)
    assert len(few) == 12 and [few.targets.count(c) for c in range(3)] == [4, 4, 4]
    assert few.classes == data.classes and few.random_transform is True
    assert few.indices == sorted(few.indices)
    assert [few[i][1] for i in range(len(few))] == few.targets
    assert few_per_class(data, 4, seed=0).indices == few.indices
    assert few_per_class(data, 4, seed=1).indices != few.indices


def test_few_per_class_bad_input():
    with pytest.raises(ConfigError, match="smallest class has only 10"):
        few_per_class(Images(30, 0), 11)
    with pytest.raises(ConfigError):
        few_per_class(Images(30, 0), 0)
    with pytest.raises(DataError):
        few_per_class(torch.utils.data.TensorDataset(torch.zeros(4, 2)), 1)


def test_heads_on_a_few_images_share_one_feature_cache():
    cache.clear_cache()
    loaded = loaded_resnet()
    freeze(loaded.model, 0)
    few, val = few_per_class(Images(30, 0), 4), Images(12, 1)
    set_head(loaded, hidden=16, dropout=0.5)
    first = fit(loaded.model, few, val, epochs=2, batch_size=4, progress=False)
    assert (
        first.config["feature_cache"].startswith("feature cache ON")
        and "12 images" in first.config["feature_cache"]
    )
    set_head(loaded)  # a new head: the frozen features are the same, so they are reused
    second = fit(loaded.model, few, val, epochs=2, batch_size=4, progress=False)
    assert "reused from memory" in second.config["feature_cache"]
    cache.clear_cache()


def test_overfit_table_reads_the_kept_epoch():
    h = History(config={"lr": 0.01})
    for epoch, (t, v, a) in enumerate(
        [(0.9, 0.8, 0.5), (0.5, 0.6, 0.7), (0.3, 0.7, 0.65), (0.1, 0.9, 0.6)], start=1
    ):
        h.log_epoch(epoch=epoch, train_loss=t, val_loss=v, val_accuracy=a, time_s=epoch * 0.5)
    h.stop_reason = "completed"
    table = overfit_table({"memorises": h})
    row = table.iloc[0]
    assert (
        row["run"] == "memorises" and row["lr"] == 0.01 and row["epochs run"] == 4 and row["kept epoch"] == 2
    )
    assert row["val loss"] == 0.6 and row["val accuracy"] == 0.7 and row["gap"] == pytest.approx(0.1)
    assert row["last val loss"] == 0.9
    assert row["verdict"] == diagnose(h).verdict == "over-fitting"
    assert row["time_s"] == 2.0 and row["stop reason"] == "completed"
    with pytest.raises(DataError):
        overfit_table({})


# ---- accumulation_check ----------------------------------------------------------------------------
def _tiny_cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(4 * 14 * 14, 3),
    )


def test_accumulation_matches_one_batch_and_needs_less_activation_memory():
    model = _tiny_cnn().train()
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 0])
    out = accumulation_check(model, x, y, 4)
    assert out["max_abs_diff"] < 1e-6 * max(1.0, out["max_abs_grad"])
    assert out["max_abs_grad"] > 0  # a real gradient was compared, not two zeros
    # activations grow with the batch (plus a little that does not): a micro-batch of 1 keeps far less
    assert 0 < out["micro_batch_activation_mb"] < 0.6 * out["batch_activation_mb"]
    assert model.training and all(p.grad is None for p in model.parameters())  # left as found


def test_accumulation_without_the_division_is_a_different_gradient():
    # the check can fail: summing micro-batch losses without dividing by the steps gives 4x the gradient
    model = _tiny_cnn()
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 0])
    out = accumulation_check(model, x, y, 4, loss_fn=nn.CrossEntropyLoss(reduction="sum"))
    assert out["max_abs_diff"] > 1e-3


def test_accumulation_check_bad_inputs():
    model = _tiny_cnn()
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ConfigError, match="multiple of accumulation_steps"):
        accumulation_check(model, x, y, 3)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        accumulation_check(model, x, y, 2)
