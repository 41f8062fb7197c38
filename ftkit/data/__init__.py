"""Data in: image folders (`images`), text tables (`text`), instruction records (`instructions`),
and the tools that check data before training on it (`clean`: careful cleaning, anonymisation,
duplicates and leaks across splits).

Each loader checks its input before any work and returns a small dataclass the lessons share.
"""
