"""The helmet crops' surroundings: site backgrounds, things in front of the worker, the camera.

`background` paints sky, scaffolding, concrete, site netting, machinery, brick, foliage or a
blurred crowd, plus clutter; `occlude` puts a pole, a shoulder or a hand in front; `camera`
applies exposure, white balance, shrinking, tilt, blur, a low-resolution source, noise and
JPEG artefacts.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

from .canvas import Canvas, jitter, line_mask, noise, pick, shade
from .helmet_person import CLOTHES, SKIN

__all__ = ["background", "occlude", "camera"]


def background(rng, c: Canvas):
    n = c.n
    kind = pick(
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
        top, bottom = jitter(rng, (0.45, 0.65, 0.9), 0.08), jitter(rng, (0.8, 0.87, 0.95), 0.05)
        img = top * (1 - t[..., None]) + bottom * t[..., None]
        clouds = np.clip((noise(rng, n, 4, 4) + 0.5 * noise(rng, n, 10, 10) - 0.3) * 0.8, 0, 1)
        img = img * (1 - clouds[..., None]) + 0.95 * clouds[..., None]
    elif kind == "plain" or kind == "sky":
        base = jitter(
            rng,
            rng.choice([(0.95, 0.95, 0.94), (0.85, 0.85, 0.82), (0.9, 0.86, 0.78), (0.75, 0.78, 0.8)]),
            0.04,
        )
        img = base * (1 + 0.12 * (t[..., None] - 0.5) * rng.uniform(-1, 1)) + 0 * c.X[..., None]
    elif kind == "concrete":
        grey = rng.uniform(0.4, 0.72)
        tone = grey + 0.07 * noise(rng, n, 6, 6) + 0.03 * noise(rng, n, n // 3, n // 3)
        img = np.repeat(tone[..., None], 3, axis=2) * jitter(rng, (1.0, 0.98, 0.95), 0.02)
        if rng.random() < 0.5:  # formwork seams
            step = rng.uniform(0.2, 0.4) * n
            img *= (
                1
                - 0.25 * (np.abs(((c.Y + rng.uniform(0, step)) % step) - step / 2) > step / 2 - 2)[..., None]
            )
    elif kind == "netting":
        green = jitter(rng, (0.12, 0.45, 0.28), 0.05)
        f = rng.uniform(0.5, 1.2)
        mesh = 0.75 + 0.25 * (np.sin(c.X * f) * np.sin(c.Y * f) > 0.2)
        img = green * (mesh * (1 + 0.2 * noise(rng, n, 5, 5)))[..., None]
    elif kind == "brick":
        bh, bw = rng.uniform(0.06, 0.1) * n, rng.uniform(0.14, 0.22) * n
        row = np.floor(c.Y / bh)
        mortar = ((c.Y % bh) < 2.5) | (((c.X + (row % 2) * bw / 2) % bw) < 2.5)
        brick = jitter(rng, (0.62, 0.3, 0.2), 0.06) * (1 + 0.08 * noise(rng, n, 20, 20))[..., None]
        img = np.where(mortar[..., None], np.float32(0.75), brick)
    elif kind == "foliage":
        a, b = noise(rng, n, 8, 8), noise(rng, n, 20, 20)
        img = np.stack([0.2 + 0.1 * a, 0.4 + 0.12 * b, 0.15 + 0.05 * a], axis=2)
    elif kind == "machinery":
        img = (
            np.full((n, n, 3), rng.uniform(0.2, 0.5), np.float32) * (1 + 0.1 * noise(rng, n, 6, 6))[..., None]
        )
        paint = jitter(rng, rng.choice([(0.95, 0.7, 0.1), (0.95, 0.45, 0.05), (0.5, 0.5, 0.52)]), 0.05)
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
                + jitter(rng, CLOTHES[rng.integers(len(CLOTHES))], 0.1) * blob[..., None]
            )
    if kind == "scaffold":
        img = _scaffold(rng, c, img)
    img = img * (1 + 0.07 * noise(rng, n, n / 3, n / 3))[..., None]  # fine grain: photos are never smooth
    img = _clutter(rng, c, img)
    return np.clip(img, 0, 1).astype(np.float32)


def _clutter(rng, c: Canvas, img):
    """Thin wires, edges and small objects: real site backgrounds are busy."""
    for _ in range(rng.integers(0, 6)):
        x0, y0, x1, y1 = rng.uniform(-0.2, 1.2, 4) * c.n
        mask = line_mask(c.n, [(x0, y0), (x1, y1)], rng.uniform(1, 6))
        img = img * (1 - mask[..., None]) + rng.uniform(0, 1, 3).astype(np.float32) * mask[..., None]
    return img


def _scaffold(rng, c: Canvas, img):
    n = c.n
    colour = jitter(
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


def occlude(c, rng, light):
    n = c.n
    kind = rng.integers(3)
    if kind == 0:  # a pole or a scaffold tube in front
        x, w = rng.uniform(0, n), rng.uniform(0.03, 0.08) * n
        d = (c.X - x) / w
        colour = jitter(rng, rng.choice([(0.6, 0.6, 0.6), (0.9, 0.5, 0.1), (0.2, 0.2, 0.2)]), 0.04)
        c.paint(
            (np.abs(d) < 1).astype(np.float32),
            colour * (0.6 + 0.5 * np.sqrt(np.clip(1 - d * d, 0, 1)))[..., None],
        )
    elif kind == 1:  # another worker's shoulder at the edge
        side = rng.choice([-0.1, 1.1])
        u, v, a = c.ellipse(side * n, rng.uniform(0.6, 1.0) * n, 0.35 * n, 0.5 * n)
        c.paint(a, shade(u, v, jitter(rng, CLOTHES[rng.integers(len(CLOTHES))]), light, 0.5))
    else:  # a hand
        u, v, a = c.ellipse(rng.uniform(0.1, 0.9) * n, rng.uniform(0.75, 1.0) * n, 0.12 * n, 0.16 * n)
        c.paint(a, shade(u, v, jitter(rng, SKIN[rng.integers(len(SKIN))]), light, 0.5))


def camera(img, rng, size):
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
