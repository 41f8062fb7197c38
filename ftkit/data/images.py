"""Image folders for training: `load_image_folder(root)` -> `ImageData` (train / val / test).

Two layouts are understood, the same ones torchvision's `ImageFolder` users know:

    root/train/<class>/*.jpg  root/val/<class>/*.jpg  [root/test/<class>/*.jpg]
    root/<class>/*.jpg                      (split here: stratified, seeded, 8:1:1)

Every file is checked *before* any training starts, so a bad folder fails in seconds with
one line saying which file and what to do.  This file builds the datasets and their
transforms; `image_files.py` finds, checks and decodes the files; `image_display.py` draws them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..checks import check_bool, check_int
from ..errors import DataError
from ..infra.loaders import IMAGENET_MEAN, IMAGENET_STD
from .image_files import check_image_file, class_files, open_rgb, scan_image_folder
from .splits import check_split

__all__ = ["ImageData", "ImageFolderDataset", "load_image_folder", "load_images_for_prediction"]


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
    check_int("image_size", image_size, minimum=8)
    check_bool("augment", augment)
    check_int("seed", seed, minimum=0)
    split = check_split(split, allow_empty_test=True)
    root = Path(root).expanduser()
    files, classes, layout = scan_image_folder(root, split, seed)
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
            # keep >= 70% of the picture: the object stays in
            v2.RandomResizedCrop(image_size, scale=(0.7, 1.0)),
            v2.RandomHorizontalFlip(),  # a head is a head mirrored; do not use for text or digits
            # light and camera changes
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02),
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
    for path, target, (size, mtime) in zip(paths, targets, stats, strict=True):
        digest.update(f"{path}\0{target}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- new images


def load_images_for_prediction(paths_or_folder, image_size: int = 128, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """Images to predict on -> (tensor batch N,C,H,W, list of paths), with the eval transform.

    Accepts one file, a folder (all images in it, sorted, sub-folders included) or a list of files.
    """
    check_int("image_size", image_size, minimum=8)
    if isinstance(paths_or_folder, (str, os.PathLike)):
        target = Path(paths_or_folder).expanduser()
        if target.is_dir():
            paths = class_files(target)
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
