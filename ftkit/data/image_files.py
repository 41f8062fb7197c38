"""The files of an image folder: which images belong to which class and split, each one checked.

`scan_image_folder(root)` reads one of the two layouts `load_image_folder` understands,

    root/train/<class>/*.jpg  root/val/<class>/*.jpg  [root/test/<class>/*.jpg]
    root/<class>/*.jpg                      (split here: stratified, seeded, 8:1:1)

and `check_image_file` opens every file before training (a truncated JPEG found at epoch 3
wastes the first two).  `open_rgb` decodes any image (grey, palette with transparency, CMYK,
16-bit, 1-bit...) to an upright 8-bit RGB picture, shrunk while decoding when it is huge.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DataError

__all__ = ["IMAGE_EXTENSIONS", "scan_image_folder", "class_files", "check_image_file", "open_rgb"]

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
_IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini", "__macosx", ".ipynb_checkpoints"})  # OS litter
_SPLIT_NAMES = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}
# Non-JPEG files below this size are fully decoded when checked: catches truncation cheaply.
_FULL_DECODE_BYTES = 2_000_000
# Keep the shorter side at least 2x image_size after load: room for random crops.
_DECODE_SIDE_FACTOR = 2


# --------------------------------------------------------------------------- layouts


def scan_image_folder(root: Path, split, seed: int):
    """-> (files, classes, layout): files maps 'train'/'val'['/test'] to [(path, class id), ...]."""
    if not root.is_dir():
        raise DataError(
            f"Image folder not found: {root}. Check the path (DATA_DIR) or run `ftkit samples` for the "
            "sample set."
        )
    subdirs = _visible_dirs(root)
    if not subdirs:
        raise DataError(
            f"Image folder is empty (no class or split folders): {root}. "
            "Put one folder per class inside it, or train/ and val/ folders."
        )
    found = {
        key: next((root / n for n in names if (root / n).is_dir()), None)
        for key, names in _SPLIT_NAMES.items()
    }
    if found["train"] is not None or found["val"] is not None:
        return _scan_split_layout(root, found)
    return _scan_class_layout(root, split, seed)


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.lower() in _IGNORED_NAMES


def _visible_dirs(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not _ignored(p.name))


def class_files(class_dir: Path) -> list:
    """Image files under one class folder (recursively), sorted; other files are an error."""
    images = []
    for dirpath, dirnames, filenames in os.walk(class_dir):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
        for name in sorted(filenames):
            if _ignored(name):
                continue
            path = Path(dirpath) / name
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                raise DataError(
                    f"Not an image file inside class folder {class_dir.name!r}: {path}. "
                    "Move it out of the data folder (only images belong in class folders)."
                )
            images.append(str(path))
    return images


def _scan_split_layout(root: Path, found: dict):
    for key in ("train", "val"):
        if found[key] is None:
            other = "val" if key == "train" else "train"
            raise DataError(
                f"Found {other}/ but no {key}/ folder in {root}. Add {key}/ with the same class folders, "
                "or put the class folders directly in the root to have them split automatically."
            )
    class_sets = {
        key: [d.name for d in _visible_dirs(folder)] for key, folder in found.items() if folder is not None
    }
    classes = class_sets["train"]
    if not classes:
        raise DataError(
            f"No class folders in {found['train']}. Put one folder of images per class inside it."
        )
    for key, names in class_sets.items():
        if names != classes:
            only_train, only_other = sorted(set(classes) - set(names)), sorted(set(names) - set(classes))
            raise DataError(
                f"Class folders differ between train/ and {found[key].name}/ in {root}: "
                f"only in train: {only_train or 'none'}, only in {found[key].name}: {only_other or 'none'}. "
                "Rename or add folders so every split has the same classes."
            )
    _check_class_count(classes, root)
    files = {}
    for key, folder in found.items():
        if folder is None:
            continue
        entries = []
        for label, name in enumerate(classes):
            paths = class_files(folder / name)
            if not paths:
                raise DataError(
                    f"Split {folder.name}/ has no images of class {name!r}: {folder / name}. "
                    "Add some images there (every class needs examples in every split)."
                )
            entries += [(p, label) for p in paths]
        files[key] = entries
    return files, classes, "train/val" + ("/test" if found["test"] is not None else "") + " folders"


def _scan_class_layout(root: Path, split, seed: int):
    classes = [d.name for d in _visible_dirs(root)]
    _check_class_count(classes, root)
    rng = np.random.default_rng(seed)
    files = {"train": [], "val": [], "test": []} if split[2] > 0 else {"train": [], "val": []}
    for label, name in enumerate(classes):
        paths = class_files(root / name)
        need = len(files)
        if len(paths) < need:
            raise DataError(
                f"Class {name!r} has {len(paths)} image(s), too few to split into {'/'.join(files)}: "
                f"{root / name}. Add at least {need} images (dozens are better)."
            )
        order = rng.permutation(len(paths))
        n_val = max(1, round(len(paths) * split[1]))
        n_test = max(1, round(len(paths) * split[2])) if "test" in files else 0
        n_train = len(paths) - n_val - n_test
        if n_train < 1:
            raise DataError(
                f"Class {name!r} has only {len(paths)} images, none left for training: {root / name}. Add "
                "more images."
            )
        chosen = {
            "train": order[:n_train],
            "val": order[n_train : n_train + n_val],
            "test": order[n_train + n_val :],
        }
        for key in files:
            files[key] += [(paths[i], label) for i in sorted(chosen[key])]
    shares = ":".join(f"{f * 10:g}" for f in split)
    print(
        f"No train/val folders in {root.name}: split each class {shares} (train:val:test), stratified, seed "
        f"{seed}."
    )
    return files, classes, f"one folder per class, split {shares} here (seed {seed})"


def _check_class_count(classes, root):
    if not classes:
        raise DataError(f"No class folders found in {root}. Put one folder of images per class inside it.")
    if len(classes) < 2:
        raise DataError(
            f"Only one class folder ({classes[0]!r}) in {root}. A classifier needs at least two: "
            "add a folder of images for each other class."
        )


# --------------------------------------------------------------------------- checking and decoding


def check_image_file(path) -> tuple:
    """Open and check one image file cheaply; return (size in bytes, mtime in ns) for fingerprints.

    JPEGs are decoded at 1/8 scale (`draft`), which reads the whole file and so catches
    truncation; other formats are `verify()`-ed, and fully decoded when smaller than 2 MB.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(
            f"Cannot read image file {path}: {exc.strerror}. Check the path and its permissions."
        ) from None
    if st.st_size == 0:
        raise DataError(f"Empty (zero-byte) image file: {path}. Delete it or re-export the image.")
    try:
        with Image.open(path) as im:
            if im.format == "JPEG":
                im.draft(None, (max(1, im.width // 8), max(1, im.height // 8)))
                im.load()
            else:
                im.verify()
        if not _is_jpeg(path) and st.st_size < _FULL_DECODE_BYTES:
            with Image.open(path) as im:
                im.load()
    except UnidentifiedImageError:
        raise DataError(
            f"Not a readable image (unknown format): {path}. Delete it or re-export it as JPEG or PNG."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        reason = str(exc).split("\n")[0][:80]
        raise DataError(
            f"Unreadable or truncated image file ({reason}): {path}. Delete it or re-export the image."
        ) from None
    return st.st_size, st.st_mtime_ns


def _is_jpeg(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(3) == b"\xff\xd8\xff"


def open_rgb(path, image_size: int | None = None) -> Image.Image:
    """Decode any image file to an upright 8-bit RGB PIL image.

    With `image_size`, huge images are shrunk while decoding (JPEG `draft`) and then so
    that the shorter side is about 2 x image_size: an 8000x6000 photo never sits in memory
    at full size.
    """
    with Image.open(path) as im:
        if image_size and im.format == "JPEG":
            target = _DECODE_SIDE_FACTOR * image_size
            im.draft(None, (target, target))  # decode at 1/2, 1/4 or 1/8 scale when that is still big enough
        im = ImageOps.exif_transpose(im)  # returns a loaded, upright copy
    if image_size:
        target = _DECODE_SIDE_FACTOR * image_size
        scale = target / min(im.size)
        if scale < 1:
            im = im.resize(
                (max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                Image.BILINEAR,
                reducing_gap=2.0,
            )
    return _to_rgb(im)


def _to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode; transparent areas become white."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode.startswith("I") or mode == "F":  # 16-bit or 32-bit grey: scale to 0..255, don't clip
        arr = np.asarray(im, dtype=np.float64)
        top = arr.max() if arr.size else 0
        if mode.startswith("I;16") or top > 255:
            arr = arr / 257.0 if top <= 65535 else arr * (255.0 / max(top, 1))
        elif mode == "F" and top <= 1.0:
            arr = arr * 255.0
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    return im.convert("RGB")  # L, 1, CMYK, YCbCr, RGBX...
