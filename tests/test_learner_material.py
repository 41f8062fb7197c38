"""Every lesson gives learners more than runnable cells (issue 19, docs/NOTEBOOKS.md "Learner
material"): predict-first prompts with answers revealed after the run, expected ranges, 3-5
exercises of rising difficulty with `check_*` helpers, a questionnaire, and a solutions
notebook (`solutions/NN_name.ipynb`) that `make test` runs, so solutions never rot."""

import ast
import importlib
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISE = re.compile(r"^### Exercise (\d+) \((★+)\)", re.M)
NUMBERED = re.compile(r"^\s*(\d+)\.\s+\S", re.M)


def tagged(nb, tag, kind=None):
    return [
        c for c in nb.cells if tag in c.metadata.get("tags", []) and (kind is None or c.cell_type == kind)
    ]


def checks_module(path):
    mods = sorted((ROOT / "ftkit" / "lessons").glob(f"l{path.stem[:2]}_exercises.py"))
    assert mods, f"{path.stem}: no ftkit/lessons/l{path.stem[:2]}_exercises.py with its check_* helpers"
    return importlib.import_module(f"ftkit.lessons.{mods[0].stem}")


def called_checks(nb):
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call):
                    fn = node.func
                    name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                    if name.startswith("check_"):
                        names.add(name)
    return names


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def book(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_predict_first_prompts_come_before_the_run_and_answers_after(book):
    path, nb = book
    prompts = tagged(nb, "predict", "markdown")
    answers = tagged(nb, "predict-answer", "markdown")
    assert len(prompts) >= 2, f"{path.stem}: at least two predict-first prompts"
    assert len(answers) == len(prompts)
    for p, a in zip(prompts, answers, strict=True):
        i, j = nb.cells.index(p), nb.cells.index(a)
        assert "**Predict first.**" in p.source and "<details>" in a.source
        assert any(c.cell_type == "code" for c in nb.cells[i:j]), "the experiment runs between them"


def test_results_that_vary_say_the_range_measured_here(book):
    path, nb = book
    assert any("**Expected here:**" in c.source for c in nb.cells if c.cell_type == "markdown"), path.stem


def test_exercises_rise_in_difficulty_and_are_checked_in_the_notebook(book):
    path, nb = book
    head = tagged(nb, "exercises", "markdown")
    assert len(head) == 1 and head[0].source.startswith("## Exercises")
    text = "\n".join(c.source for c in tagged(nb, "exercise", "markdown"))
    found = EXERCISE.findall(text)
    assert 3 <= len(found) <= 5, f"{path.stem}: 3-5 exercises, found {len(found)}"
    assert [int(n) for n, _ in found] == list(range(1, len(found) + 1))
    stars = [len(s) for _, s in found]
    assert stars == sorted(stars) and stars[0] < stars[-1], "rising difficulty"
    results = max(i for i, c in enumerate(nb.cells) if "write_results(" in c.source)
    assert nb.cells.index(head[0]) > results, "exercises come after the lesson's results cell"
    mod = checks_module(path)
    helpers = {n for n in dir(mod) if n.startswith("check_")}
    assert len(helpers) >= 2 and helpers <= called_checks(nb)


def test_a_questionnaire_of_8_to_15_questions(book):
    path, nb = book
    cells = tagged(nb, "questionnaire", "markdown")
    assert len(cells) == 1 and cells[0].source.startswith("## Questionnaire")
    assert 8 <= len(NUMBERED.findall(cells[0].source)) <= 15, path.stem


def test_the_solutions_notebook_answers_everything(book):
    path, nb = book
    sol_path = ROOT / "solutions" / path.name
    assert sol_path.exists(), f"no solutions/{path.name}"
    sol = nbformat.read(sol_path, as_version=4)
    lesson_ex = EXERCISE.findall("\n".join(c.source for c in tagged(nb, "exercise", "markdown")))
    sol_ex = EXERCISE.findall("\n".join(c.source for c in sol.cells if c.cell_type == "markdown"))
    assert sol_ex == lesson_ex, "the same exercises, in the same order"
    asserted = set()
    for cell in sol.cells:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Assert) and isinstance(node.test, ast.Call):
                    fn = node.test.func
                    asserted.add(fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", ""))
    helpers = {n for n in dir(checks_module(path)) if n.startswith("check_")}
    assert helpers <= asserted, f"solutions/{path.name} must `assert check_...` for {helpers - asserted}"
    questions = NUMBERED.findall(tagged(nb, "questionnaire", "markdown")[0].source)
    answers = tagged(sol, "questionnaire-answers", "markdown")
    assert len(answers) == 1 and len(NUMBERED.findall(answers[0].source)) == len(questions)
    assert len(tagged(sol, "parameters", "code")) == 1
