"""docs/ERRATA.md: every place it cites exists and says what it is cited for.

Each row of the errata table ends with a "where" cell: references separated by `;`, each one of
    `notebooks/NN_name.ipynb` cell `cellid` "a phrase from that cell"
    `tests/test_file.py::test_name`
    `ftkit.public_name`
    `benchmarks/...`, `data_samples/...` or `docs/...` (a file)
or the words "not shown yet". Whitespace in phrases is compared loosely (cells wrap lines).
"""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ERRATA = ROOT / "docs" / "ERRATA.md"

NOTEBOOK_REF = re.compile(r'^`(notebooks/[\w.-]+\.ipynb)` cell `([\w-]+)`(?: "(.+)")?$')
TEST_REF = re.compile(r"^`(tests/[\w/.-]+\.py)::(\w+)`$")
API_REF = re.compile(r"^`ftkit\.(\w+)`$")
FILE_REF = re.compile(r"^`((?:benchmarks|data_samples|docs)/[^`]+)`$")


def _squash(text: str) -> str:
    return " ".join(text.split())


def _rows():
    rows = []
    for line in ERRATA.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\| E\d+ \|", line):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            assert len(cells) == 5, f"an errata row needs 5 columns: {line[:80]}"
            rows.append(cells)
    return rows


def _references():
    refs = []
    for ident, _seed, _says, _true, where in _rows():
        if where == "not shown yet":
            continue
        refs += [(ident, part.strip()) for part in where.split(";")]
    return refs


def _cells(notebook: str) -> dict:
    nb = json.loads((ROOT / notebook).read_text(encoding="utf-8"))
    return {cell["id"]: "".join(cell["source"]) for cell in nb["cells"]}


def test_the_table_has_every_erratum_once_in_order():
    idents = [row[0] for row in _rows()]
    assert idents == [f"E{i}" for i in range(1, len(idents) + 1)]
    assert len(idents) >= 33
    shown = [row for row in _rows() if row[4] != "not shown yet"]
    assert len(shown) >= 30, "most errata must be shown somewhere in the kit"


@pytest.mark.parametrize("ident,ref", _references())
def test_every_cited_place_exists(ident, ref):
    if m := NOTEBOOK_REF.match(ref):
        notebook, cell_id, phrase = m.groups()
        assert (ROOT / notebook).is_file(), f"{ident}: no notebook {notebook}"
        cells = _cells(notebook)
        assert cell_id in cells, f"{ident}: {notebook} has no cell with id {cell_id}"
        assert phrase, f"{ident}: cite a phrase of cell {cell_id}, so the test knows the cell still says it"
        assert _squash(phrase) in _squash(cells[cell_id]), (
            f"{ident}: cell {cell_id} of {notebook} no longer says {phrase!r}"
        )
    elif m := TEST_REF.match(ref):
        path, name = m.groups()
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert name in functions, f"{ident}: {ref}"
    elif m := API_REF.match(ref):
        import ftkit

        assert hasattr(ftkit, m.group(1)), f"{ident}: ftkit has no public name {m.group(1)}"
    elif m := FILE_REF.match(ref):
        assert (ROOT / m.group(1)).exists(), f"{ident}: no file {m.group(1)}"
    else:
        pytest.fail(f"{ident}: cannot read the reference {ref!r} (see this test's docstring for the forms)")


def test_every_lesson_note_that_points_here_is_cited():
    cited = {(m.group(1), m.group(2)) for _, ref in _references() if (m := NOTEBOOK_REF.match(ref))}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        name = f"notebooks/{notebook.name}"
        for cell_id, source in _cells(name).items():
            if "docs/ERRATA.md" in source:
                assert (name, cell_id) in cited, (
                    f"{name} cell {cell_id} points to docs/ERRATA.md but is not cited there"
                )
