"""Image folders: both layouts, every PIL mode, bad inputs caught up front, fingerprints, splits."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ftkit.data.image_display import preview_augmentations, show_samples
from ftkit.data.image_files import open_rgb
from ftkit.data.images import ImageData, load_image_folder, load_images_for_prediction
from ftkit.errors import ConfigError, DataError

SIZE = 16  # tiny images keep the whole file fast


def _img(path: Path, colour=(200, 30, 30), size=(24, 20), mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).convert(mode).save(path, fmt)
    return path


def _split_folder(root: Path, n=3, classes=("cat", "dog"), splits=("train", "val", "test")):
    for split in splits:
        for k, cls in enumerate(classes):
            for i in range(n):
                _img(root / split / cls / f"{i}.jpg", colour=(40 + 100 * k, 60, 20 * i))
    return root


def _class_folder(root: Path, counts=None):
    counts = counts or {"a": 20, "b": 10}
    for k, (cls, n) in enumerate(counts.items()):
        for i in range(n):
            _img(root / cls / f"{cls}{i:02d}.png", colour=(30 * k, 5 * i, 90))
    return root


def test_split_layout_loads_rgb_tensors(tmp_path):
    data = load_image_folder(_split_folder(tmp_path / "d"), image_size=SIZE)
    assert isinstance(data, ImageData)
    assert data.classes == ["cat", "dog"] and data.train.classes == ["cat", "dog"]
    assert len(data.train) == len(data.val) == len(data.test) == 6
    x, y = data.train[0]
    assert x.dtype == torch.float32 and tuple(x.shape) == (3, SIZE, SIZE) and y in (0, 1)
    assert data.train.targets == [0, 0, 0, 1, 1, 1] and len(data.train.paths) == 6
    assert not data.train.random_transform
    table = data.summary()
    assert table.loc["cat", "train"] == 3 and table.loc["total", "total"] == 18
    assert "2 classes" in data.describe() and "6 train" in data.describe()


def test_augment_marks_train_only(tmp_path):
    data = load_image_folder(_split_folder(tmp_path / "d"), image_size=SIZE, augment=True)
    assert data.train.random_transform and not data.val.random_transform and not data.test.random_transform
    assert data.train.fingerprint != load_image_folder(tmp_path / "d", image_size=SIZE).train.fingerprint
    assert tuple(data.train[0][0].shape) == (3, SIZE, SIZE)


def test_missing_test_split_is_none(tmp_path):
    data = load_image_folder(_split_folder(tmp_path / "d", splits=("train", "val")), image_size=SIZE)
    assert data.test is None and list(data.splits()) == ["train", "val"]


def test_class_layout_is_split_stratified_and_seeded(tmp_path, capsys):
    root = _class_folder(tmp_path / "d")
    a = load_image_folder(root, image_size=SIZE, seed=1)
    assert "8:1:1" in capsys.readouterr().out  # the split is announced in one line
    assert [len(a.train), len(a.val), len(a.test)] == [24, 3, 3]
    assert a.val.targets.count(0) == 2 and a.val.targets.count(1) == 1  # each class split 8:1:1
    assert a.test.targets.count(0) == 2 and a.test.targets.count(1) == 1
    b = load_image_folder(root, image_size=SIZE, seed=1)
    c = load_image_folder(root, image_size=SIZE, seed=2)
    assert a.val.paths == b.val.paths and a.train.fingerprint == b.train.fingerprint
    assert a.val.paths != c.val.paths or a.test.paths != c.test.paths
    everything = a.train.paths + a.val.paths + a.test.paths
    assert len(set(everything)) == 30  # no image in two splits


def test_fingerprint_changes_when_a_file_is_added(tmp_path):
    root = _split_folder(tmp_path / "d")
    before = load_image_folder(root, image_size=SIZE).train.fingerprint
    assert before == load_image_folder(root, image_size=SIZE).train.fingerprint
    _img(root / "train" / "cat" / "new.jpg")
    assert load_image_folder(root, image_size=SIZE).train.fingerprint != before


def test_fingerprint_changes_with_transform(tmp_path):
    root = _split_folder(tmp_path / "d")
    assert (
        load_image_folder(root, image_size=SIZE).val.fingerprint
        != load_image_folder(root, image_size=SIZE + 8).val.fingerprint
    )
    assert (
        load_image_folder(root, image_size=SIZE).val.fingerprint
        != load_image_folder(root, image_size=SIZE, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)).val.fingerprint
    )


def test_hidden_files_are_ignored(tmp_path):
    root = _split_folder(tmp_path / "d")
    (root / "train" / "cat" / ".DS_Store").write_bytes(b"\x00junk")
    (root / "train" / "dog" / "Thumbs.db").write_bytes(b"junk")
    (root / "train" / "dog" / ".ipynb_checkpoints").mkdir()
    (root / "train" / "dog" / ".ipynb_checkpoints" / "x.txt").write_text("junk")
    (root / "val" / ".ipynb_checkpoints").mkdir()
    assert len(load_image_folder(root, image_size=SIZE).train) == 6


# ----------------------------------------------------------------------------- every mode to RGB


def _save_mode(path: Path, mode: str):
    if mode == "I;16":
        arr = np.full((12, 12), 65535, np.uint16)
        arr[:6] = 0
        Image.fromarray(arr).save(path)  # a 16-bit grey PNG
    elif mode == "P-transparent":
        im = Image.new("P", (12, 12), 0)
        im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
        im.paste(1, (0, 0, 6, 12))
        im.save(path, transparency=1)
    elif mode == "RGBA":
        Image.new("RGBA", (12, 12), (255, 0, 0, 0)).save(path)  # fully transparent red
    elif mode == "CMYK":
        Image.new("CMYK", (12, 12), (0, 255, 255, 0)).save(path)  # red in CMYK
    else:
        Image.new("RGB", (12, 12), (255, 255, 255)).convert(mode).save(path)


@pytest.mark.parametrize(
    "mode,ext",
    [
        ("L", "png"),
        ("LA", "png"),
        ("RGBA", "png"),
        ("P-transparent", "png"),
        ("CMYK", "jpg"),
        ("I;16", "png"),
        ("1", "png"),
        ("1", "bmp"),
    ],
)
def test_any_mode_becomes_8bit_rgb(tmp_path, mode, ext):
    path = tmp_path / f"im.{ext}"
    _save_mode(path, mode)
    im = open_rgb(path, image_size=SIZE)
    arr = np.asarray(im)
    assert im.mode == "RGB" and arr.dtype == np.uint8
    if mode == "I;16":
        assert arr[0, 0, 0] == 0 and arr[-1, 0, 0] == 255  # scaled from 16 bits, not clipped
    if mode == "RGBA":
        assert tuple(arr[0, 0]) == (255, 255, 255)  # transparent -> white background
    if mode == "P-transparent":
        assert tuple(arr[0, 0]) == (255, 255, 255) and tuple(arr[0, -1]) == (255, 0, 0)
    if mode == "CMYK":
        assert arr[0, 0, 0] > 200 and arr[0, 0, 1] < 60


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (30, 10), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    im.save(tmp_path / "o.jpg", exif=exif)
    assert open_rgb(tmp_path / "o.jpg").size == (10, 30)


def test_huge_jpeg_is_shrunk_while_decoding(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (10, 120, 10)).save(path, quality=50)
    im = open_rgb(path, image_size=64)
    assert min(im.size) <= 4 * 64 and im.size[0] > im.size[1]


# ----------------------------------------------------------------------------- bad inputs


def _raises(root, *needles):
    with pytest.raises(DataError) as info:
        load_image_folder(root, image_size=SIZE)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


def test_missing_folder(tmp_path):
    _raises(tmp_path / "nope", "not found", "nope")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    _raises(tmp_path / "empty", "empty", "empty")


def test_only_one_class(tmp_path):
    _class_folder(tmp_path / "d", {"solo": 5})
    _raises(tmp_path / "d", "one class", "solo")


def test_train_and_val_classes_differ(tmp_path):
    root = _split_folder(tmp_path / "d", splits=("train",))
    _split_folder(root, classes=("cat", "dgo"), splits=("val",))
    _raises(root, "differ", "dog", "dgo")


def test_val_without_train(tmp_path):
    root = _split_folder(tmp_path / "d", splits=("val",))
    _raises(root, "no train/")


def test_split_missing_a_class_images(tmp_path):
    root = _split_folder(tmp_path / "d")
    for f in (root / "val" / "dog").iterdir():
        f.unlink()
    _raises(root, "no images of class 'dog'", str(root / "val" / "dog"))


def test_zero_byte_image(tmp_path):
    root = _split_folder(tmp_path / "d")
    (root / "train" / "cat" / "zero.jpg").write_bytes(b"")
    _raises(root, "zero.jpg", "zero-byte", "Delete")


def test_truncated_jpeg(tmp_path):
    root = _split_folder(tmp_path / "d")
    full = tmp_path / "full.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        full, quality=90
    )
    data = full.read_bytes()
    (root / "val" / "dog" / "cut.jpg").write_bytes(data[: len(data) // 2])
    _raises(root, "cut.jpg", "truncated", "re-export")


def test_truncated_png(tmp_path):
    root = _split_folder(tmp_path / "d")
    full = tmp_path / "full.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(full)
    data = full.read_bytes()
    (root / "test" / "cat" / "cut.png").write_bytes(data[: len(data) // 2])
    _raises(root, "cut.png")


def test_garbage_with_image_extension(tmp_path):
    root = _split_folder(tmp_path / "d")
    (root / "train" / "dog" / "fake.jpg").write_text("this is not a picture")
    _raises(root, "fake.jpg", "Delete")


def test_non_image_file_in_class_folder(tmp_path):
    root = _split_folder(tmp_path / "d")
    (root / "train" / "cat" / "notes.txt").write_text("hello")
    _raises(root, "notes.txt", "Not an image")


def test_class_too_small_to_split(tmp_path):
    _class_folder(tmp_path / "d", {"a": 10, "b": 2})
    _raises(tmp_path / "d", "'b'", "2 image")


# ----------------------------------------------------------------------------- prediction, figures


def test_load_images_for_prediction(tmp_path):
    folder = tmp_path / "new"
    _img(folder / "one.jpg")
    _img(folder / "two.png", mode="L")
    (folder / ".DS_Store").write_bytes(b"x")
    batch, paths = load_images_for_prediction(folder, image_size=SIZE)
    assert tuple(batch.shape) == (2, 3, SIZE, SIZE) and [Path(p).name for p in paths] == [
        "one.jpg",
        "two.png",
    ]
    single, paths = load_images_for_prediction(str(folder / "one.jpg"), image_size=SIZE)
    assert tuple(single.shape) == (1, 3, SIZE, SIZE)
    (folder / "bad.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="bad.jpg"):
        load_images_for_prediction([folder / "one.jpg", folder / "bad.jpg"], image_size=SIZE)
    with pytest.raises(DataError, match="missing"):
        load_images_for_prediction(tmp_path / "missing", image_size=SIZE)


def test_figures(tmp_path):
    data = load_image_folder(_split_folder(tmp_path / "d"), image_size=SIZE, augment=True)
    fig = show_samples(data, n=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert sorted(set(titles)) == ["cat", "dog"]
    torch.manual_seed(0)
    fig = preview_augmentations(data.train, 1, n=3)
    assert len([ax for ax in fig.axes if ax.images]) == 4


def test_items_repeat_with_seed(tmp_path):
    data = load_image_folder(_split_folder(tmp_path / "d"), image_size=SIZE, augment=True)
    torch.manual_seed(5)
    a = data.train[2][0]
    torch.manual_seed(5)
    assert torch.equal(a, data.train[2][0])
    assert os.path.isfile(data.train.paths[2])


def test_figure_split_and_size_arguments_are_checked(tmp_path):
    data = load_image_folder(_split_folder(tmp_path / "d"), image_size=SIZE)
    with pytest.raises(ConfigError, match="index must be a whole number from 0 to"):
        preview_augmentations(data.train, len(data.train))
    assert preview_augmentations(data.train, np.int64(0), n=1) is not None  # e.g. an np.argmax result
    with pytest.raises(ConfigError, match="Unknown split 'tset'"):
        show_samples(data, split="tset")
    for bad in [(0.8, float("nan"), 0.2), (0.9, 0.0, 0.1), (0.5, 0.5), "abc"]:
        with pytest.raises(ConfigError, match="split must be three fractions"):
            load_image_folder(tmp_path / "d", image_size=SIZE, split=bad)
    with pytest.raises(ConfigError, match="image_size"):
        load_image_folder(tmp_path / "d", image_size=4)
