"""Run the lesson notebooks headless with papermill (what `make lessons` does).

Each notebook has one cell tagged `parameters`; we inject PROFILE and OUTPUT_DIR, the
notebook writes OUTPUT_DIR/results.json, and we collect those into one table.
"""

from __future__ import annotations

import time
from pathlib import Path

from .errors import ConfigError

__all__ = ["lesson_notebooks", "run_lessons"]


def lesson_notebooks(notebooks_dir: Path, only=None) -> list[Path]:
    """The ordered lesson notebooks (`NN_name.ipynb`), optionally filtered by prefixes."""
    books = sorted(p for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if only:
        books = [p for p in books if any(p.name.startswith(o) for o in only)]
    if not books:
        raise ConfigError(f"No lesson notebooks found in {notebooks_dir} (filter: {only}). Check the folder name.")
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
            str(nb), str(lesson_out / nb.name), cwd=str(nb.parent),
            parameters={"PROFILE": profile, "OUTPUT_DIR": str(lesson_out)},
            progress_bar=False, kernel_name="python3",
        )
        print(f"   done in {time.time() - start:.0f} s", flush=True)
    return results_table(out_dir)
