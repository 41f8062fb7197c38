"""The procedural helmet generator: deterministic, never clobbers, committed sample is complete."""

from pathlib import Path

import pytest
from PIL import Image

from ftkit.errors import ConfigError, SaveError
from ftkit.samples import HELMET_CLASSES, generate_helmet_dataset, render_helmet_image

SAMPLE = Path(__file__).resolve().parent.parent / "data_samples" / "helmet"


def _bytes(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = generate_helmet_dataset(tmp_path / "a", 4, 2, 2, size=48, seed=3)
    b = generate_helmet_dataset(tmp_path / "b", 4, 2, 2, size=48, seed=3)
    files_a, files_b = _bytes(a), _bytes(b)
    assert len([k for k in files_a if k.endswith(".jpg")]) == 8
    assert files_a == files_b


def test_other_seed_gives_other_images(tmp_path):
    a = _bytes(generate_helmet_dataset(tmp_path / "a", 2, 0, 0, size=48, seed=0))
    b = _bytes(generate_helmet_dataset(tmp_path / "b", 2, 0, 0, size=48, seed=1))
    assert a["train/helmet/0000.jpg"] != b["train/helmet/0000.jpg"]


def test_layout_and_class_balance(tmp_path):
    root = generate_helmet_dataset(tmp_path / "h", 5, 2, 0, size=40, seed=0)
    assert len(list((root / "train" / "helmet").glob("*.jpg"))) == 3  # odd count: helmet gets the extra
    assert len(list((root / "train" / "no_helmet").glob("*.jpg"))) == 2
    assert len(list((root / "val" / "helmet").glob("*.jpg"))) == 1
    with Image.open(root / "train" / "helmet" / "0000.jpg") as im:
        assert im.size == (40, 40) and im.mode == "RGB"


def test_refuses_to_overwrite_unless_asked(tmp_path):
    out = tmp_path / "h"
    generate_helmet_dataset(out, 2, 0, 0, size=40, seed=0)
    keep = out / "my_notes.txt"
    keep.write_text("mine")
    with pytest.raises(SaveError, match="overwrite=True"):
        generate_helmet_dataset(out, 2, 0, 0, size=40, seed=1)
    generate_helmet_dataset(out, 2, 0, 0, size=40, seed=1, overwrite=True)
    assert keep.read_text() == "mine"  # overwrite only replaces what the generator wrote


def test_bad_arguments():
    with pytest.raises(ConfigError):
        generate_helmet_dataset("unused", n_train=-1)
    with pytest.raises(ConfigError):
        generate_helmet_dataset("unused", size=8)


def test_render_is_deterministic_and_differs_by_class():
    a = render_helmet_image(True, (0, 1, 2), size=48).tobytes()
    assert a == render_helmet_image(True, (0, 1, 2), size=48).tobytes()
    assert a != render_helmet_image(False, (0, 1, 2), size=48).tobytes()


def test_committed_sample_layout_classes_and_counts():
    assert SAMPLE.is_dir(), "data_samples/helmet is missing: run `ftkit samples`"
    expected = {"train": 200, "val": 50, "test": 50}
    total_bytes = 0
    for split, per_class in expected.items():
        classes = sorted(p.name for p in (SAMPLE / split).iterdir() if p.is_dir())
        assert classes == list(HELMET_CLASSES)
        for cls in classes:
            files = sorted((SAMPLE / split / cls).glob("*.jpg"))
            assert len(files) == per_class, (split, cls)
            total_bytes += sum(f.stat().st_size for f in files)
    assert total_bytes < 6_000_000  # the repository stays small
    with Image.open(SAMPLE / "train" / "helmet" / "0000.jpg") as im:
        assert im.size == (128, 128) and im.mode == "RGB"
