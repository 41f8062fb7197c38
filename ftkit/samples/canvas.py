"""A tiny painting kit for procedural images: a float RGB canvas, soft ellipses and lighting.

Used by the helmet generator (helmet.py and its helmet_* modules).  Everything is plain numpy
+ PIL; `shade` lights an ellipsoid with ambient + Lambert diffuse + a Blinn-Phong highlight.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["Canvas", "unit", "pick", "jitter", "shade", "noise", "blur", "line_mask"]


class Canvas:
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


def unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def pick(rng, weights: dict):
    names = list(weights)
    p = np.asarray([weights[k] for k in names], float)
    return names[rng.choice(len(names), p=p / p.sum())]


def jitter(rng, colour, amount=0.06):
    return np.clip(np.asarray(colour, np.float32) + rng.normal(0, amount, 3), 0.0, 1.0)


def shade(u, v, base, light, ambient=0.45, spec=0.0, gloss=20.0):
    """Colour of an ellipsoid's surface: ambient + Lambert diffuse + a Blinn-Phong highlight."""
    z = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0))
    norm = np.sqrt(u * u + v * v + z * z) + 1e-6
    nx, ny, nz = u / norm, v / norm, z / norm
    diffuse = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0.0, 1.0)
    half = unit(light + np.array([0.0, 0.0, 1.0], np.float32))
    highlight = np.clip(nx * half[0] + ny * half[1] + nz * half[2], 0.0, 1.0) ** gloss
    shaded = np.asarray(base, np.float32) * (ambient + (1 - ambient) * diffuse)[..., None]
    return shaded + spec * highlight[..., None]


def noise(rng, n, cells_y, cells_x):
    """Smooth random field (zero mean, unit-ish scale) made by upscaling a small grid."""
    grid = rng.standard_normal((max(2, int(cells_y)), max(2, int(cells_x)))).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((n, n), Image.BICUBIC))


def blur(img, radius):
    if radius < 0.3:
        return img
    pil = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    return np.asarray(pil.filter(ImageFilter.GaussianBlur(radius)), np.float32) / 255.0


def line_mask(n, points, width):
    """Anti-aliasing is left to the final shrink; PIL draws the polyline on an L mask."""
    mask = Image.new("L", (n, n), 0)
    ImageDraw.Draw(mask).line([(float(x), float(y)) for x, y in points], fill=255, width=max(1, int(width)))
    return np.asarray(mask, np.float32) / 255.0
