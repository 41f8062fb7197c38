"""Cached frozen features: same results as the uncached run, clear reasons, correct invalidation."""

import copy

import pytest
import torch
from torch import nn

from ftkit.config import TrainConfig
from ftkit.errors import ConfigError
from ftkit.freeze import freeze, restore, snapshot
from ftkit.infra import cache
from ftkit.infra.compat import ensure_torchvision
from ftkit.train import fit

ensure_torchvision()
from torchvision.models.resnet import BasicBlock, ResNet  # noqa: E402

torch.set_num_threads(1)


class Images(torch.utils.data.Dataset):
    """Tensor 'images' with the ftkit dataset attributes the cache looks at."""

    def __init__(self, n, seed, size=16, random_transform=False, tag="a"):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, size, size, generator=g)
        self.y = torch.randint(0, 3, (n,), generator=g)
        self.random_transform = random_transform
        self.fingerprint = f"images-{n}-{seed}-{size}-{tag}"

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


TRAIN, VAL = Images(48, 0), Images(24, 1)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear_cache()
    yield
    cache.clear_cache()


def tiny_resnet():
    torch.manual_seed(0)
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=3)


def run(model, depth, use_cache, train=TRAIN, val=VAL, **changes):
    freeze(model, depth)
    cfg = TrainConfig(epochs=2, batch_size=16, seed=3).updated(**changes)
    return fit(model, train, val, cfg, metrics=("accuracy", "f1_macro"), progress=False, cache=use_cache)


def assert_same_run(h1, h2, m1, m2, tol=1e-4):
    assert len(h1.epochs) == len(h2.epochs)
    for r1, r2 in zip(h1.epochs + h1.steps, h2.epochs + h2.steps, strict=True):
        for key in r1:
            if key != "time_s":
                assert r1[key] == pytest.approx(r2[key], abs=tol), key
    for (name, a), b in zip(m1.state_dict().items(), m2.state_dict().values(), strict=True):
        if a.is_floating_point():
            assert torch.allclose(a, b, atol=tol), name


@pytest.mark.parametrize("depth", [0, 1])
def test_cached_run_matches_uncached_resnet(depth):
    base = tiny_resnet()
    plain, cached = copy.deepcopy(base), copy.deepcopy(base)
    h_plain = run(plain, depth, False)
    h_cached = run(cached, depth, True)
    assert h_plain.config["feature_cache"].startswith("feature cache OFF")
    expected = "stem..layer4" if depth == 0 else "stem..layer3"
    assert h_cached.config["feature_cache"].startswith(
        f"feature cache ON: frozen {expected} computed once for 48 images"
    )
    assert_same_run(h_plain, h_cached, plain, cached)


def test_cached_run_matches_uncached_efficientnet_with_dropout():
    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(0)
    base = EfficientNet.from_name("efficientnet-lite0", num_classes=3, image_size=32)
    assert base._dropout.p > 0  # the dropout between pooling and _fc must behave the same in both runs
    train, val = Images(24, 0, size=32), Images(16, 1, size=32)
    plain, cached = copy.deepcopy(base), copy.deepcopy(base)
    h_plain = run(plain, 1, False, train, val, batch_size=8)
    h_cached = run(cached, 1, True, train, val, batch_size=8)
    assert "frozen stem..stage7" in h_cached.config["feature_cache"]
    assert_same_run(h_plain, h_cached, plain, cached)


def test_reasons_when_the_cache_is_off():
    model = tiny_resnet()
    augmented = Images(48, 0, random_transform=True)
    h = run(model, 0, "auto", train=augmented, val=None, epochs=1)
    assert h.config["feature_cache"] == (
        "feature cache OFF: training set is augmented randomly (the frozen part sees a new image every epoch)"
    )
    h = run(model, 5, "auto", epochs=1)
    assert "no block at the bottom is frozen" in h.config["feature_cache"]
    h = run(model, 0, "auto", epochs=1, cache_max_gb=1e-9)
    assert "would take" in h.config["feature_cache"] and "cache_max_gb" in h.config["feature_cache"]
    with pytest.raises(ConfigError, match="feature cache"):
        run(model, 0, True, train=augmented)
    seq = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 3))
    h = fit(seq, TRAIN, VAL, epochs=1, batch_size=16, progress=False)
    assert "cannot split Sequential" in h.config["feature_cache"]


@pytest.mark.parametrize("depth", [0, 1])
def test_augmented_training_still_caches_validation_and_gives_the_same_run(depth):
    base = tiny_resnet()
    plain, cached = copy.deepcopy(base), copy.deepcopy(base)
    augmented = Images(
        48, 0, random_transform=True
    )  # flagged as augmented: the training side cannot be cached
    h_plain = run(plain, depth, False, train=augmented)
    h_cached = run(cached, depth, "auto", train=augmented)
    assert h_cached.config["feature_cache"].startswith("feature cache for validation only (24 examples")
    assert "training set is augmented randomly" in h_cached.config["feature_cache"]
    assert_same_run(h_plain, h_cached, plain, cached)


def test_cache_is_reused_and_invalidated():
    model = tiny_resnet()
    run(model, 0, "auto", epochs=1)
    assert len(cache.cache_info()) == 2  # train and val features
    nn.init.zeros_(model.fc.weight)  # a new head: the frozen part is unchanged
    h = run(model, 0, "auto", epochs=1)
    assert "reused from memory" in h.config["feature_cache"]
    restore(model, snapshot(model))  # what fit does when it goes back to the best epoch
    h = run(model, 0, "auto", epochs=1)
    assert "reused from memory" in h.config["feature_cache"]
    for frozen_weight in (model.layer2[0].conv1.weight, model.conv1.weight, model.bn1.running_var):
        with torch.no_grad():
            frozen_weight.mul_(0.5)  # a frozen tensor changed in place
        h = run(model, 0, "auto", epochs=1)
        assert "reused" not in h.config["feature_cache"]
        h = run(model, 0, "auto", epochs=1)
        assert "reused" in h.config["feature_cache"]
    h = run(model, 1, "auto", epochs=1)  # another split point
    assert "reused" not in h.config["feature_cache"]
    other = Images(48, 0, tag="b")  # same pixels, different fingerprint (e.g. another transform)
    h = run(model, 1, "auto", train=other, epochs=1)
    assert "reused" not in h.config["feature_cache"]
    assert len(cache.cache_info()) <= cache.MAX_ENTRIES


def test_cached_features_follow_the_same_batch_order():
    from ftkit.data.loaders import make_loader

    feats = cache.CachedFeatures(torch.arange(40.0).unsqueeze(1), torch.arange(40))
    fast = [y.tolist() for _, y in make_loader(feats, 16, True, seed=5)]
    plain = torch.utils.data.TensorDataset(torch.arange(40.0), torch.arange(40))
    normal = [y.tolist() for _, y in make_loader(plain, 16, True, seed=5)]
    assert fast == normal and sorted(sum(fast, [])) == list(range(40)) and fast[0] != list(range(16))
