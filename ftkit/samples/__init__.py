"""Generators for the small sample data sets shipped in `data_samples/`.

They are made by code (not downloaded) so that the repository carries no third-party
photos, and so that anyone can regenerate them byte for byte from a seed.
"""

from __future__ import annotations

from .helmet import HELMET_CLASSES, generate_helmet_dataset, render_helmet_image

__all__ = ["generate_helmet_dataset", "render_helmet_image", "HELMET_CLASSES"]
