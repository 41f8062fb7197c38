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
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..errors import ConfigError, SaveError

__all__ = ["generate_helmet_dataset", "render_helmet_image", "HELMET_CLASSES"]

HELMET_CLASSES = ("helmet", "no_helmet")  # folder names, in ImageFolder (alphabetical) order
_SPLITS = ("train", "val", "test")
_JPEG_QUALITY = 85  # what phone cameras and web exports typically use: small files, few artefacts

# Hard hat colours seen on sites (yellow and white are the most common, so they are listed twice).
_HELMET_COLOURS = {
    "yellow": (0.96, 0.78, 0.08),
    "white": (0.93, 0.93, 0.90),
    "red": (0.84, 0.08, 0.08),
    "blue": (0.08, 0.30, 0.80),
    "orange": (1.00, 0.48, 0.04),
    "green": (0.10, 0.60, 0.25),
}
_HELMET_WEIGHTS = {"yellow": 0.28, "white": 0.2, "red": 0.2, "blue": 0.12, "orange": 0.12, "green": 0.08}
_SKIN = [
    (0.95, 0.78, 0.65),
    (0.88, 0.69, 0.54),
    (0.80, 0.59, 0.44),
    (0.68, 0.47, 0.34),
    (0.52, 0.35, 0.24),
    (0.38, 0.25, 0.18),
]
_HAIR = [
    ((0.05, 0.045, 0.04), 0.55),
    ((0.17, 0.11, 0.07), 0.18),
    ((0.33, 0.22, 0.13), 0.08),
    ((0.45, 0.44, 0.42), 0.07),
    ((0.74, 0.60, 0.36), 0.06),
    ((0.80, 0.79, 0.76), 0.06),
]
_CLOTHES = [
    (0.10, 0.16, 0.35),
    (0.15, 0.30, 0.60),
    (0.95, 0.45, 0.08),
    (0.80, 0.95, 0.20),
    (0.90, 0.90, 0.88),
    (0.40, 0.40, 0.42),
    (0.08, 0.08, 0.09),
    (0.70, 0.12, 0.12),
    (0.20, 0.35, 0.22),
    (0.55, 0.45, 0.32),
]
_FABRIC = [
    (0.08, 0.10, 0.22),
    (0.07, 0.07, 0.08),
    (0.40, 0.40, 0.42),
    (0.65, 0.10, 0.12),
    (0.70, 0.62, 0.45),
    (0.28, 0.33, 0.18),
    (0.88, 0.88, 0.86),
    (0.15, 0.35, 0.70),
    (0.95, 0.75, 0.10),
    (0.95, 0.45, 0.08),
]  # the last two: bright caps, the hardest negatives
# What a no_helmet head wears: mostly nothing, as in real site photos.
_NO_HELMET_WEAR = {
    "bare": 0.50,
    "cap": 0.16,
    "beanie": 0.08,
    "hood": 0.08,
    "scarf": 0.07,
    "towel": 0.05,
    "strawhat": 0.06,
}
_HAIR_STYLES = {
    "short": 0.45,
    "fringe": 0.12,
    "buzz": 0.1,
    "bald": 0.06,
    "long": 0.12,
    "bun": 0.1,
    "curly": 0.05,
}


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
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ConfigError(f"n_{name} must be a non-negative integer, got {n!r}. Pass e.g. n_{name}=100.")
    if not isinstance(size, int) or size < 32:
        raise ConfigError(f"size must be an integer of at least 32 pixels, got {size!r}. Use e.g. size=128.")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}. Pass e.g. seed=0.")
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
    canvas = _Canvas(n)
    light = _unit((rng.uniform(-0.8, 0.8), rng.uniform(-0.9, -0.1), rng.uniform(0.35, 1.0)))
    canvas.img = _background(rng, canvas)
    for _ in range(rng.choice([0, 0, 1, 1, 2])):  # other workers behind, half out of frame
        side = rng.choice([-1, 1])
        _draw_person(
            canvas,
            rng,
            light,
            n * (0.5 + side * rng.uniform(0.45, 0.75)),
            n * rng.uniform(0.25, 0.75),
            n * rng.uniform(0.14, 0.3),
            "helmet" if rng.random() < 0.55 else _pick(rng, _NO_HELMET_WEAR),
        )
    canvas.img = _blur(canvas.img, rng.uniform(0.0, 3.5) * n / 256)  # depth of field
    radius = n * rng.uniform(
        0.2, 0.33
    )  # head half-width: the head fills 40-65% of the crop, as in real crops
    cx = n * (0.5 + rng.uniform(-0.08, 0.08))
    cy = n * (0.56 + rng.uniform(-0.08, 0.08))
    wear = "helmet" if helmet else _pick(rng, _NO_HELMET_WEAR)
    _draw_person(canvas, rng, light, cx, cy, radius, wear)
    if rng.random() < 0.15:
        _occlude(canvas, rng, light)
    return _camera(canvas.img, rng, size)


