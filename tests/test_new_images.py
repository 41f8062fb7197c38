"""data_samples/helmet_new: the images lesson 01 predicts on are new, and are what their README says."""

import hashlib
import io
from pathlib import Path

from ftkit.samples import HELMET_CLASSES, render_helmet_image

DATA = Path(__file__).resolve().parent.parent / "data_samples"
NEW = DATA / "helmet_new" / "images"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_images_are_the_documented_drawings():
    for class_id, cls in enumerate(HELMET_CLASSES):
        files = sorted((NEW / cls).glob("*.jpg"))
        assert [f.name for f in files] == ["0000.jpg", "0001.jpg", "0002.jpg"], cls
        for i, path in enumerate(files):
            buffer = io.BytesIO()
            image = render_helmet_image(cls == "helmet", (1, 2, class_id, i), 128)
            image.save(buffer, format="JPEG", quality=85)
            assert buffer.getvalue() == path.read_bytes(), path


def test_new_images_are_not_in_the_lesson_data():
    lesson_files = {_digest(p) for p in (DATA / "helmet").rglob("*.jpg")}
    assert len(lesson_files) == 600
    new_files = {_digest(p) for p in NEW.rglob("*.jpg")}
    assert len(new_files) == 6
    assert not new_files & lesson_files


def test_lesson_01_predicts_on_the_new_images():
    import json

    nb = json.loads((DATA.parent / "notebooks" / "01_helmet_classifier.ipynb").read_text(encoding="utf-8"))
    params = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    line = next(ln for ln in params["source"] if ln.startswith("NEW_IMAGES"))
    assert "helmet_new/images" in line and "/test/" not in line
