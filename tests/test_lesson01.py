"""Lesson 01's notebook keeps the notebook contract (docs/NOTEBOOKS.md); nbval runs it separately."""

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_helmet_classifier.ipynb"
PARAMETERS = {"DATA_DIR", "MODEL", "PROFILE", "SEED", "OUTPUT_DIR", "EPOCHS_HEAD", "EPOCHS_FINETUNE",
              "IMAGE_SIZE", "AUGMENT", "NEW_IMAGES"}


@pytest.fixture(scope="module")
def nb():
    return nbformat.read(NOTEBOOK, as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_one_parameters_cell_with_the_lesson_knobs(nb):
    cells = [c for c in _code(nb) if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    names = {t.id for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign) for t in node.targets}
    assert PARAMETERS <= names
    assert all(n.isupper() for n in names)


def test_papermill_can_read_every_parameter():
    # papermill's parameter parser skips lines it cannot read (e.g. a ';' inside a comment)
    import papermill

    assert PARAMETERS <= set(papermill.inspect_notebook(str(NOTEBOOK)))


def test_only_checked_cells_carry_outputs(nb):
    checked = [c for c in _code(nb) if "nbval-check-output" in c.metadata.get("tags", [])]
    assert len(checked) >= 2
    assert all(c.outputs for c in checked)
    assert not any(c.outputs for c in _code(nb) if c not in checked)


def test_checked_outputs_do_not_depend_on_the_profile(nb):
    text = "".join(str(o) for c in _code(nb) if c.outputs for o in c.outputs)
    for profile_specific in ("tiny-resnet", "efficientnet", "px", "smoke"):
        assert profile_specific not in text


def test_last_code_cell_writes_results_with_the_contract_metrics(nb):
    last = _code(nb)[-1].source
    assert "ftkit.write_results(" in last
    for key in ("test_accuracy", "test_f1", "val_accuracy", "head_only_test_accuracy"):
        assert f'"{key}"' in last


def test_no_helpers_defined_in_the_notebook(nb):
    for cell in _code(nb):
        tree = ast.parse(cell.source)
        assert not [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)]
