"""Where the kit's own files are, whatever the working directory.

A lesson's default `DATA_DIR = "../data_samples/helmet"` only works when the notebook runs
from `notebooks/`; run headless from the repository root (papermill, `make lessons`) it
points nowhere.  `sample_path("helmet")` resolves the same folder from ftkit's own location
instead, so it works from any folder.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError

__all__ = ["repo_root", "sample_path", "lesson_path"]

_REPO = Path(__file__).resolve().parents[2]  # ftkit/infra/paths.py -> the checkout holding ftkit/


def repo_root() -> Path:
    """The folder that holds the `ftkit` package: the repository checkout (with notebooks/ etc.)."""
    return _REPO


def sample_path(*parts: str) -> Path:
    """A file or folder inside the repository's `data_samples/`, e.g. `sample_path("helmet")`.

    With no arguments, the `data_samples` folder itself.  Raises DataError when it is missing
    (ftkit installed from a wheel, without the repository's sample data).
    """
    for part in parts:
        if not isinstance(part, str) or not part or Path(part).is_absolute() or ".." in Path(part).parts:
            raise DataError(
                f"sample_path takes names inside data_samples/, got {part!r}. "
                "Use e.g. sample_path('sentiment', 'chinese_reviews.csv')."
            )
    root = _REPO / "data_samples"
    path = root.joinpath(*parts)
    if not path.exists():
        if not root.is_dir():
            raise DataError(
                f"The data_samples folder is missing: {root}. Run ftkit from a clone of the repository, "
                "or pass the path to your own data."
            )
        parent = path.parent if path.parent.is_dir() else root
        known = ", ".join(sorted(p.name for p in parent.iterdir() if not p.name.startswith(".")))
        raise DataError(f"No {'/'.join(parts)!r} in data_samples: {path}. In {parent.name}/: {known}.")
    return path


NOTEBOOKS = _REPO / "notebooks"  # where the lessons live: their relative paths start here


def lesson_path(path):
    """A lesson parameter's path, made independent of the working directory.

    Absolute paths (and `~`) stay as they are; a relative path starts at `notebooks/`, the folder
    the lessons live in, so `"../data_samples/helmet"` means the same folder whether the notebook
    runs in JupyterLab, under papermill from the repository root, or from any other folder.
    A list gives a list; None stays None.
    """
    if path is None:
        return None
    if isinstance(path, (list, tuple)):
        return [lesson_path(p) for p in path]
    if not isinstance(path, (str, Path)) or not str(path):
        raise DataError(
            f"Expected a file or folder path, got {path!r}. Pass a string such as '../data_samples'."
        )
    path = Path(path).expanduser()
    return path if path.is_absolute() else (NOTEBOOKS / path).resolve()
