"""flip_labels: exactly the requested share, seeded, only to other classes, on a copy; the feature
cache re-uses a noisy view's inputs and trains on its labels."""

import copy

import pytest
import torch
from test_cache import Images, tiny_resnet

from ftkit.config import TrainConfig
from ftkit.data.noise import NoisyLabels, flip_labels
from ftkit.errors import ConfigError, DataError
from ftkit.freeze import freeze, restore, snapshot
from ftkit.infra import cache
from ftkit.train import fit

torch.set_num_threads(1)

LABELS = [i % 3 for i in range(200)]


@pytest.mark.parametrize("share", [0.0, 0.1, 0.25, 0.4, 0.5])
def test_flips_exactly_the_share_and_only_to_other_classes(share):
    noisy = flip_labels(LABELS, share, seed=1)
    changed = [i for i, (a, b) in enumerate(zip(LABELS, noisy, strict=True)) if a != b]
    assert len(changed) == round(share * len(LABELS))
    assert all(0 <= t < 3 for t in noisy)


def test_seeded_and_input_untouched():
    before = list(LABELS)
    a, b = flip_labels(LABELS, 0.3, seed=5), flip_labels(LABELS, 0.3, seed=5)
    assert a == b and LABELS == before
    assert flip_labels(LABELS, 0.3, seed=6) != a
    # the other class is chosen at random among all others, not always the same one
    moved = {(x, y) for x, y in zip(LABELS, a, strict=True) if x != y}
    assert len(moved) == 6  # 3 classes x 2 other classes each


class LabelledImages(Images):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.targets = [int(t) for t in self.y]
        self.classes = ["a", "b", "c"]


def test_dataset_view_keeps_inputs_changes_labels_and_fingerprint():
    data = LabelledImages(40, 0)
    targets, fingerprint = list(data.targets), data.fingerprint
    noisy = flip_labels(data, 0.25, seed=0)
    assert isinstance(noisy, NoisyLabels) and len(noisy) == 40 and len(noisy.flipped) == 10
    assert data.targets == targets and data.fingerprint == fingerprint  # input untouched
    for i in range(40):
        x, y = noisy[i]
        assert torch.equal(x, data[i][0]) and y == noisy.targets[i]
        assert (y != targets[i]) == (i in noisy.flipped)
    assert noisy.fingerprint != fingerprint and noisy.classes == data.classes
    assert noisy.random_transform is False


@pytest.mark.parametrize("share", [-0.1, 1.0, 1.5, float("nan"), "0.2"])
def test_bad_share_is_a_one_line_config_error(share):
    with pytest.raises(ConfigError, match="share") as err:
        flip_labels(LABELS, share)
    assert "\n" not in str(err.value)


def test_bad_labels():
    with pytest.raises(DataError, match="no labels"):
        flip_labels([], 0.1)
    with pytest.raises(ConfigError, match="num_classes"):
        flip_labels([0, 0, 0], 0.5)  # one class: nothing to flip to
    with pytest.raises(DataError, match="ids in 0..1"):
        flip_labels([0, 1, 2], 0.5, num_classes=2)
    with pytest.raises(DataError, match="string"):
        flip_labels("0110", 0.5)


def test_cache_reuses_the_inputs_features_and_trains_on_the_noisy_labels():
    cache.clear_cache()
    data, val = LabelledImages(48, 0), LabelledImages(24, 1)
    noisy = flip_labels(data, 0.5, seed=2)
    cfg = TrainConfig(epochs=2, batch_size=16, seed=3)
    base = tiny_resnet()
    freeze(base, 0)
    plain, cached, warm = copy.deepcopy(base), copy.deepcopy(base), copy.deepcopy(base)
    h_plain = fit(plain, noisy, val, cfg, progress=False, cache=False)
    fit(warm, data, val, cfg, progress=False)  # stores the clean set's features
    restore(warm, snapshot(base))  # the same starting head; the frozen weights stay as they are
    h_cached = fit(warm, noisy, val, cfg, progress=False)
    assert "reused from memory" in h_cached.config["feature_cache"]
    h_fresh = fit(cached, noisy, val, cfg, progress=False)
    assert h_fresh.config["feature_cache"].startswith("feature cache ON")
    for h in (h_cached, h_fresh):
        for r1, r2 in zip(h_plain.epochs, h.epochs, strict=True):
            assert r1["train_loss"] == pytest.approx(r2["train_loss"], abs=1e-4)
    cache.clear_cache()
