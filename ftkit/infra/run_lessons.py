"""Run the lesson notebooks headless with papermill (what `make lessons` does).

Each notebook has one cell tagged `parameters`; we inject PROFILE and OUTPUT_DIR, the
notebook writes OUTPUT_DIR/results.json, and we collect those into one table.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import ConfigError

__all__ = ["lesson_notebooks", "run_lessons"]


def lesson_notebooks(notebooks_dir: Path, only=None) -> list[Path]:
    """The ordered lesson notebooks (`NN_name.ipynb`), optionally filtered by prefixes."""
    books = sorted(p for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if only:
        books = [p for p in books if any(p.name.startswith(o) for o in only)]
    if not books:
        raise ConfigError(
            f"No lesson notebooks found in {notebooks_dir} (filter: {only}). Check the folder name."
        )
    return books


def run_lessons(notebooks_dir: Path, out_dir: Path, profile: str = "default", only=None):
    """Execute each lesson into `out_dir/<lesson>/` and return the results table."""
    import papermill as pm

    from .results import results_table
    from .runtime import get_profile

    get_profile(profile)  # validate the name before any notebook starts
    out_dir = Path(out_dir).resolve()
    for nb in lesson_notebooks(notebooks_dir, only):
        lesson_out = out_dir / nb.stem
        lesson_out.mkdir(parents=True, exist_ok=True)
        print(f"== {nb.name} (profile {profile}) -> {lesson_out}", flush=True)
        start = time.time()
        pm.execute_notebook(
            str(nb),
            str(lesson_out / nb.name),
            cwd=str(nb.parent),
            parameters={"PROFILE": profile, "OUTPUT_DIR": str(lesson_out)},
            progress_bar=False,
            kernel_name="python3",
        )
        print(f"   done in {time.time() - start:.0f} s", flush=True)
    return results_table(out_dir)


CHECK_TAG = "nbval-check-output"  # cells whose output the regression suite compares


def refresh_checked_outputs(notebook: Path, profile: str = "smoke", timeout: int = 1200) -> Path:
    """Execute a notebook and keep only the outputs of its checked cells.

    Lessons are committed without outputs, except the cells tagged `nbval-check-output`:
    those hold the expected output nbval compares against, and show only things that do
    not depend on the profile (class names, data sizes, a verdict on a fixed history...).
    Run this after editing a notebook; `git diff` then shows exactly what a change moved.
    """
    import os

    import nbformat
    from nbclient import NotebookClient

    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    old_env = os.environ.get("FTKIT_PROFILE")
    os.environ["FTKIT_PROFILE"] = profile
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
        ).execute()
    finally:
        if old_env is None:
            os.environ.pop("FTKIT_PROFILE", None)
        else:
            os.environ["FTKIT_PROFILE"] = old_env
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if CHECK_TAG not in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None  # nbval wants a count only where outputs are kept
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)  # widget state belongs to a live session, not the file
    nbformat.write(nb, notebook)
    return notebook
