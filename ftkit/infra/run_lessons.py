"""Run the lesson notebooks headless with papermill (what `make lessons` does).

Each notebook has one cell tagged `parameters`; we inject PROFILE and OUTPUT_DIR, the
notebook writes OUTPUT_DIR/results.json, and we collect those into one table.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ..errors import ConfigError

__all__ = ["code_hash", "lesson_notebooks", "run_lessons", "stale_notebooks", "store_outputs"]


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
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BIG_PNG = 150_000  # bytes of base64: a photo grid stored as PNG; JPEG keeps it readable at a fifth


def _compress_png(b64: str) -> str | None:
    """A big PNG output as a JPEG (base64), or None when JPEG would not be smaller."""
    import base64
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80, optimize=True)
    out = base64.b64encode(buf.getvalue()).decode()
    return out if len(out) < len(b64) else None


def code_hash(nb) -> str:
    """sha256 of a notebook's code cells, in order: what the stored outputs were made from."""
    import hashlib
    import json

    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    return hashlib.sha256(json.dumps(sources).encode()).hexdigest()


def stale_notebooks(folder: Path) -> list[Path]:
    """Lessons whose code changed since their outputs were stored (or that have none)."""
    import nbformat

    stale = []
    for path in lesson_notebooks(folder):
        nb = nbformat.read(path, as_version=4)
        if nb.metadata.get("ftkit", {}).get("code_sha256") != code_hash(nb):
            stale.append(path)
    return stale


def _relative_paths(nb, root: Path) -> None:
    """Print paths inside the kit relative to it: a reader's clone is not the machine's folder."""
    prefix = str(root) + "/"
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = out["text"].replace(prefix, "")
            for kind in ("text/plain", "text/html", "text/markdown"):
                if isinstance(out.get("data", {}).get(kind), str):
                    out["data"][kind] = out["data"][kind].replace(prefix, "")


# tqdm's notebook bar (Trainer, datasets) shows its meter as its text form
_PROGRESS_BAR = re.compile(r"\d+%\|[^|]*\|\s*\d+/\d+")  # "Map:  40%|####  | 4/10", "  0%|   | 0/32"


def _store_ready(nb) -> None:
    """What a stored run keeps: big PNGs as JPEG; no progress bars (a finished bar says nothing once
    stored, and a Trainer draws one per run); other widgets as one line saying they need a live kernel."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        kept = []
        for out in cell.outputs:
            data = out.get("data", {})
            if len(data.get("image/png", "")) > BIG_PNG and (jpeg := _compress_png(data["image/png"])):
                del data["image/png"]
                data["image/jpeg"] = jpeg
            if WIDGET_VIEW in data:
                if _PROGRESS_BAR.search(data.get("text/plain", "")):
                    continue
                del data[WIDGET_VIEW]
                data["text/plain"] = "(an interactive widget: run the cell in JupyterLab to use it)"
            kept.append(out)
        cell.outputs = kept


def store_outputs(notebook: Path, profile: str = "default", timeout: int = 1800) -> Path:
    """Execute a lesson on `profile` and store every output in the notebook file.

    Lessons are committed with the outputs of a full default-profile run, so a reader sees the
    curves, tables and answers before running anything. The notebook's metadata records the
    hash of its code cells (`code_sha256`): `tests/test_stored_outputs.py` fails when the code
    changed and the outputs were not stored again. nbval compares only the cells tagged
    `nbval-check-output`, which show nothing that depends on the profile.
    """
    import os
    import platform
    import time

    import nbformat
    from nbclient import NotebookClient

    from .runtime import get_profile

    get_profile(profile)  # a bad name fails before the kernel starts
    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    old_env = os.environ.get("FTKIT_PROFILE")
    os.environ["FTKIT_PROFILE"] = profile
    start = time.time()
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
        ).execute()
    finally:
        if old_env is None:
            os.environ.pop("FTKIT_PROFILE", None)
        else:
            os.environ["FTKIT_PROFILE"] = old_env
    _store_ready(nb)
    _relative_paths(nb, notebook.resolve().parent.parent)
    nb.metadata.pop("widgets", None)
    nb.metadata["ftkit"] = {
        "code_sha256": code_hash(nb),
        "profile": profile,
        "executed": time.strftime("%Y-%m-%d"),
        "wall_s": round(time.time() - start),
        "machine": f"{os.cpu_count()}-core {platform.machine()} CPU" if profile != "gpu" else "GPU",
    }
    nbformat.write(nb, notebook)
    return notebook
