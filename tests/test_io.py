"""ftkit.infra.io: safetensors round trips, atomic saves, no clobbering, refused pickles."""

import os
import pickle
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from ftkit.errors import ConfigError, ModelError, SaveError
from ftkit.infra.io import (
    load_checkpoint,
    load_weights,
    read_metadata,
    save_folder,
    save_pretrained,
    save_weights,
)


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def test_round_trip_with_metadata(tmp_path):
    src, dst = _net(0), _net(1)
    path = save_weights(src, tmp_path / "w.safetensors", metadata={"arch": "mlp", "classes": ["a", "b"]})
    assert not torch.equal(src[0].weight, dst[0].weight)
    load_weights(dst, path)
    for a, b in zip(src.state_dict().values(), dst.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    meta = read_metadata(path)
    assert meta["arch"] == "mlp" and meta["classes"] == '["a", "b"]'
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temp file left behind


def test_tied_weights_are_saved(tmp_path):
    emb = nn.Embedding(5, 3)
    head = nn.Linear(3, 5, bias=False)
    head.weight = emb.weight  # shared storage, like a language model's tied embeddings
    state = {"emb.weight": emb.weight, "head.weight": head.weight}
    path = save_weights(state, tmp_path / "tied.safetensors")
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["emb.weight"], loaded["head.weight"])


def test_no_clobber_unless_overwrite(tmp_path):
    path = save_weights(_net(0), tmp_path / "w.safetensors")
    before = path.read_bytes()
    with pytest.raises(SaveError, match="already exists"):
        save_weights(_net(1), path)
    assert path.read_bytes() == before
    with pytest.raises(ConfigError, match="overwrite must be True or False"):
        save_weights(_net(1), path, overwrite="no")  # a truthy string must not replace the file
    assert path.read_bytes() == before
    save_weights(_net(1), path, overwrite=True)
    assert path.read_bytes() != before


def test_wrong_suffix_and_bad_input(tmp_path):
    with pytest.raises(ConfigError, match=".safetensors"):
        save_weights(_net(), tmp_path / "w.pt")
    with pytest.raises(ConfigError):
        save_weights({"a": [1, 2]}, tmp_path / "x.safetensors")
    with pytest.raises(ModelError, match="not found"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_load_weights_reports_mismatch(tmp_path):
    path = save_weights(_net(), tmp_path / "w.safetensors")
    with pytest.raises(ModelError, match="does not fit"):
        load_weights(nn.Linear(4, 2), path)


def test_plain_pt_state_dict_is_accepted(tmp_path):
    src = _net(0)
    torch.save({"state_dict": src.state_dict()}, tmp_path / "old.pt")
    dst = load_weights(_net(1), tmp_path / "old.pt")
    assert torch.equal(dst[2].bias, src[2].bias)


class _Evil:
    """A pickle that would write a marker file when unpickled (stands in for real malware)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_malicious_pickle_is_refused(tmp_path, writer):
    marker = tmp_path / "marker.txt"
    bad = tmp_path / "evil.pth"
    payload = {"weight": _Evil(str(marker))}
    if writer == "pickle":
        with open(bad, "wb") as f:
            pickle.dump(payload, f, protocol=2)
    else:
        torch.save(payload, bad)  # the zip format torch.save writes, with the pickle inside
    with pytest.raises(ModelError) as info:
        load_checkpoint(bad)
    assert "Refused" in str(info.value) and "\n" not in str(info.value)
    assert not marker.exists()
    # sanity: the payload really is live (loading it without weights_only writes the marker)
    if writer == "pickle":
        with open(bad, "rb") as f:
            pickle.load(f)
    else:
        torch.load(bad, weights_only=False)
    assert marker.exists()


def test_save_folder_is_atomic_and_keeps_old(tmp_path):
    folder = tmp_path / "run"
    save_folder(lambda d: Path(d, "a.txt").write_text("first"), folder)
    assert (folder / "a.txt").read_text() == "first"

    def crash(d):
        Path(d, "a.txt").write_text("half")
        raise KeyboardInterrupt  # an interrupted save

    with pytest.raises(KeyboardInterrupt):
        save_folder(crash, folder, overwrite=True)
    assert (folder / "a.txt").read_text() == "first"  # old folder untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temp folders left

    with pytest.raises(SaveError):
        save_folder(lambda d: None, folder)
    save_folder(lambda d: Path(d, "b.txt").write_text("second"), folder, overwrite=True)
    assert sorted(os.listdir(folder)) == ["b.txt"]  # replaced as a whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_save_pretrained_wraps_objects(tmp_path):
    class Fake:
        def __init__(self, name):
            self.name = name

        def save_pretrained(self, folder):
            Path(folder, self.name).write_text("x")

    out = save_pretrained(tmp_path / "m", Fake("config.json"), Fake("tokenizer.json"))
    assert sorted(os.listdir(out)) == ["config.json", "tokenizer.json"]
    with pytest.raises(ConfigError):
        save_pretrained(tmp_path / "n", object())


def test_history_save_is_atomic_and_round_trips(tmp_path):
    from ftkit.history import History

    h = History(label="run")
    h.log_epoch(epoch=1, train_loss=0.5, val_loss=0.6)
    path = h.save(tmp_path / "sub" / "history.json")
    assert History.load(path).epochs == h.epochs
    assert sorted(p.name for p in path.parent.iterdir()) == ["history.json"]  # no temporary file left behind
