"""Every widget lesson in a real JupyterLab + Chromium: the widgets render and respond to a person.

What a learner does, step by step: open the lesson, Run All Cells, move a control, press
Train (and, in the LoRA lesson, type a prompt and press Compare).  For each lesson we check
that every cell ran without a traceback, that the panels are real widgets (not their text
fallback "IntSlider(value=..."), and that the interaction changed the output:

* 02 (images) and 03 (text): the freeze-lab panel.  Moving the freeze-depth slider updates
  the trainable-parameter readout; Train adds a row with the new depth to the runs table and
  draws a new curve plot.
* 04: the LoRA panel.  A new rank, Train, then a prompt and Compare: the status line reports
  the finished run and the answers table shows the prompt with a base and a tuned answer.

Screenshots go to tests/_artifacts/<lesson>-N-<step>.png (ignored by git).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"  # ignored by git
STEP_S = 90  # one Train or Compare press in the smoke profile takes seconds; a busy machine a minute
# Widget classes printed instead of drawn when the widget manager is missing.
TEXT_FALLBACKS = (
    "IntSlider(value=",
    "VBox(children=",
    "FloatLogSlider(value=",
    "Dropdown(options=",
    "Button(description=",
)


@dataclass(frozen=True)
class Lesson:
    notebook: str
    run_all_s: int  # Run All Cells in the smoke profile on a busy 2-core machine, with room to spare
    parameters: str = ""  # appended to the tmp copy's parameters cell (as papermill injects values)

    @property
    def short(self) -> str:
        return self.notebook[:2]


FREEZE_LABS = [
    # Smaller sweep and image cap than smoke's own: the lesson still runs every cell, in half the time.
    Lesson(
        "02_freeze_lr_lab.ipynb", 240, "\nMAX_IMAGES = 16\nSWEEP_DEPTHS = [0]\nSWEEP_LRS = [1e-3, 1e-2]\n"
    ),
    Lesson("03_bert_sentiment.ipynb", 300),
]
LORA_LESSON = Lesson("04_qwen_lora.ipynb", 300)
WIDGET_MARKERS = (
    "ipywidgets",
    "freeze_lab",
    "FreezeLab",
    "LoraPanel",
)  # code that puts a widget panel in a lesson


# ---- helpers: any lesson ---------------------------------------------------------------------
def _add_parameters(path: Path, extra: str) -> None:
    if not extra:
        return
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = source + extra
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


def _all_cells_done(notebook) -> bool:
    """Every code cell has run ('[n]:' prompts, none '[*]:') and the kernel is idle."""
    # textContent, not innerText: JupyterLab does not render cells scrolled out of view.
    prompts = notebook.locator(".jp-CodeCell .jp-InputArea-prompt").evaluate_all(
        "els => els.map(e => e.textContent)"
    )
    if not prompts or any("*" in p or not re.search(r"\d", p) for p in prompts):
        return False
    return _kernel_idle(notebook.page)


def _kernel_idle(page) -> bool:
    """The status bar says '<kernel name> | Idle' (not 'No Kernel', 'Initializing' or 'Busy')."""
    text = page.locator(".jp-StatusBar-Widget").first.text_content() or ""
    return "| Idle" in text and "No Kernel" not in text


def _open_and_run_all(page, jupyter_lab, lesson: Lesson):
    """Open the lesson in a fresh workspace, Run All Cells from the menu; returns the notebook locator.

    Fails if a cell raised or a widget shows as text.
    """
    base, token, root = jupyter_lab
    _add_parameters(root / "notebooks" / lesson.notebook, lesson.parameters)
    # A workspace of its own (reset): JupyterLab would otherwise reopen the previous test's notebook.
    page.goto(
        f"{base}/lab/workspaces/browser-{lesson.short}/tree/notebooks/{lesson.notebook}?reset&token={token}"
    )
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first
    notebook.locator(".jp-Cell").first.wait_for(timeout=90_000)
    _wait_until(page, lambda: _kernel_idle(page), 90, f"the kernel of {lesson.notebook} to start")

    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    _wait_until(
        page, lambda: _all_cells_done(notebook), lesson.run_all_s, f"all cells of {lesson.notebook} to finish"
    )
    errors = notebook.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", has_text="Traceback"
    )
    assert errors.count() == 0, f"a cell of {lesson.notebook} raised: {errors.first.inner_text()[:800]}"

    text = notebook.text_content()
    for fallback in TEXT_FALLBACKS:
        assert fallback not in text, (
            f"{lesson.notebook}: widget shown as text {fallback!r} (is the widget manager missing?)"
        )
    return notebook


def _table(area) -> list[dict]:
    """The rows of the first HTML table in an output area, as {column header: cell text}."""
    table = area.locator("table").first
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    rows = []
    for row in table.locator("tbody tr").all():
        cells = [c.strip() for c in row.locator("td, th").all_inner_texts()]
        assert len(cells) == len(headers), f"table row {cells} does not match its header {headers}"
        rows.append(dict(zip(headers, cells, strict=True)))
    return rows


# ---- which lessons -------------------------------------------------------------------------------
def test_every_widget_lesson_is_driven_here():
    """A new lesson with a widget panel must get a browser test below (and one without, none)."""
    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    with_widgets = set()
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        code = "\n".join(
            "".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"
        )
        if any(marker in code for marker in WIDGET_MARKERS):
            with_widgets.add(path.name)
    assert with_widgets == {lesson.notebook for lesson in [*FREEZE_LABS, LORA_LESSON]}


# ---- the freeze lab (02 images, 03 text) -------------------------------------------------------
@pytest.mark.parametrize("lesson", FREEZE_LABS, ids=lambda lesson: lesson.short)
def test_freeze_lab_in_jupyterlab(jupyter_lab, page, lesson):
    notebook = _open_and_run_all(page, jupyter_lab, lesson)
    lab = notebook.locator(".ftkit-lab").first
    lab.wait_for(state="attached", timeout=30_000)
    assert lab.locator(".widget-slider").count() >= 2, (
        "the freeze-depth and learning-rate sliders are missing"
    )
    lab.scroll_into_view_if_needed()
    _shot(page, f"{lesson.short}-1-after-run-all.png")

    # Move the freeze depth one step with the keyboard: the readout follows, without training.
    readout = lab.locator(".ftkit-readout").first
    match = re.search(r"freeze depth (\d+) of (\d+)", readout.inner_text())
    assert match, f"the readout does not say the freeze depth: {readout.inner_text()[:300]}"
    depth, top = int(match[1]), int(match[2])
    key, new_depth = ("ArrowRight", depth + 1) if depth < top else ("ArrowLeft", depth - 1)
    handle = lab.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press(key)
    _wait_until(
        page,
        lambda: f"freeze depth {new_depth} of {top}" in readout.inner_text(),
        30,
        f"the readout to show freeze depth {new_depth}",
    )
    _shot(page, f"{lesson.short}-2-after-slider.png")

    # Press Train: one more row in the runs table, with the new depth, and a new curve plot.
    runs = lab.locator(".ftkit-runs").first
    image = lab.locator(".ftkit-curves img").first
    before = _table(runs)
    assert before, "the runs table should already hold the notebook's own runs"
    image_before = image.get_attribute("src") if image.count() else None
    lab.locator("button", has_text=re.compile(r"^\s*Train\s*$")).first.click()
    _wait_until(
        page,
        lambda: runs.locator("table").first.locator("tbody tr").count() == len(before) + 1,
        STEP_S,
        "a new row in the runs table",
    )
    _wait_until(
        page, lambda: image.count() and image.get_attribute("src") != image_before, STEP_S, "a new curve plot"
    )
    message = lab.locator(".ftkit-message").first.inner_text()
    assert "Error" not in message, message
    assert f"#{len(before) + 1} depth {new_depth}" in message, message
    after = _table(runs)
    assert after[:-1] == before, "earlier runs changed in the table"
    new = after[-1]
    assert new["run"] == str(len(before) + 1) and new["depth"] == str(new_depth), new
    assert re.fullmatch(r"[01]\.\d{3}", new["val_accuracy"]), new
    runs.scroll_into_view_if_needed()
    _shot(page, f"{lesson.short}-3-after-train.png")


# ---- the LoRA panel (04) ----------------------------------------------------------------------
def test_lora_panel_in_jupyterlab(jupyter_lab, page):
    short = LORA_LESSON.short
    notebook = _open_and_run_all(page, jupyter_lab, LORA_LESSON)
    compare_button = page.locator(
        "button", has_text="Compare base vs tuned"
    )  # `has=` needs a page-relative locator
    compare = notebook.locator(compare_button).first
    compare.wait_for(state="attached", timeout=30_000)
    # The panel: the (outermost, so first) widget box that holds the Compare button.
    panel = notebook.locator(".widget-vbox", has=compare_button).first
    assert panel.locator("select").count() >= 2 and panel.locator(".widget-slider").count() >= 2
    assert compare.is_disabled(), "Compare must wait for a trained model"
    panel.scroll_into_view_if_needed()
    _shot(page, f"{short}-1-after-run-all.png")

    # A new rank, then Train: the status line reports the run with that rank, then its end.
    rank = panel.locator(".widget-dropdown", has_text="LoRA rank r").locator("select")
    rank.select_option("4")
    status = panel.locator(".widget-html").first
    panel.locator("button", has_text=re.compile(r"^\s*Train\s*$")).first.click()
    _wait_until(
        page,
        lambda: "Done in" in status.inner_text() or "Stopped" in status.inner_text(),
        STEP_S,
        "the LoRA run to finish",
    )
    assert "Done in" in status.inner_text(), status.inner_text()
    assert "LoRA r=4," in panel.text_content(), (
        "the run did not use the rank chosen in the panel"
    )  # train_sft's line
    assert panel.locator(".widget-output img").count() >= 1, "the live curves were not drawn"
    _wait_until(page, lambda: compare.is_enabled(), 10, "Compare to be enabled after training")
    _shot(page, f"{short}-2-after-train.png")

    # A prompt of our own, Compare: a table with that prompt, a base and a tuned answer.
    prompt = "Write a safety note for this site observation.\n\nA ladder leans against a live power line."
    panel.locator("textarea").fill(prompt)
    compare.click()
    answers = panel.locator(".widget-output", has=page.locator("table")).last
    _wait_until(
        page,
        lambda: answers.count() and answers.locator("table tbody tr").count() == 1,
        STEP_S,
        "the base vs tuned answers table",
    )
    row = _table(answers)[0]
    assert {"prompt", "base", "tuned"} <= set(row), row
    assert "A ladder leans against a live power line." in row["prompt"], row
    # No check on the answers' words: the smoke profile's tiny random model often answers with nothing.
    answers.scroll_into_view_if_needed()
    _shot(page, f"{short}-3-after-compare.png")
