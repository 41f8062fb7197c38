"""Procedural "worker head" photos: hard hat or no hard hat, made from a seed.

The helmet lesson needs a small image set that ships with the repository, so it has
to be *drawn*, not downloaded.  This module paints head-and-shoulders crops of workers
with plain numpy + PIL, in the style of crops cut from construction-site photos:

* a background (sky, scaffolding, concrete, green site netting, machinery, brick...),
  sometimes with other workers half in the frame, out of focus;
* a person: shoulders in work clothes or a hi-vis vest, neck, head with a face seen
  from the front, the side or the back, hair of many styles and colours;
* headwear: a glossy hard hat (six colours, brim or full brim, ridges, logo, chin
  strap) for class `helmet`; for `no_helmet` mostly bare heads, and the hard cases a
  model must learn to tell apart: baseball caps, beanies, hoods, scarves, towels,
  straw hats, hair buns;
* the camera: light direction, exposure, white balance, slight rotation, blur, a
  low-resolution source, occluders, sensor noise and JPEG artefacts.

Shapes are ellipsoids lit with a simple Lambert + Blinn-Phong model, drawn at twice
the output size and shrunk (anti-aliasing).  Every image uses its own random
generator seeded from (seed, split, class, index), so regenerating gives
byte-identical files and one image never depends on how many others were made.

This file writes the data set and composes one image; the painting lives next to it:
`canvas.py` (the canvas, ellipses, lighting), `helmet_scene.py` (backgrounds, occluders, the
camera), `helmet_person.py` (the worker) and `helmet_headwear.py` (hard hats and look-alikes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..checks import check_bool, check_int
from ..errors import SaveError
from .canvas import Canvas, blur, pick, unit
from .helmet_headwear import NO_HELMET_WEAR
from .helmet_person import draw_person
from .helmet_scene import background, camera, occlude

__all__ = ["generate_helmet_dataset", "render_helmet_image", "HELMET_CLASSES"]

HELMET_CLASSES = ("helmet", "no_helmet")  # folder names, in ImageFolder (alphabetical) order
_SPLITS = ("train", "val", "test")
_JPEG_QUALITY = 85  # what phone cameras and web exports typically use: small files, few artefacts

# --------------------------------------------------------------------------- public API


def generate_helmet_dataset(
    out_dir,
    n_train: int = 400,
    n_val: int = 100,
    n_test: int = 100,
    size: int = 128,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write `out_dir/{train,val,test}/{helmet,no_helmet}/NNNN.jpg` and a README.md.

    Each split is split evenly between the two classes (an odd count gives `helmet`
    the extra image).  The same arguments always give byte-identical files.  An
    existing non-empty `out_dir` is refused (SaveError) unless `overwrite=True`, which
    replaces only the generated JPEG files and the README.
    """
    counts = {"train": n_train, "val": n_val, "test": n_test}
    for name, n in counts.items():
        check_int(f"n_{name}", n, minimum=0)
    check_int("size", size, minimum=32)
    check_int("seed", seed, minimum=0)
    check_bool("overwrite", overwrite)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SaveError(f"Output path is a file, not a folder: {out}. Pick another out_dir.")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise SaveError(
                f"Folder is not empty: {out}. Pass overwrite=True to replace the sample "
                "images, or choose an empty folder."
            )
        _remove_generated(out)
    for split_id, split in enumerate(_SPLITS):
        n = counts[split]
        per_class = {"helmet": n - n // 2, "no_helmet": n // 2}
        for class_id, cls in enumerate(HELMET_CLASSES):
            folder = out / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class[cls]):
                image = render_helmet_image(cls == "helmet", (seed, split_id, class_id, i), size)
                image.save(folder / f"{i:04d}.jpg", quality=_JPEG_QUALITY)
    (out / "README.md").write_text(
        "# Procedural helmet sample\n\nMade by `ftkit.samples.generate_helmet_dataset("
        f"n_train={n_train}, n_val={n_val}, n_test={n_test}, size={size}, seed={seed})`.\n"
        "Every image is drawn by code (no photos); regenerate it with `ftkit samples`.\n"
        "Classes: `helmet` (a hard hat on the head) and `no_helmet` (bare heads, caps, "
        "beanies, hoods, scarves, towels, straw hats).\n",
        encoding="utf-8",
    )
    return out


def render_helmet_image(helmet: bool, seed=0, size: int = 128) -> Image.Image:
    """Draw one `size`x`size` RGB crop of a worker's head; `helmet` picks the class.

    `seed` is anything `numpy.random.default_rng` accepts (an int or a tuple of ints).
    """
    rng = np.random.default_rng(seed)
    n = 2 * size  # draw at twice the size, then shrink: smooth edges for free
    canvas = Canvas(n)
    light = unit((rng.uniform(-0.8, 0.8), rng.uniform(-0.9, -0.1), rng.uniform(0.35, 1.0)))
    canvas.img = background(rng, canvas)
    for _ in range(rng.choice([0, 0, 1, 1, 2])):  # other workers behind, half out of frame
        side = rng.choice([-1, 1])
        draw_person(
            canvas,
            rng,
            light,
            n * (0.5 + side * rng.uniform(0.45, 0.75)),
            n * rng.uniform(0.25, 0.75),
            n * rng.uniform(0.14, 0.3),
            "helmet" if rng.random() < 0.55 else pick(rng, NO_HELMET_WEAR),
        )
    canvas.img = blur(canvas.img, rng.uniform(0.0, 3.5) * n / 256)  # depth of field
    radius = n * rng.uniform(
        0.2, 0.33
    )  # head half-width: the head fills 40-65% of the crop, as in real crops
    cx = n * (0.5 + rng.uniform(-0.08, 0.08))
    cy = n * (0.56 + rng.uniform(-0.08, 0.08))
    wear = "helmet" if helmet else pick(rng, NO_HELMET_WEAR)
    draw_person(canvas, rng, light, cx, cy, radius, wear)
    if rng.random() < 0.15:
        occlude(canvas, rng, light)
    return camera(canvas.img, rng, size)


def _remove_generated(out: Path) -> None:
    """Delete only what this generator writes, so overwrite=True cannot eat other files."""
    for split in _SPLITS:
        for cls in HELMET_CLASSES:
            folder = out / split / cls
            if folder.is_dir():
                for f in folder.glob("*.jpg"):
                    f.unlink()
    readme = out / "README.md"
    if readme.is_file():
        readme.unlink()
