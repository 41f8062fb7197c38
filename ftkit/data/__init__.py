"""Data in: image folders (`images`), text tables (`text`), instruction records (`instructions`).

Each loader checks its input before any work and returns a small dataclass the lessons share.
"""
