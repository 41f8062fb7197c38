"""What a worker wears on the head: the hard hat (class `helmet`) and the look-alikes.

For `no_helmet` most heads are bare, as in real site photos; the rest are the hard cases a
model must learn to tell apart from a hard hat: baseball caps (some bright yellow or orange),
beanies, hoods, scarves, towels and straw hats.
"""

from __future__ import annotations

import math

import numpy as np

from .canvas import jitter, line_mask, noise, pick, shade

__all__ = [
    "HELMET_COLOURS",
    "HELMET_WEIGHTS",
    "FABRIC",
    "NO_HELMET_WEAR",
    "draw_helmet",
    "draw_cap",
    "draw_beanie",
    "draw_hood_front",
    "draw_scarf",
    "draw_strawhat",
]

# Hard hat colours seen on sites (yellow and white are the most common, so they are listed twice).
HELMET_COLOURS = {
    "yellow": (0.96, 0.78, 0.08),
    "white": (0.93, 0.93, 0.90),
    "red": (0.84, 0.08, 0.08),
    "blue": (0.08, 0.30, 0.80),
    "orange": (1.00, 0.48, 0.04),
    "green": (0.10, 0.60, 0.25),
}
HELMET_WEIGHTS = {"yellow": 0.28, "white": 0.2, "red": 0.2, "blue": 0.12, "orange": 0.12, "green": 0.08}
FABRIC = [
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
NO_HELMET_WEAR = {
    "bare": 0.50,
    "cap": 0.16,
    "beanie": 0.08,
    "hood": 0.08,
    "scarf": 0.07,
    "towel": 0.05,
    "strawhat": 0.06,
}


def draw_helmet(c, rng, light, cx, cy, r, yaw, head):
    colour = jitter(rng, HELMET_COLOURS[pick(rng, HELMET_WEIGHTS)], 0.04)
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
            c.paint(line_mask(c.n, points, 0.05 * r), np.float32(0.12))
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
    shell = shade(
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
            logo * 0.9, jitter(rng, rng.choice([(0.95, 0.95, 0.95), (0.8, 0.1, 0.1), (0.1, 0.2, 0.6)]), 0.03)
        )


def draw_cap(c, rng, light, cx, cy, r, yaw):
    colour = jitter(rng, FABRIC[rng.integers(len(FABRIC))], 0.04)
    crown_cy, rim_y = cy - 0.42 * r, cy - 0.28 * r
    u, v, a = c.ellipse(cx, crown_cy, 1.05 * r, 0.82 * r)
    urim = np.clip((c.X - cx) / (1.05 * r), -1, 1)
    a = a * np.clip((rim_y + 0.12 * r * np.sqrt(1 - urim * urim) - c.Y) * 0.7, 0, 1)
    fabric = (
        shade(u, v, colour, light, 0.5, spec=0.04, gloss=5) * (1 + 0.05 * noise(rng, c.n, 40, 40))[..., None]
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


def draw_beanie(c, rng, light, cx, cy, r):
    colour = jitter(rng, FABRIC[rng.integers(len(FABRIC))], 0.04)
    rim_y = cy - rng.uniform(0.0, 0.2) * r
    u, v, a = c.ellipse(cx, cy - 0.3 * r, 1.08 * r, 1.02 * r)
    a = a * np.clip((rim_y - c.Y) * 0.7, 0, 1)
    knit = 0.85 + 0.15 * np.sin(c.X * rng.uniform(0.8, 1.4)) ** 2
    cuff = c.Y > rim_y - 0.3 * r
    knit = np.where(cuff, 0.85 + 0.15 * np.sin(c.Y * 1.2) ** 2, knit)
    c.paint(a, shade(u, v, colour, light, 0.5) * knit[..., None])
    if rng.random() < 0.3:  # pom-pom
        _, _, pom = c.ellipse(cx, cy - 1.3 * r, 0.25 * r, 0.22 * r)
        c.paint(np.clip(pom * (1 + 0.5 * noise(rng, c.n, 60, 60)), 0, 1), colour * 1.1)


def draw_hood_front(c, rng, light, cx, cy, r, yaw, hood):
    u, v, a = c.ellipse(cx, cy - 0.08 * r, 1.42 * r, 1.42 * r)
    if math.cos(yaw) > -0.2:  # the face opening
        _, _, hole = c.ellipse(
            cx + 0.55 * r * math.sin(yaw), cy + 0.18 * r, 0.85 * r * (0.5 + 0.5 * abs(math.cos(yaw))), 1.0 * r
        )
        a = a * (1 - hole)
    folds = 1 + 0.12 * noise(rng, c.n, 6, 6) + 0.06 * noise(rng, c.n, c.n / 3, c.n / 3)
    c.paint(a, shade(u, v, hood, light, 0.5) * folds[..., None])


def draw_scarf(c, rng, light, cx, cy, r, yaw, towel):
    colour = (
        np.float32(0.92) * np.ones(3, np.float32)
        if towel
        else jitter(rng, FABRIC[rng.integers(len(FABRIC))], 0.05)
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
        texture = 1 + 0.08 * noise(rng, c.n, c.n / 3, c.n / 3)
    else:
        texture = 1 + 0.15 * np.sin((c.X + c.Y) * rng.uniform(0.1, 0.3))
        if rng.random() < 0.4:  # a pattern of stripes
            texture = texture * (0.75 + 0.25 * (np.sin(c.Y * rng.uniform(0.2, 0.5)) > 0))
    c.paint(a, shade(u, v, colour, light, 0.55) * texture[..., None])


def draw_strawhat(c, rng, light, cx, cy, r):
    straw = jitter(rng, (0.82, 0.70, 0.45), 0.05)
    weave = 0.85 + 0.15 * (np.sin(c.X * 1.3) * np.sin(c.Y * 1.3) > 0)
    u, v, a = c.ellipse(cx, cy - 0.3 * r, r * rng.uniform(1.5, 1.9), r * rng.uniform(0.3, 0.5))
    c.paint(a, straw * (1.05 - 0.3 * np.clip(v, 0, 1))[..., None] * weave[..., None])
    u, v, a = c.ellipse(cx, cy - 0.55 * r, 0.9 * r, 0.65 * r)
    c.paint(a * (c.Y < cy - 0.3 * r), shade(u, v, straw, light, 0.55) * weave[..., None])
