"""The edge between lessons and the kit: a notebook imports the core from `ftkit` (public names
only) and lesson support from its own lesson module (`ftkit.lessons.lNN_*`) or an earlier lesson's
(lesson 03 reuses lesson 02's freeze lab), nothing else of ftkit."""

import ast
from pathlib import Path

import nbformat
import pytest

import ftkit

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")
)


def kit_uses(source: str, number: str) -> list:
    """Every way `source` reaches into ftkit that breaks the edge, as readable strings."""
    bad = []
    tree = ast.parse(source)

    def lesson_ok(module: str) -> bool:  # ftkit.lessons.lMM_name with MM <= this lesson's number
        parts = module.split(".")
        return len(parts) == 3 and parts[:2] == ["ftkit", "lessons"] and parts[2][1:3] <= number

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ftkit") and alias.name != "ftkit":
                    if not lesson_ok(alias.name):
                        bad.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ftkit"):
            names = [a.name for a in node.names]
            private = [n for n in names if n.startswith("_")]
            if private:
                bad.append(f"from {node.module} import {', '.join(private)} (private)")
            elif node.module == "ftkit.lessons":
                bad += [
                    f"from ftkit.lessons import {n}" for n in names if not lesson_ok(f"ftkit.lessons.{n}")
                ]
            elif node.module == "ftkit":
                bad += [
                    f"from ftkit import {n} (not in ftkit.__all__)" for n in names if n not in ftkit.__all__
                ]
            elif not lesson_ok(node.module):
                bad.append(f"from {node.module} import {', '.join(names)}")
        elif (
            isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ftkit"
        ):
            if node.attr not in ftkit.__all__:
                bad.append(f"ftkit.{node.attr} (not in ftkit.__all__)")
    return bad


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_imports_the_core_and_its_own_lesson_module_only(path):
    nb = nbformat.read(path, as_version=4)
    number = path.stem[:2]
    bad = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            bad += [f"cell {i}: {use}" for use in kit_uses(cell.source, number)]
    assert not bad, "\n".join(bad)


def test_the_edge_check_catches_what_it_should():
    assert kit_uses("from ftkit.diagnose import diagnose", "01") == ["from ftkit.diagnose import diagnose"]
    assert kit_uses("from ftkit.lessons.l03_sentiment import x", "01") != []
    assert kit_uses("from ftkit.lessons.l03_sentiment.inner import x", "03") != []
    assert kit_uses("from ftkit.lessons.l03_sentiment import _x", "03") != []
    assert kit_uses("import ftkit\nftkit._WHERE", "01") != []
    assert kit_uses("from ftkit.lessons.l03_sentiment import compare_freezing", "03") == []
    assert kit_uses("import ftkit\nftkit.fit", "01") == []
    assert kit_uses("from ftkit.lessons import l03_sentiment", "03") == []
    assert kit_uses("from ftkit.lessons import l02_freeze_lab", "03") == []  # an earlier lesson's panel
    assert kit_uses("from ftkit.lessons import l04_lora", "03") != []  # a later lesson's code


def test_lesson_modules_are_not_imported_by_the_core():
    """minGPT's rule: the engine never depends on a lesson."""
    offenders = []
    for path in (ROOT / "ftkit").rglob("*.py"):
        if "lessons" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and "lessons" in node.module.split("."):
                offenders.append(f"{path.relative_to(ROOT)}: from {'.' * node.level}{node.module}")
    assert not offenders, "\n".join(offenders)
