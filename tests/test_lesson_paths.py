"""Lessons run from any working directory: relative paths start at notebooks/, not at the cwd."""

import json
from pathlib import Path

import papermill
import pytest

from ftkit import lesson_path
from ftkit.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "00_start_here.ipynb"  # the quickest lesson in the smoke profile


def test_lesson_path_resolves_from_the_notebooks_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lesson_path("../data_samples/helmet") == ROOT / "data_samples" / "helmet"
    assert lesson_path(["../outputs/x", str(tmp_path)]) == [ROOT / "outputs" / "x", tmp_path]
    assert lesson_path(None) is None
    with pytest.raises(DataError, match="Expected a file or folder path"):
        lesson_path(3)


@pytest.mark.parametrize("where", ["repository root", "unrelated folder"])
def test_a_lesson_runs_headless_from_another_folder(where, tmp_path, monkeypatch):
    cwd = ROOT if where == "repository root" else tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    monkeypatch.chdir(cwd)
    out = tmp_path / "out"
    papermill.execute_notebook(
        str(LESSON),
        str(tmp_path / "run.ipynb"),
        parameters={"PROFILE": "smoke", "OUTPUT_DIR": str(out)},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(cwd),
    )
    results = json.loads((out / "results.json").read_text())
    assert results["lesson"] == "00_start_here" and results["profile"] == "smoke"
