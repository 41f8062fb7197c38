"""A worker seen from the front, the side or the back: shoulders, neck, head, face and hair.

`draw_person` paints back to front and then calls the headwear painter for `wear`
(helmet_headwear.py).  The palettes are what site photos show: six skin tones, mostly dark
hair, work clothes and hi-vis colours.
"""

from __future__ import annotations

import math

import numpy as np

from .canvas import Canvas, jitter, noise, pick, shade
from .helmet_headwear import (
    FABRIC,
    draw_beanie,
    draw_cap,
    draw_helmet,
    draw_hood_front,
    draw_scarf,
    draw_strawhat,
)

__all__ = ["draw_person", "SKIN", "HAIR", "CLOTHES", "HAIR_STYLES"]

SKIN = [
    (0.95, 0.78, 0.65),
    (0.88, 0.69, 0.54),
    (0.80, 0.59, 0.44),
    (0.68, 0.47, 0.34),
    (0.52, 0.35, 0.24),
    (0.38, 0.25, 0.18),
]
HAIR = [
    ((0.05, 0.045, 0.04), 0.55),
    ((0.17, 0.11, 0.07), 0.18),
    ((0.33, 0.22, 0.13), 0.08),
    ((0.45, 0.44, 0.42), 0.07),
    ((0.74, 0.60, 0.36), 0.06),
    ((0.80, 0.79, 0.76), 0.06),
]
CLOTHES = [
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
HAIR_STYLES = {
    "short": 0.45,
    "fringe": 0.12,
    "buzz": 0.1,
    "bald": 0.06,
    "long": 0.12,
    "bun": 0.1,
    "curly": 0.05,
}


def draw_person(c: Canvas, rng, light, cx, cy, r, wear):
    """Shoulders, neck, head, face, hair, then what is worn on the head (back to front)."""
    skin = jitter(rng, SKIN[rng.integers(len(SKIN))], 0.04)
    hair = jitter(rng, HAIR[pick(rng, {i: w for i, (_, w) in enumerate(HAIR)})][0], 0.03)
    style = pick(rng, HAIR_STYLES)
    view = pick(rng, {"front": 0.55, "side": 0.3, "back": 0.15})
    yaw = {
        "front": rng.uniform(-0.5, 0.5),
        "side": rng.choice([-1, 1]) * rng.uniform(0.5, 1.4),
        "back": rng.choice([-1, 1]) * rng.uniform(2.3, math.pi),
    }[view]
    ry = 1.22 * r  # a head is taller than it is wide

    if style == "long" and wear in ("bare", "cap", "helmet", "beanie"):
        u, v, a = c.ellipse(cx, cy + 0.55 * r, 1.12 * r, 1.45 * r)
        c.paint(a, shade(u, v, hair, light, 0.5) * (0.8 + 0.2 * noise(rng, c.n, 8, c.n / 6))[..., None])
    if wear == "hood":
        hood = jitter(rng, FABRIC[rng.integers(len(FABRIC))], 0.04)
        u, v, a = c.ellipse(cx, cy + 0.05 * r, 1.5 * r, 1.5 * r)
        c.paint(a, shade(u, v, hood * 0.75, light, 0.5))
    _draw_body(c, rng, light, cx + 0.25 * r * math.sin(yaw), cy, r)
    u, v, a = c.ellipse(cx + 0.1 * r * math.sin(yaw), cy + 1.05 * r, 0.52 * r, 0.75 * r)  # neck
    c.paint(a, shade(u * 0.7, v * 0.3, skin * 0.82, light, 0.5))

    ears = [(yaw + side * math.pi / 2) for side in (-1, 1)]
    for angle in ears:  # ears behind the head's outline first
        if -0.35 < math.cos(angle) <= 0.2:
            _draw_ear(c, cx + 0.96 * r * math.sin(angle), cy, r, skin, light)
    u, v, head = c.ellipse(cx, cy, r, ry, taper=0.14)
    c.paint(head, shade(u, v, skin, light, 0.45, spec=0.06, gloss=12))
    for angle in ears:
        if math.cos(angle) > 0.2:
            _draw_ear(c, cx + 0.96 * r * math.sin(angle), cy, r, skin, light)
    if math.cos(yaw) > 0.0:
        _draw_face(c, rng, cx, cy, r, yaw, skin, hair)
    if wear in ("bare", "cap", "helmet", "hood", "strawhat") and style != "bald":
        _draw_hair(c, rng, light, cx, cy, r, yaw, hair, style if wear == "bare" else "short", wear)
    if wear == "helmet":
        draw_helmet(c, rng, light, cx, cy, r, yaw, head)
    elif wear == "cap":
        draw_cap(c, rng, light, cx, cy, r, yaw)
    elif wear == "beanie":
        draw_beanie(c, rng, light, cx, cy, r)
    elif wear == "hood":
        draw_hood_front(c, rng, light, cx, cy, r, yaw, hood)
    elif wear in ("scarf", "towel"):
        draw_scarf(c, rng, light, cx, cy, r, yaw, towel=wear == "towel")
    elif wear == "strawhat":
        draw_strawhat(c, rng, light, cx, cy, r)


def _draw_body(c, rng, light, cx, cy, r):
    cloth = jitter(rng, CLOTHES[rng.integers(len(CLOTHES))], 0.05)
    u, v, a = c.ellipse(cx, cy + 2.75 * r, rng.uniform(2.1, 2.9) * r, 1.45 * r)
    wrinkles = (
        0.1 * noise(rng, c.n, 10, 10)
        + 0.12 * noise(rng, c.n, c.n / 5, c.n / 12)
        + 0.05 * noise(rng, c.n, c.n / 2, c.n / 2)
    )
    body = shade(u * 0.8, v * 0.5, cloth, light, 0.5) * (1 + wrinkles)[..., None]
    if rng.random() < 0.35:  # hi-vis vest: fluorescent panels with grey reflective bands
        vest = jitter(rng, rng.choice([(0.85, 1.0, 0.2), (1.0, 0.5, 0.05)]), 0.03)
        body = np.where((np.abs(c.X - cx) > 0.45 * r)[..., None], shade(u, v * 0.5, vest, light, 0.55), body)
        band = np.abs(((c.Y - cy - 1.9 * r) % (0.9 * r)) - 0.1 * r) < 0.09 * r
        body = np.where(band[..., None], np.float32(0.8), body)
    c.paint(a, body)


def _draw_ear(c, x, cy, r, skin, light):
    u, v, a = c.ellipse(x, cy + 0.08 * r, 0.17 * r, 0.28 * r)
    c.paint(a, shade(u, v, skin * 0.92, light, 0.5))


def _draw_face(c, rng, cx, cy, r, yaw, skin, hair):
    """Brows, eyes, nose, mouth where they face the camera (cos > 0.15), and skin texture."""

    def at(theta):
        return cx + 0.93 * r * math.sin(yaw + theta), math.cos(yaw + theta)

    u, v, face = c.ellipse(cx, cy, r, 1.22 * r, taper=0.14)
    blotches = 0.06 * noise(rng, c.n, c.n / 24, c.n / 24) + 0.04 * noise(rng, c.n, c.n / 4, c.n / 4)
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
        a = np.clip(a * (1 + 0.6 * noise(rng, n, n / 10, n / 10)), 0, 1)
    # Which part of the head each pixel shows (0 = middle of the face, pi = back of the head).
    psi = np.abs((np.arcsin(np.clip(u, -1, 1)) - yaw + math.pi) % (2 * math.pi) - math.pi)
    front = {"fringe": -0.18, "long": -0.4}.get(style, -0.45) + rng.uniform(-0.06, 0.06)
    sides = 0.9 if style == "long" else 0.15
    hairline = np.interp(psi, [0.0, 1.0, 1.6, 2.3, math.pi], [front, front, sides, 0.55, 0.55])
    if wear == "helmet" or wear == "cap":  # under a hat only the sides and the nape show
        hairline = np.minimum(hairline, np.interp(psi, [0, 1.2, 2.3, math.pi], [-1, 0.1, 0.5, 0.5]))
    mask = a * np.clip((hairline - v) * 12, 0, 1)
    strands = np.clip(
        0.75 + 0.3 * noise(rng, n, n / 10, n / 2.5) + 0.25 * noise(rng, n, n / 4, n / 1.5), 0.3, 1.6
    )
    colour = shade(u, v, hair, light, 0.5, spec=0.12, gloss=10) * strands[..., None]
    c.paint(mask * (0.65 if style == "buzz" else 1.0), colour)
    if style == "bun" and wear == "bare":
        bx = cx - 0.45 * r * math.sin(yaw)
        ub, vb, bun = c.ellipse(bx, cy - 1.12 * r, 0.4 * r, 0.33 * r)
        c.paint(bun, shade(ub, vb, hair, light, 0.5, spec=0.12) * strands[..., None])
