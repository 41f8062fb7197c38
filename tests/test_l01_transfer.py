"""Lesson 01's transfer tools: the filter measure sees structure, the probe reads each block, the race
trains one architecture from two starts under one config."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

import ftkit
from ftkit.errors import ConfigError
from ftkit.lessons.l01_transfer import depth_probe, filter_smoothness, first_conv, pretraining_race


class Images(torch.utils.data.Dataset):
    """Tiny 32 px images whose class is their brightness: any block can read it."""

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.targets = [i % 2 for i in range(n)]
        self.x = torch.randn(n, 3, 32, 32, generator=g) * 0.3 + torch.tensor(self.targets).view(-1, 1, 1, 1)
        self.classes = ["helmet", "no_helmet"]
        self.random_transform = False
        self.fingerprint = f"bright-{n}-{seed}"

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.x[i], self.targets[i]


def test_filter_smoothness_tells_learned_patterns_from_noise():
    smooth = nn.Sequential(nn.Conv2d(3, 8, 5))
    ramp = torch.linspace(-1, 1, 5)
    with torch.no_grad():
        smooth[0].weight.copy_((ramp.view(1, 1, 1, 5) * torch.randn(8, 3, 1, 1)).expand(8, 3, 5, 5))
    noise = nn.Sequential(nn.Conv2d(3, 8, 5))
    torch.manual_seed(0)
    nn.init.normal_(noise[0].weight)
    assert filter_smoothness(smooth) > 0.5 > abs(filter_smoothness(noise))
    with pytest.raises(ConfigError, match="first convolution"):
        first_conv(nn.Sequential(nn.Linear(3, 2)))


def test_depth_probe_reads_every_block_without_changing_the_model():
    model = ftkit.load_vision("tiny-resnet", num_classes=2, seed=0).model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = SimpleNamespace(train=Images(40, 0), test=Images(20, 1))
    probe = depth_probe({"random": model}, data)
    assert [b for b, _ in probe.index] == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert [f for _, f in probe.index] == [64, 64, 128, 256, 512]
    assert probe.loc["stem"]["random"].iloc[0] >= 0.9  # brightness is linearly readable at the bottom
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ConfigError, match="cannot split"):
        depth_probe({"mlp": nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 2))}, data)


def test_pretraining_race_trains_both_starts_the_same_way():
    data = SimpleNamespace(train=Images(16, 0), val=Images(8, 1), test=Images(8, 2), classes=["a", "b"])
    config = ftkit.TrainConfig(lr=1e-3, epochs=1, batch_size=8, seed=0)
    race = pretraining_race("tiny-resnet", data, config, profile="smoke", seed=0)
    assert list(race.table.index) == ["pretrained", "random init"]
    assert set(race.histories) == {"pretrained", "random init"}
    assert len(race.histories["pretrained"].epochs) == 1
    model = race.models["random init"]
    assert all(p.requires_grad for p in model.parameters())  # every weight trained
    assert {m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)} == {0.1}
