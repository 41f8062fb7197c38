"""Notebook 02 in a real JupyterLab + Chromium: the widgets render and respond to a person.

What a learner does, step by step: open the lesson, Run All Cells, drag the freeze-depth
slider (keyboard arrows on its handle), press Train.  We check that the widgets are real
widgets (not their text fallback "IntSlider(value=..."), that the trainable-parameter
readout follows the slider, and that Train draws a new plot and adds a row to the runs
table.  Screenshots go to tests/_artifacts/ (ignored by git).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"  # ignored by git

NOTEBOOK = "02_freeze_lr_lab.ipynb"
RUN_ALL_S = 240  # the smoke profile runs the lesson in about a minute; a busy machine can take a few
STEP_S = 90  # one Train press in the smoke profile: seconds
# Smaller knobs for the browser run, injected into the tmp copy's parameters cell (like papermill does).
FAST_PARAMETERS = "\nMAX_IMAGES = 16\nSWEEP_DEPTHS = [0]\nSWEEP_LRS = [1e-3, 1e-2]\n"


def _shrink_parameters(path) -> None:
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = source + FAST_PARAMETERS
    path.write_text(json.dumps(nb))


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def _wait_until(page, predicate, timeout_s: float, what: str, poll_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(poll_s * 1000)
    _shot(page, f"timeout-{re.sub('[^a-z0-9]+', '-', what.lower())}.png")
    pytest.fail(f"Timed out after {timeout_s:.0f} s waiting for: {what} (screenshot in {ARTIFACTS})")


def _all_cells_done(page) -> bool:
    """Every code cell has run ('[n]:' prompts, none '[*]:') and the kernel is idle."""
    # textContent, not innerText: JupyterLab does not render cells scrolled out of view.
    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt").evaluate_all("els => els.map(e => e.textContent)")
    if not prompts or any("*" in p or not re.search(r"\d", p) for p in prompts):
        return False
    return _kernel_idle(page)


def _kernel_idle(page) -> bool:
    """The status bar says '<kernel name> | Idle' (not 'No Kernel', 'Initializing' or 'Busy')."""
    text = page.locator(".jp-StatusBar-Widget").first.text_content() or ""
    return "| Idle" in text and "No Kernel" not in text


def test_freeze_lab_widgets_in_jupyterlab(jupyter_lab, page):
    base, token, root = jupyter_lab
    _shrink_parameters(root / "notebooks" / NOTEBOOK)
    page.goto(f"{base}/lab/tree/notebooks/{NOTEBOOK}?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    _wait_until(page, lambda: _kernel_idle(page), 90, "the kernel to start (status bar '... | Idle')")

    # Run menu -> Run All Cells, as a learner would.
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    _wait_until(page, lambda: _all_cells_done(page), RUN_ALL_S, "all cells of notebook 02 to finish")
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", has_text="Traceback")
    assert errors.count() == 0, f"a cell raised: {errors.first.inner_text()[:800]}"

    # Real widgets, not their text fallback.
    lab = page.locator(".ftkit-lab").first
    lab.wait_for(state="attached", timeout=30_000)
    assert page.locator(".jupyter-widgets").count() > 5
    assert page.locator(".ftkit-lab .widget-slider").count() >= 2
    notebook_text = page.locator(".jp-Notebook").first.text_content()
    for fallback in ("IntSlider(value=", "VBox(children=", "FloatLogSlider(value="):
        assert fallback not in notebook_text, f"widget shown as text: {fallback!r} (is the widget manager missing?)"
    lab.scroll_into_view_if_needed()
    _shot(page, "lab-01-after-run-all.png")

    # Drag the freeze depth with the keyboard: the readout must follow, without training.
    readout = lab.locator(".ftkit-readout").first
    assert "freeze depth 0 of" in readout.inner_text()
    handle = lab.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    _wait_until(page, lambda: "freeze depth 2 of" in readout.inner_text(), 30, "the readout to show freeze depth 2")
    _shot(page, "lab-02-after-slider.png")

    # Press Train: a new plot and one more row in the runs table.
    rows = lab.locator(".ftkit-runs table tbody tr")
    image = lab.locator(".ftkit-curves img").first
    rows_before = rows.count()
    assert rows_before > 0, "the runs table should already hold the notebook's own runs"
    image_before = image.get_attribute("src")
    lab.locator("button", has_text=re.compile(r"^\s*Train\s*$")).first.click()
    _wait_until(page, lambda: rows.count() == rows_before + 1, STEP_S, "a new row in the runs table")
    _wait_until(page, lambda: image.count() and image.get_attribute("src") != image_before, STEP_S, "a new curve plot")
    message = lab.locator(".ftkit-message").first.inner_text()
    assert "Error" not in message, message
    assert f"#{rows_before + 1} depth 2" in message, message
    last_row = rows.nth(rows_before).inner_text()
    assert re.search(r"\b2\b", last_row) and re.search(r"0\.\d{3}", last_row), last_row
    lab.locator(".ftkit-runs").first.scroll_into_view_if_needed()
    _shot(page, "lab-03-after-train.png")