# --------------------------------------------------------------------------- drawing helpers


class _Canvas:
    """A float RGB image in [0, 1] plus pixel-centre coordinates for shape masks."""

    def __init__(self, n: int):
        self.n = n
        ys, xs = np.mgrid[0:n, 0:n].astype(np.float32) + 0.5
        self.X, self.Y = xs, ys
        self.img = np.zeros((n, n, 3), np.float32)

    def ellipse(self, cx, cy, rx, ry, taper=0.0):
        """(u, v, alpha): coordinates scaled to the ellipse and a soft 1-pixel-edged mask.

        `taper` > 0 narrows the lower half (a jaw, an egg)."""
        v = (self.Y - cy) / ry
        width = rx * (1.0 - taper * np.clip(v, 0.0, 1.0))
        u = (self.X - cx) / width
        r = np.sqrt(u * u + v * v)
        alpha = np.clip((1.0 - r) * min(rx, ry) + 0.5, 0.0, 1.0)
        return u, v, alpha

    def paint(self, alpha, colour):
        """Blend `colour` (one RGB triple or a full image) over the canvas where alpha > 0."""
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        if rows.size == 0:
            return
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))  # only touch the shape's box
        colour = np.asarray(colour, np.float32)
        a = alpha[box][..., None]
        self.img[box] = self.img[box] * (1.0 - a) + (colour[box] if colour.ndim == 3 else colour) * a


def _unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def _pick(rng, weights: dict):
    names = list(weights)
    p = np.asarray([weights[k] for k in names], float)
    return names[rng.choice(len(names), p=p / p.sum())]


def _jitter(rng, colour, amount=0.06):
    return np.clip(np.asarray(colour, np.float32) + rng.normal(0, amount, 3), 0.0, 1.0)


def _shade(u, v, base, light, ambient=0.45, spec=0.0, gloss=20.0):
    """Colour of an ellipsoid's surface: ambient + Lambert diffuse + a Blinn-Phong highlight."""
    z = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0))
    norm = np.sqrt(u * u + v * v + z * z) + 1e-6
    nx, ny, nz = u / norm, v / norm, z / norm
    diffuse = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0.0, 1.0)
    half = _unit(light + np.array([0.0, 0.0, 1.0], np.float32))
    highlight = np.clip(nx * half[0] + ny * half[1] + nz * half[2], 0.0, 1.0) ** gloss
    shaded = np.asarray(base, np.float32) * (ambient + (1 - ambient) * diffuse)[..., None]
    return shaded + spec * highlight[..., None]


def _noise(rng, n, cells_y, cells_x):
    """Smooth random field (zero mean, unit-ish scale) made by upscaling a small grid."""
    grid = rng.standard_normal((max(2, int(cells_y)), max(2, int(cells_x)))).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((n, n), Image.BICUBIC))


def _blur(img, radius):
    if radius < 0.3:
        return img
    pil = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    return np.asarray(pil.filter(ImageFilter.GaussianBlur(radius)), np.float32) / 255.0


def _line_mask(n, points, width):
    """Anti-aliasing is left to the final shrink; PIL draws the polyline on an L mask."""
    mask = Image.new("L", (n, n), 0)
    ImageDraw.Draw(mask).line([(float(x), float(y)) for x, y in points], fill=255, width=max(1, int(width)))
    return np.asarray(mask, np.float32) / 255.0


# --------------------------------------------------------------------------- backgrounds


