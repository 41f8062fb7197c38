"""Every lesson keeps the notebook contract (docs/NOTEBOOKS.md); nbval runs the cells separately."""

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
COMMON = {"MODEL", "PROFILE", "SEED", "OUTPUT_DIR"}
# The results.json metric keys each lesson promises (issue texts, README).
METRICS = {
    "00_start_here": ("val_accuracy", "test_accuracy"),
    "01_helmet_classifier": ("test_accuracy", "test_f1_macro", "val_accuracy"),
    "02_freeze_lr_lab": ("test_accuracy", "test_f1_macro", "val_accuracy"),
    "03_bert_sentiment": ("eval_accuracy", "eval_f1_macro"),
    "04_qwen_lora": (
        "eval_loss_before",
        "eval_loss_after",
        "reload_identical",
        "peak_rss_mb",
        "format_ok_before",
        "format_ok_after",
        "rougeL_before",
        "rougeL_after",
        "adapters_switch_ok",
    ),
    "05_overfitting_lab": (
        "test_accuracy",
        "test_f1_macro",
        "val_accuracy",
        "few_images_val_loss",
        "all_images_val_loss",
    ),
    "06_triage_case": (
        "macro_f1",
        "urgent_recall",
        "urgent_recall_at_threshold",
        "false_alarm_rate_at_threshold",
        "kappa",
        "leaked_duplicates_found",
        "pii_found",
    ),
    "07_deploy": (
        "onnx_parity",
        "ort_speedup",
        "int8_speedup",
        "int8_acc_drop",
        "rps",
        "p95_ms",
        "failed_requests",
    ),
    "08_scale_up": (
        "notebook_test_accuracy",
        "script_test_accuracy",
        "two_process_test_accuracy",
        "step_loss_gap",
        "test_loss_gap",
        "examples_per_s_one",
        "examples_per_s_two",
        "throughput_ratio",
    ),
}


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _checked(cell):
    return "nbval-check-output" in cell.metadata.get("tags", [])


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def book(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_every_lesson_is_known():
    assert [p.stem for p in NOTEBOOKS] == sorted(METRICS)


def test_one_parameters_cell_that_papermill_can_read(book):
    import papermill

    path, nb = book
    cells = [c for c in _code(nb) if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    names = {
        t.id for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign) for t in node.targets
    }
    assert COMMON <= names and all(n.isupper() for n in names)
    # papermill skips lines it cannot parse (e.g. '=' inside a comment) and then ignores injected values
    assert names <= set(papermill.inspect_notebook(str(path)))


def test_checked_cells_are_runnable_references(book):
    _, nb = book
    checked = [c for c in _code(nb) if _checked(c)]
    assert checked, "each lesson checks at least one profile-independent output"
    for cell in checked:
        assert cell.outputs and cell.execution_count is not None  # nbval: "unrun reference cell" otherwise


def test_the_lesson_ends_with_a_cell_that_writes_the_promised_metrics(book):
    path, nb = book
    lesson = [c for c in _code(nb) if "exercise" not in c.metadata.get("tags", [])]
    last = lesson[-1].source
    assert "write_results(" in last
    for key in METRICS[path.stem]:
        assert f'"{key}"' in last or f"{key}=" in last, f"{path.stem} does not write metrics.{key}"


def test_no_helpers_or_star_imports_in_notebooks(book):
    _, nb = book
    for cell in _code(nb):
        tree = ast.parse(cell.source)
        assert not [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))], cell.source[
            :80
        ]
        assert not [
            n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
        ]
