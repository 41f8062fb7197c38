"""Image folders for training: `load_image_folder(root)` -> `ImageData` (train / val / test).

Two layouts are understood, the same ones torchvision's `ImageFolder` users know:

    root/train/<class>/*.jpg  root/val/<class>/*.jpg  [root/test/<class>/*.jpg]
    root/<class>/*.jpg                      (split here: stratified, seeded, 8:1:1)

Every file is checked *before* any training starts (a truncated JPEG found at epoch 3 wastes
the first two), so a bad folder fails in seconds with one line saying which file and what
to do.  Images are decoded with PIL, whatever their mode (grey, palette with transparency,
CMYK, 16-bit, 1-bit...), turned upright from their EXIF orientation, shrunk while decoding
when they are huge, and converted to 8-bit RGB.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ConfigError, DataError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_EXTENSIONS",
    "check_image_file",
    "ImageData",
    "ImageFolderDataset",
    "load_image_folder",
    "load_images_for_prediction",
    "open_rgb",
    "preview_augmentations",
    "show_samples",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the pretrained CNNs were trained on ImageNet-normalised inputs
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
_IGNORED_NAMES = frozenset(
    {"thumbs.db", "desktop.ini", "__macosx", ".ipynb_checkpoints"}
)  # OS / Jupyter litter
_SPLIT_NAMES = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}
_FULL_DECODE_BYTES = (
    2_000_000  # non-JPEG files below this are fully decoded when checked: catches truncation cheaply
)
_DECODE_SIDE_FACTOR = 2  # keep the shorter side at least 2x image_size after load: room for random crops


# --------------------------------------------------------------------------- datasets


class ImageFolderDataset(torch.utils.data.Dataset):
    """A list of image files with labels; items are `(float tensor C,H,W normalised, int label)`.

    Besides `__len__` and `__getitem__` it carries what every ftkit dataset has: `.classes`,
    `.targets`, `.paths`, `.fingerprint`, `.random_transform` (and `.mean`/`.std` for plots).
    """

    def __init__(
        self,
        paths,
        targets,
        classes,
        transform,
        *,
        random_transform: bool,
        image_size: int,
        mean,
        std,
        stats=None,
    ):
        self.paths = [str(p) for p in paths]
        self.targets = [int(t) for t in targets]
        self.classes = list(classes)
        self.transform = transform
        self.random_transform = bool(random_transform)
        self.image_size = int(image_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.transform_description = repr(transform)
        self.fingerprint = _fingerprint(
            self.paths, self.targets, self.classes, self.transform_description, stats
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        image = open_rgb(self.paths[index], self.image_size)
        return self.transform(image), self.targets[index]

    def __repr__(self) -> str:
        return (
            f"ImageFolderDataset({len(self)} images, classes={self.classes}, "
            f"random_transform={self.random_transform}, fingerprint={self.fingerprint})"
        )


@dataclass
class ImageData:
    """What `load_image_folder` returns: three datasets and how they were made."""

    train: ImageFolderDataset
    val: ImageFolderDataset
    test: ImageFolderDataset | None  # None when the folder has no test split and split[2] == 0
    classes: list = field(default_factory=list)
    root: str = ""
    layout: str = ""  # "train/val[/test] folders" or "one folder per class, split 8:1:1 here"
    image_size: int = 128
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD

    def splits(self) -> dict:
        return {
            name: ds
            for name, ds in (("train", self.train), ("val", self.val), ("test", self.test))
            if ds is not None
        }

    def summary(self):
        """Images per class (rows) and split (columns), with totals, as a pandas DataFrame."""
        import pandas as pd

        table = {
            name: [ds.targets.count(i) for i in range(len(self.classes))]
            for name, ds in self.splits().items()
        }
        frame = pd.DataFrame(table, index=pd.Index(self.classes, name="class"))
        frame["total"] = frame.sum(axis=1)
        frame.loc["total"] = frame.sum(axis=0)
        return frame

    def describe(self) -> str:
        counts = " / ".join(f"{len(ds)} {name}" for name, ds in self.splits().items())
        augment = "augmented" if self.train.random_transform else "no augmentation"
        return (
            f"{Path(self.root).name}: {len(self.classes)} classes ({', '.join(self.classes)}), "
            f"{counts} images, {self.image_size} px, train {augment}"
        )


# --------------------------------------------------------------------------- loading


def load_image_folder(
    root,
    image_size: int = 128,
    augment: bool = False,
    seed: int = 0,
    split=(0.8, 0.1, 0.1),
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
) -> ImageData:
    """Check every file under `root`, then build train / val / test datasets.

    `image_size`: side of the square crops fed to the model.  `augment`: random crops, flips,
    colour and rotation on the *training* set only.  `seed` and `split` are used only when
    `root` holds one folder per class (no train/val folders): a stratified split per class.
    """
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 8:
        raise ConfigError(
            f"image_size must be an integer of at least 8 pixels, got {image_size!r}. Use e.g. 128."
        )
    split = _check_split(split)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(
            f"Image folder not found: {root}. Check the path (DATA_DIR) or run `ftkit samples` for the sample set."
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
        files, classes, layout = _scan_split_layout(root, found)
    else:
        files, classes, layout = _scan_class_layout(root, split, seed)
    stats = {}
    for path in (p for entries in files.values() for p, _ in entries):
        stats[path] = check_image_file(path)
    eval_tf = _eval_transform(image_size, mean, std)
    train_tf = _train_transform(image_size, mean, std) if augment else eval_tf

    def make(name, transform, random_transform):
        entries = files.get(name)
        if entries is None:
            return None
        return ImageFolderDataset(
            [p for p, _ in entries],
            [t for _, t in entries],
            classes,
            transform,
            random_transform=random_transform,
            image_size=image_size,
            mean=mean,
            std=std,
            stats=[stats[p] for p, _ in entries],
        )

    data = ImageData(
        train=make("train", train_tf, augment),
        val=make("val", eval_tf, False),
        test=make("test", eval_tf, False),
        classes=classes,
        root=str(root),
        layout=layout,
        image_size=image_size,
        mean=tuple(mean),
        std=tuple(std),
    )
    return data


def _check_split(split):
    try:
        fractions = tuple(float(f) for f in split)
    except (TypeError, ValueError):
        raise ConfigError(
            f"split must be three fractions (train, val, test), got {split!r}. Use e.g. (0.8, 0.1, 0.1)."
        ) from None
    if (
        len(fractions) != 3
        or min(fractions) < 0
        or fractions[0] <= 0
        or fractions[1] <= 0
        or abs(sum(fractions) - 1) > 1e-6
    ):
        raise ConfigError(
            f"split must be three fractions (train, val, test) summing to 1 with train and val > 0, "
            f"got {split!r}. Use e.g. (0.8, 0.1, 0.1)."
        )
    return fractions


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.lower() in _IGNORED_NAMES


def _visible_dirs(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not _ignored(p.name))


def _class_files(class_dir: Path) -> list:
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
            paths = _class_files(folder / name)
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
        paths = _class_files(root / name)
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
                f"Class {name!r} has only {len(paths)} images, none left for training: {root / name}. Add more images."
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
        f"No train/val folders in {root.name}: split each class {shares} (train:val:test), stratified, seed {seed}."
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


# --------------------------------------------------------------------------- transforms


def _transforms():
    from ..infra.compat import ensure_torchvision

    ensure_torchvision()
    from torchvision.transforms import v2

    return v2


def _eval_transform(image_size, mean, std):
    v2 = _transforms()
    return v2.Compose(
        [
            v2.Resize(image_size),  # shorter side to image_size, keeping the aspect ratio
            v2.CenterCrop(image_size),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )


def _train_transform(image_size, mean, std):
    v2 = _transforms()
    return v2.Compose(
        [
            v2.RandomResizedCrop(
                image_size, scale=(0.7, 1.0)
            ),  # keep >= 70% of the picture: the object stays in
            v2.RandomHorizontalFlip(),  # a head is a head mirrored; do not use for text or digits
            v2.ColorJitter(
                brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02
            ),  # light and camera changes
            v2.RandomRotation(10),  # a slightly tilted camera
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )


def _fingerprint(paths, targets, classes, description, stats=None) -> str:
    digest = hashlib.sha256()
    digest.update(repr((list(classes), description)).encode())
    stats = stats if stats is not None else [check_image_file(p) for p in paths]
    for path, target, (size, mtime) in zip(paths, targets, stats):
        digest.update(f"{path}\0{target}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- new images, pictures


def load_images_for_prediction(paths_or_folder, image_size: int = 128, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """Images to predict on -> (tensor batch N,C,H,W, list of paths), with the eval transform.

    Accepts one file, a folder (all images in it, sorted, sub-folders included) or a list of files.
    """
    if isinstance(paths_or_folder, (str, os.PathLike)):
        target = Path(paths_or_folder).expanduser()
        if target.is_dir():
            paths = _class_files(target)
        elif target.is_file():
            paths = [str(target)]
        else:
            raise DataError(f"Image file or folder not found: {target}. Check the path.")
    else:
        paths = [str(Path(p).expanduser()) for p in paths_or_folder]
    if not paths:
        raise DataError(f"No images to predict on in {paths_or_folder}. Add .jpg or .png files there.")
    for p in paths:
        if not Path(p).is_file():
            raise DataError(f"Image file not found: {p}. Check the path.")
        check_image_file(p)
    transform = _eval_transform(image_size, mean, std)
    return torch.stack([transform(open_rgb(p, image_size)) for p in paths]), paths


def _display_image(path, size):
    return ImageOps.fit(open_rgb(path, size), (size, size))


def show_samples(data, n: int = 12, split: str = "train", cols: int = 6):
    """A grid of `n` training images (centre crops, no augmentation) titled with their class."""
    import matplotlib.pyplot as plt

    dataset = data.splits()[split] if isinstance(data, ImageData) else data
    by_class = [[i for i, t in enumerate(dataset.targets) if t == c] for c in range(len(dataset.classes))]
    picks = []
    for k in range(max(len(b) for b in by_class)):  # round robin over classes: every class shows up
        picks += [b[k] for b in by_class if k < len(b)]
    picks = picks[:n]
    rows = max(1, -(-len(picks) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.2 * rows), squeeze=False, layout="constrained")
    plt.close(fig)  # the notebook shows the returned figure once
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, picks):
        ax.imshow(_display_image(dataset.paths[i], dataset.image_size))
        ax.set_title(dataset.classes[dataset.targets[i]], fontsize=10)
    return fig


def preview_augmentations(dataset, index: int = 0, n: int = 8):
    """The original image and `n` random versions of it, as the training loop will see them."""
    import matplotlib.pyplot as plt

    if not 0 <= index < len(dataset):
        raise ConfigError(
            f"index {index} is out of range for a dataset of {len(dataset)} images. Use 0..{len(dataset) - 1}."
        )
    cols = min(n + 1, 5)
    rows = -(-(n + 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.2 * rows), squeeze=False, layout="constrained")
    plt.close(fig)
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(_display_image(dataset.paths[index], dataset.image_size))
    axes.flat[0].set_title("original", fontsize=10)
    mean, std = np.asarray(dataset.mean)[:, None, None], np.asarray(dataset.std)[:, None, None]
    for k in range(n):
        x, _ = dataset[index]
        picture = np.clip(x.numpy() * std + mean, 0, 1).transpose(1, 2, 0)
        axes.flat[k + 1].imshow(picture)
        axes.flat[k + 1].set_title(f"version {k + 1}", fontsize=10)
    title = dataset.classes[dataset.targets[index]]
    if not dataset.random_transform:
        title += " (augment=False: every version is the same)"
    fig.suptitle(title)
    return fig