def _background(rng, c: _Canvas):
    n = c.n
    kind = _pick(
        rng,
        {
            "sky": 0.2,
            "plain": 0.16,
            "concrete": 0.14,
            "scaffold": 0.16,
            "netting": 0.1,
            "machinery": 0.08,
            "brick": 0.06,
            "foliage": 0.05,
            "crowd": 0.05,
        },
    )
    t = c.Y / n
    if kind in ("sky", "scaffold") and rng.random() < 0.8:
        top, bottom = _jitter(rng, (0.45, 0.65, 0.9), 0.08), _jitter(rng, (0.8, 0.87, 0.95), 0.05)
        img = top * (1 - t[..., None]) + bottom * t[..., None]
        clouds = np.clip((_noise(rng, n, 4, 4) + 0.5 * _noise(rng, n, 10, 10) - 0.3) * 0.8, 0, 1)
        img = img * (1 - clouds[..., None]) + 0.95 * clouds[..., None]
    elif kind == "plain" or kind == "sky":
        base = _jitter(
            rng,
            rng.choice([(0.95, 0.95, 0.94), (0.85, 0.85, 0.82), (0.9, 0.86, 0.78), (0.75, 0.78, 0.8)]),
            0.04,
        )
        img = base * (1 + 0.12 * (t[..., None] - 0.5) * rng.uniform(-1, 1)) + 0 * c.X[..., None]
    elif kind == "concrete":
        grey = rng.uniform(0.4, 0.72)
        tone = grey + 0.07 * _noise(rng, n, 6, 6) + 0.03 * _noise(rng, n, n // 3, n // 3)
        img = np.repeat(tone[..., None], 3, axis=2) * _jitter(rng, (1.0, 0.98, 0.95), 0.02)
        if rng.random() < 0.5:  # formwork seams
            step = rng.uniform(0.2, 0.4) * n
            img *= (
                1
                - 0.25 * (np.abs(((c.Y + rng.uniform(0, step)) % step) - step / 2) > step / 2 - 2)[..., None]
            )
    elif kind == "netting":
        green = _jitter(rng, (0.12, 0.45, 0.28), 0.05)
        f = rng.uniform(0.5, 1.2)
        mesh = 0.75 + 0.25 * (np.sin(c.X * f) * np.sin(c.Y * f) > 0.2)
        img = green * (mesh * (1 + 0.2 * _noise(rng, n, 5, 5)))[..., None]
    elif kind == "brick":
        bh, bw = rng.uniform(0.06, 0.1) * n, rng.uniform(0.14, 0.22) * n
        row = np.floor(c.Y / bh)
        mortar = ((c.Y % bh) < 2.5) | (((c.X + (row % 2) * bw / 2) % bw) < 2.5)
        brick = _jitter(rng, (0.62, 0.3, 0.2), 0.06) * (1 + 0.08 * _noise(rng, n, 20, 20))[..., None]
        img = np.where(mortar[..., None], np.float32(0.75), brick)
    elif kind == "foliage":
        a, b = _noise(rng, n, 8, 8), _noise(rng, n, 20, 20)
        img = np.stack([0.2 + 0.1 * a, 0.4 + 0.12 * b, 0.15 + 0.05 * a], axis=2)
    elif kind == "machinery":
        img = (
            np.full((n, n, 3), rng.uniform(0.2, 0.5), np.float32)
            * (1 + 0.1 * _noise(rng, n, 6, 6))[..., None]
        )
        paint = _jitter(rng, rng.choice([(0.95, 0.7, 0.1), (0.95, 0.45, 0.05), (0.5, 0.5, 0.52)]), 0.05)
        for _ in range(rng.integers(2, 5)):
            x0, y0 = rng.uniform(-0.2, 0.8, 2) * n
            w, h = rng.uniform(0.2, 0.6, 2) * n
            box = (c.X > x0) & (c.X < x0 + w) & (c.Y > y0) & (c.Y < y0 + h)
            grad = 0.75 + 0.35 * (c.X - x0) / w
            img = np.where(box[..., None], paint * grad[..., None], img)
        _, _, tyre = c.ellipse(rng.uniform(0, n), rng.uniform(0.6, 1.0) * n, 0.25 * n, 0.25 * n)
        img = img * (1 - tyre[..., None]) + 0.08 * tyre[..., None]
    else:  # crowd: blurred blobs of jackets and heads
        img = np.full((n, n, 3), rng.uniform(0.3, 0.7), np.float32)
        for _ in range(8):
            _, _, blob = c.ellipse(*rng.uniform(0, n, 2), *rng.uniform(0.08, 0.25, 2) * n)
            img = (
                img * (1 - blob[..., None])
                + _jitter(rng, _CLOTHES[rng.integers(len(_CLOTHES))], 0.1) * blob[..., None]
            )
    if kind == "scaffold":
        img = _scaffold(rng, c, img)
    img = img * (1 + 0.07 * _noise(rng, n, n / 3, n / 3))[..., None]  # fine grain: photos are never smooth
    img = _clutter(rng, c, img)
    return np.clip(img, 0, 1).astype(np.float32)


def _clutter(rng, c: _Canvas, img):
    """Thin wires, edges and small objects: real site backgrounds are busy."""
    for _ in range(rng.integers(0, 6)):
        x0, y0, x1, y1 = rng.uniform(-0.2, 1.2, 4) * c.n
        mask = _line_mask(c.n, [(x0, y0), (x1, y1)], rng.uniform(1, 6))
        img = img * (1 - mask[..., None]) + rng.uniform(0, 1, 3).astype(np.float32) * mask[..., None]
    return img


def _scaffold(rng, c: _Canvas, img):
    n = c.n
    colour = _jitter(
        rng, rng.choice([(0.6, 0.6, 0.62), (0.95, 0.55, 0.1), (0.9, 0.8, 0.15), (0.3, 0.3, 0.32)]), 0.04
    )
    for axis in (0, 1):
        for _ in range(rng.integers(1, 4)):
            pos, width = rng.uniform(0, n), rng.uniform(0.02, 0.05) * n
            coord = c.X if axis == 0 else c.Y
            d = (coord - pos) / width
            tube = np.abs(d) < 1
            shade = 0.55 + 0.6 * np.sqrt(np.clip(1 - d * d, 0, 1))
            img = np.where(tube[..., None], colour * shade[..., None], img)
    return img


# --------------------------------------------------------------------------- the person


def _draw_person(c: _Canvas, rng, light, cx, cy, r, wear):
    """Shoulders, neck, head, face, hair, then what is worn on the head (back to front)."""
    skin = _jitter(rng, _SKIN[rng.integers(len(_SKIN))], 0.04)
    hair = _jitter(rng, _HAIR[_pick(rng, {i: w for i, (_, w) in enumerate(_HAIR)})][0], 0.03)
    style = _pick(rng, _HAIR_STYLES)
    view = _pick(rng, {"front": 0.55, "side": 0.3, "back": 0.15})
    yaw = {
        "front": rng.uniform(-0.5, 0.5),
        "side": rng.choice([-1, 1]) * rng.uniform(0.5, 1.4),
        "back": rng.choice([-1, 1]) * rng.uniform(2.3, math.pi),
    }[view]
    ry = 1.22 * r  # a head is taller than it is wide

    if style == "long" and wear in ("bare", "cap", "helmet", "beanie"):
        u, v, a = c.ellipse(cx, cy + 0.55 * r, 1.12 * r, 1.45 * r)
        c.paint(a, _shade(u, v, hair, light, 0.5) * (0.8 + 0.2 * _noise(rng, c.n, 8, c.n / 6))[..., None])
    if wear == "hood":
        hood = _jitter(rng, _FABRIC[rng.integers(len(_FABRIC))], 0.04)
        u, v, a = c.ellipse(cx, cy + 0.05 * r, 1.5 * r, 1.5 * r)
        c.paint(a, _shade(u, v, hood * 0.75, light, 0.5))
    _draw_body(c, rng, light, cx + 0.25 * r * math.sin(yaw), cy, r)
    u, v, a = c.ellipse(cx + 0.1 * r * math.sin(yaw), cy + 1.05 * r, 0.52 * r, 0.75 * r)  # neck
    c.paint(a, _shade(u * 0.7, v * 0.3, skin * 0.82, light, 0.5))

    ears = [(yaw + side * math.pi / 2) for side in (-1, 1)]
    for angle in ears:  # ears behind the head's outline first
        if -0.35 < math.cos(angle) <= 0.2:
            _draw_ear(c, cx + 0.96 * r * math.sin(angle), cy, r, skin, light)
    u, v, head = c.ellipse(cx, cy, r, ry, taper=0.14)
    c.paint(head, _shade(u, v, skin, light, 0.45, spec=0.06, gloss=12))
    for angle in ears:
        if math.cos(angle) > 0.2:
            _draw_ear(c, cx + 0.96 * r * math.sin(angle), cy, r, skin, light)
    if math.cos(yaw) > 0.0:
        _draw_face(c, rng, cx, cy, r, yaw, skin, hair)
    if wear in ("bare", "cap", "helmet", "hood", "strawhat") and style != "bald":
        _draw_hair(c, rng, light, cx, cy, r, yaw, hair, style if wear == "bare" else "short", wear)
    if wear == "helmet":
        _draw_helmet(c, rng, light, cx, cy, r, yaw, head)
    elif wear == "cap":
        _draw_cap(c, rng, light, cx, cy, r, yaw)
    elif wear == "beanie":
        _draw_beanie(c, rng, light, cx, cy, r)
    elif wear == "hood":
        _draw_hood_front(c, rng, light, cx, cy, r, yaw, hood)
    elif wear in ("scarf", "towel"):
        _draw_scarf(c, rng, light, cx, cy, r, yaw, towel=wear == "towel")
    elif wear == "strawhat":
        _draw_strawhat(c, rng, light, cx, cy, r)


def _draw_body(c, rng, light, cx, cy, r):
    cloth = _jitter(rng, _CLOTHES[rng.integers(len(_CLOTHES))], 0.05)
    u, v, a = c.ellipse(cx, cy + 2.75 * r, rng.uniform(2.1, 2.9) * r, 1.45 * r)
    wrinkles = (
        0.1 * _noise(rng, c.n, 10, 10)
        + 0.12 * _noise(rng, c.n, c.n / 5, c.n / 12)
        + 0.05 * _noise(rng, c.n, c.n / 2, c.n / 2)
    )
    body = _shade(u * 0.8, v * 0.5, cloth, light, 0.5) * (1 + wrinkles)[..., None]
    if rng.random() < 0.35:  # hi-vis vest: fluorescent panels with grey reflective bands
        vest = _jitter(rng, rng.choice([(0.85, 1.0, 0.2), (1.0, 0.5, 0.05)]), 0.03)
        body = np.where((np.abs(c.X - cx) > 0.45 * r)[..., None], _shade(u, v * 0.5, vest, light, 0.55), body)
        band = np.abs(((c.Y - cy - 1.9 * r) % (0.9 * r)) - 0.1 * r) < 0.09 * r
        body = np.where(band[..., None], np.float32(0.8), body)
    c.paint(a, body)


def _draw_ear(c, x, cy, r, skin, light):
    u, v, a = c.ellipse(x, cy + 0.08 * r, 0.17 * r, 0.28 * r)
    c.paint(a, _shade(u, v, skin * 0.92, light, 0.5))


def _draw_face(c, rng, cx, cy, r, yaw, skin, hair):
    """Brows, eyes, nose, mouth where they face the camera (cos > 0.15), and skin texture."""

    def at(theta):
        return cx + 0.93 * r * math.sin(yaw + theta), math.cos(yaw + theta)

    u, v, face = c.ellipse(cx, cy, r, 1.22 * r, taper=0.14)
    blotches = 0.06 * _noise(rng, c.n, c.n / 24, c.n / 24) + 0.04 * _noise(rng, c.n, c.n / 4, c.n / 4)
    c.img[..., :] *= (1 + face * blotches)[..., None]  # skin is never one flat colour
    dark = np.float32(0.06) + hair * 0.3
    eye_y = cy + rng.uniform(-0.02, 0.08) * r
    for theta in (-0.45, 0.45):
        x, facing = at(theta)
        if facing > 0.15:
            _, _, socket = c.ellipse(x, eye_y - 0.02 * r, 0.2 * r * facing, 0.12 * r)
            c.paint(socket * 0.35, skin * 0.6)  # shadowed eye socket
            _, _, white = c.ellipse(x, eye_y, 0.13 * r * facing, 0.065 * r)
            c.paint(white * 0.9, np.float32(0.85) * np.ones(3, np.float32))
            _, _, iris = c.ellipse(x + 0.03 * r * math.sin(yaw), eye_y, 0.065 * r * facing, 0.065 * r)
            c.paint(iris, dark)
            _, _, brow = c.ellipse(x, eye_y - 0.2 * r, 0.17 * r * facing, 0.04 * r)
            c.paint(brow * 0.85, hair * 0.9)
            if rng.random() < 0.1:  # glasses
                _, _, ring = c.ellipse(x, eye_y, 0.22 * r * facing, 0.14 * r)
                _, _, inner = c.ellipse(x, eye_y, 0.18 * r * facing, 0.11 * r)
                c.paint(np.clip(ring - inner, 0, 1), np.float32(0.1))
    x, facing = at(0.0)
    if facing > 0.15:
        side = 1 if yaw >= 0 else -1
        _, _, nose = c.ellipse(x + 0.06 * r * side, cy + 0.3 * r, 0.08 * r, 0.2 * r)
        c.paint(nose * 0.45, skin * 0.65)  # the nose's shadow side
        _, _, tip = c.ellipse(x, cy + 0.42 * r, 0.13 * r * facing, 0.06 * r)
        c.paint(tip * 0.5, skin * 0.55)
        _, _, mouth = c.ellipse(x, cy + 0.66 * r, 0.24 * r * facing, 0.055 * r)
        c.paint(mouth * 0.9, skin * np.array([0.62, 0.38, 0.38], np.float32))
        _, _, lip = c.ellipse(x, cy + 0.665 * r, 0.22 * r * facing, 0.012 * r + 1)
        c.paint(lip * 0.8, skin * 0.35)
        if rng.random() < 0.15:  # stubble or a beard
            u, v, jaw = c.ellipse(cx, cy + 0.55 * r, 0.8 * r, 0.55 * r)
            c.paint(jaw * (v > -0.2) * 0.35, hair)


def _draw_hair(c, rng, light, cx, cy, r, yaw, hair, style, wear):
    n = c.n
    grow = {"buzz": 1.0, "curly": 1.14, "bun": 1.03}.get(style, 1.06)
    u, v, a = c.ellipse(cx, cy - 0.04 * r, grow * r, grow * 1.22 * r)
    if style == "curly":
        a = np.clip(a * (1 + 0.6 * _noise(rng, n, n / 10, n / 10)), 0, 1)
    # Which part of the head each pixel shows (0 = middle of the face, pi = back of the head).
    psi = np.abs((np.arcsin(np.clip(u, -1, 1)) - yaw + math.pi) % (2 * math.pi) - math.pi)
    front = {"fringe": -0.18, "long": -0.4}.get(style, -0.45) + rng.uniform(-0.06, 0.06)
    sides = 0.9 if style == "long" else 0.15
    hairline = np.interp(psi, [0.0, 1.0, 1.6, 2.3, math.pi], [front, front, sides, 0.55, 0.55])
    if wear == "helmet" or wear == "cap":  # under a hat only the sides and the nape show
        hairline = np.minimum(hairline, np.interp(psi, [0, 1.2, 2.3, math.pi], [-1, 0.1, 0.5, 0.5]))
    mask = a * np.clip((hairline - v) * 12, 0, 1)
    strands = np.clip(
        0.75 + 0.3 * _noise(rng, n, n / 10, n / 2.5) + 0.25 * _noise(rng, n, n / 4, n / 1.5), 0.3, 1.6
    )
    colour = _shade(u, v, hair, light, 0.5, spec=0.12, gloss=10) * strands[..., None]
    c.paint(mask * (0.65 if style == "buzz" else 1.0), colour)
    if style == "bun" and wear == "bare":
        bx = cx - 0.45 * r * math.sin(yaw)
        ub, vb, bun = c.ellipse(bx, cy - 1.12 * r, 0.4 * r, 0.33 * r)
        c.paint(bun, _shade(ub, vb, hair, light, 0.5, spec=0.12) * strands[..., None])


def _draw_helmet(c, rng, light, cx, cy, r, yaw, head):
    colour = _jitter(rng, _HELMET_COLOURS[_pick(rng, _HELMET_WEIGHTS)], 0.04)
    if rng.random() < 0.2:  # faded or dusty
        colour = colour * 0.8 + 0.12
    rx, ry = r * rng.uniform(1.12, 1.26), r * rng.uniform(0.95, 1.12)
    front_edge = cy - r * rng.uniform(0.22, 0.4)  # the brim sits just above the eyebrows: the face shows
    tilt = r * rng.uniform(0.06, 0.2)  # how much of the rim ellipse we see from slightly above
    rim_y = front_edge - tilt
    dome_cy = rim_y - r * rng.uniform(0.0, 0.12)
    # Shadow of the brim on the forehead.
    shadow = (
        head * np.clip((c.Y - rim_y) / (0.1 * r), 0, 1) * np.clip((rim_y + 0.45 * r - c.Y) / (0.2 * r), 0, 1)
    )
    c.img *= (1 - rng.uniform(0.0, 0.25) * shadow)[..., None]
    if rng.random() < 0.2 and math.cos(yaw) > 0.2:  # chin strap down the cheeks and under the chin
        for side in (-1, 1):
            x_cheek = cx + side * 0.85 * r * abs(math.cos(yaw)) + 0.2 * r * math.sin(yaw)
            points = [
                (x_cheek, rim_y + 0.1 * r),
                (x_cheek - side * 0.1 * r, cy + 0.7 * r),
                (cx + 0.25 * r * math.sin(yaw), cy + 1.22 * r),
            ]
            c.paint(_line_mask(c.n, points, 0.05 * r), np.float32(0.12))
    brim = colour * rng.uniform(0.7, 0.95)
    full_brim = rng.random() < 0.2
    brx = rx * (rng.uniform(1.2, 1.4) if full_brim else rng.uniform(1.02, 1.1))
    u, v, a = c.ellipse(cx, rim_y + 0.05 * r, brx, tilt + 0.08 * r + (0.12 * r if full_brim else 0))
    c.paint(a, brim * (1.1 - 0.3 * np.clip(v, 0, 1))[..., None])
    if math.cos(yaw) > -0.3:  # the front peak
        u, v, a = c.ellipse(
            cx + 0.85 * r * math.sin(yaw),
            rim_y + tilt * max(math.cos(yaw), 0) + 0.05 * r,
            r * (0.35 + 0.35 * abs(math.cos(yaw))),
            0.14 * r,
        )
        c.paint(a * (v > -0.2), brim * 0.95)
    u, v, dome = c.ellipse(cx, dome_cy, rx, ry)
    urim = np.clip((c.X - cx) / rx, -1, 1)
    below_rim = np.clip((rim_y + tilt * np.sqrt(1 - urim * urim) - c.Y) * 0.7, 0, 1)
    shell = _shade(
        u, v, colour, light, rng.uniform(0.35, 0.55), spec=rng.uniform(0.35, 0.9), gloss=rng.uniform(12, 50)
    )
    ribs = [0.0] if rng.random() < 0.6 else ([0.0, -0.35, 0.35] if rng.random() < 0.5 else [])
    for offset in ribs:  # raised ridges front to back: light on one side, shade on the other
        centre = math.sin(yaw + offset) * np.sqrt(np.clip(1 - v * v, 0, 1))
        d = (u - centre) / 0.07
        rib = (np.abs(d) < 1) & (v < 0.2) & (math.cos(yaw + offset) > -0.2)
        shell = np.where(
            rib[..., None], shell * (1 + 0.18 * np.sign(d) * np.sign(light[0] + 1e-3))[..., None], shell
        )
    c.paint(dome * below_rim, shell)
    if rng.random() < 0.35 and math.cos(yaw) > 0.3:  # a logo sticker on the front
        lx = cx + 0.6 * rx * math.sin(yaw)
        _, _, logo = c.ellipse(lx, rim_y - 0.35 * r, 0.18 * r * math.cos(yaw), 0.13 * r)
        c.paint(
            logo * 0.9, _jitter(rng, rng.choice([(0.95, 0.95, 0.95), (0.8, 0.1, 0.1), (0.1, 0.2, 0.6)]), 0.03)
        )


def _draw_cap(c, rng, light, cx, cy, r, yaw):
    colour = _jitter(rng, _FABRIC[rng.integers(len(_FABRIC))], 0.04)
    crown_cy, rim_y = cy - 0.42 * r, cy - 0.28 * r
    u, v, a = c.ellipse(cx, crown_cy, 1.05 * r, 0.82 * r)
    urim = np.clip((c.X - cx) / (1.05 * r), -1, 1)
    a = a * np.clip((rim_y + 0.12 * r * np.sqrt(1 - urim * urim) - c.Y) * 0.7, 0, 1)
    fabric = (
        _shade(u, v, colour, light, 0.5, spec=0.04, gloss=5)
        * (1 + 0.05 * _noise(rng, c.n, 40, 40))[..., None]
    )
    for offset in (-0.45, 0.45):  # panel seams
        seam = np.abs(u - math.sin(yaw + offset) * np.sqrt(np.clip(1 - v * v, 0, 1))) < 0.025
        fabric = np.where(seam[..., None], fabric * 0.75, fabric)
    c.paint(a, fabric)
    if math.cos(yaw) > -0.2:  # the visor sticks out towards where the face looks
        u, v, a = c.ellipse(
            cx + 0.95 * r * math.sin(yaw),
            rim_y + 0.12 * r * math.cos(yaw) + 0.05 * r,
            r * (0.45 + 0.45 * abs(math.cos(yaw))),
            0.2 * r,
        )
        c.paint(a, colour * (0.95 - 0.3 * np.clip(v, 0, 1))[..., None])
    _, _, button = c.ellipse(cx, crown_cy - 0.8 * r, 0.08 * r, 0.05 * r)
    c.paint(button, colour * 0.8)


def _draw_beanie(c, rng, light, cx, cy, r):
    colour = _jitter(rng, _FABRIC[rng.integers(len(_FABRIC))], 0.04)
    rim_y = cy - rng.uniform(0.0, 0.2) * r
    u, v, a = c.ellipse(cx, cy - 0.3 * r, 1.08 * r, 1.02 * r)
    a = a * np.clip((rim_y - c.Y) * 0.7, 0, 1)
    knit = 0.85 + 0.15 * np.sin(c.X * rng.uniform(0.8, 1.4)) ** 2
    cuff = c.Y > rim_y - 0.3 * r
    knit = np.where(cuff, 0.85 + 0.15 * np.sin(c.Y * 1.2) ** 2, knit)
    c.paint(a, _shade(u, v, colour, light, 0.5) * knit[..., None])
    if rng.random() < 0.3:  # pom-pom
        _, _, pom = c.ellipse(cx, cy - 1.3 * r, 0.25 * r, 0.22 * r)
        c.paint(np.clip(pom * (1 + 0.5 * _noise(rng, c.n, 60, 60)), 0, 1), colour * 1.1)


def _draw_hood_front(c, rng, light, cx, cy, r, yaw, hood):
    u, v, a = c.ellipse(cx, cy - 0.08 * r, 1.42 * r, 1.42 * r)
    if math.cos(yaw) > -0.2:  # the face opening
        _, _, hole = c.ellipse(
            cx + 0.55 * r * math.sin(yaw), cy + 0.18 * r, 0.85 * r * (0.5 + 0.5 * abs(math.cos(yaw))), 1.0 * r
        )
        a = a * (1 - hole)
    folds = 1 + 0.12 * _noise(rng, c.n, 6, 6) + 0.06 * _noise(rng, c.n, c.n / 3, c.n / 3)
    c.paint(a, _shade(u, v, hood, light, 0.5) * folds[..., None])


def _draw_scarf(c, rng, light, cx, cy, r, yaw, towel):
    colour = (
        np.float32(0.92) * np.ones(3, np.float32)
        if towel
        else _jitter(rng, _FABRIC[rng.integers(len(_FABRIC))], 0.05)
    )
    u, v, a = c.ellipse(cx, cy - 0.12 * r, 1.16 * r, 1.3 * r)
    if math.cos(yaw) > -0.2:
        _, _, hole = c.ellipse(
            cx + 0.5 * r * math.sin(yaw), cy + 0.3 * r, 0.78 * r * (0.5 + 0.5 * abs(math.cos(yaw))), 0.85 * r
        )
        a = a * (1 - hole)
    if towel:  # hangs down to the shoulders, terry cloth texture
        _, _, tail = c.ellipse(cx, cy + 0.6 * r, 1.25 * r, 1.0 * r)
        a = np.maximum(a, tail * (c.Y < cy + 1.3 * r) * (np.abs(c.X - cx) > 0.75 * r))
        texture = 1 + 0.08 * _noise(rng, c.n, c.n / 3, c.n / 3)
    else:
        texture = 1 + 0.15 * np.sin((c.X + c.Y) * rng.uniform(0.1, 0.3))
        if rng.random() < 0.4:  # a pattern of stripes
            texture = texture * (0.75 + 0.25 * (np.sin(c.Y * rng.uniform(0.2, 0.5)) > 0))
    c.paint(a, _shade(u, v, colour, light, 0.55) * texture[..., None])


def _draw_strawhat(c, rng, light, cx, cy, r):
    straw = _jitter(rng, (0.82, 0.70, 0.45), 0.05)
    weave = 0.85 + 0.15 * (np.sin(c.X * 1.3) * np.sin(c.Y * 1.3) > 0)
    u, v, a = c.ellipse(cx, cy - 0.3 * r, r * rng.uniform(1.5, 1.9), r * rng.uniform(0.3, 0.5))
    c.paint(a, straw * (1.05 - 0.3 * np.clip(v, 0, 1))[..., None] * weave[..., None])
    u, v, a = c.ellipse(cx, cy - 0.55 * r, 0.9 * r, 0.65 * r)
    c.paint(a * (c.Y < cy - 0.3 * r), _shade(u, v, straw, light, 0.55) * weave[..., None])


def _occlude(c, rng, light):
    n = c.n
    kind = rng.integers(3)
    if kind == 0:  # a pole or a scaffold tube in front
        x, w = rng.uniform(0, n), rng.uniform(0.03, 0.08) * n
        d = (c.X - x) / w
        colour = _jitter(rng, rng.choice([(0.6, 0.6, 0.6), (0.9, 0.5, 0.1), (0.2, 0.2, 0.2)]), 0.04)
        c.paint(
            (np.abs(d) < 1).astype(np.float32),
            colour * (0.6 + 0.5 * np.sqrt(np.clip(1 - d * d, 0, 1)))[..., None],
        )
    elif kind == 1:  # another worker's shoulder at the edge
        side = rng.choice([-0.1, 1.1])
        u, v, a = c.ellipse(side * n, rng.uniform(0.6, 1.0) * n, 0.35 * n, 0.5 * n)
        c.paint(a, _shade(u, v, _jitter(rng, _CLOTHES[rng.integers(len(_CLOTHES))]), light, 0.5))
    else:  # a hand
        u, v, a = c.ellipse(rng.uniform(0.1, 0.9) * n, rng.uniform(0.75, 1.0) * n, 0.12 * n, 0.16 * n)
        c.paint(a, _shade(u, v, _jitter(rng, _SKIN[rng.integers(len(_SKIN))]), light, 0.5))


# --------------------------------------------------------------------------- the camera


def _camera(img, rng, size):
    """Exposure, colour, shrink, tilt, blur, low-resolution source, noise, JPEG artefacts."""
    img = img * rng.uniform(0.75, 1.2)
    img = (img - 0.5) * rng.uniform(0.8, 1.2) + 0.5
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(0.7, 1.2)
    img = img * rng.uniform(0.93, 1.07, 3).astype(np.float32)  # white balance
    pil = Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
    pil = pil.resize((size, size), Image.LANCZOS)
    if rng.random() < 0.5:
        angle = rng.uniform(-14, 14)
        if rng.random() < 0.2:  # like a rotated photo export: black corners
            pil = pil.rotate(angle, Image.BILINEAR, fillcolor=(0, 0, 0))
        else:  # rotate, then zoom in until the corners are filled
            zoom = abs(math.cos(math.radians(angle))) + abs(math.sin(math.radians(angle)))
            pil = pil.rotate(angle, Image.BILINEAR)
            m = size * (1 - 1 / zoom) / 2
            pil = pil.resize((size, size), Image.BILINEAR, box=(m, m, size - m, size - m))
    if rng.random() < 0.45:  # a small face in the original photo, upscaled to the crop size
        small = int(rng.integers(28, 90))
        pil = pil.resize((small, small), Image.BILINEAR).resize((size, size), Image.BICUBIC)
    if rng.random() < 0.4:
        pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.6)))
    arr = np.asarray(pil, np.float32) + rng.normal(0, rng.uniform(0, 6), (size, size, 3))
    if rng.random() < 0.25:  # a sprinkle of black and white dots
        dots = rng.random((size, size)) < rng.uniform(0.001, 0.005)
        arr[dots] = rng.choice([0.0, 255.0], size=(int(dots.sum()), 1))
    pil = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:  # an earlier, harsher JPEG compression
        from io import BytesIO

        buf = BytesIO()
        pil.save(buf, "JPEG", quality=int(rng.integers(25, 80)))
        pil = Image.open(BytesIO(buf.getvalue())).convert("RGB")
    return pil


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
