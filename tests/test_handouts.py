"""`make handouts` (ftkit.infra.handouts): student and recall copies keep every code cell, in order,
and drop what they should (outputs, predict-answers, prose); solutions never reach a handout."""

import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from ftkit.infra.cli import main
from ftkit.infra.handouts import QUESTION_TAGS, write_handouts

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SECRET = "THE-ANSWER-ONLY-A-TEACHER-SEES"  # in predict-answers and solutions, never in a handout


def tags(cell):
    return set(cell.metadata.get("tags", []))


def code(nb):
    return [c.source for c in nb.cells if c.cell_type == "code"]


def is_heading_only(text):
    return bool(text) and all(line.lstrip().startswith("#") for line in text.splitlines())


def check_handouts(lesson: nbformat.NotebookNode, student, recall):
    """What every pair of handouts of `lesson` must satisfy, whatever the lesson holds."""
    for copy in (student, recall):
        assert code(copy) == code(lesson), "every code cell is kept, in order, unchanged"
        for cell in copy.cells:
            assert "predict-answer" not in tags(cell) and "questionnaire-answers" not in tags(cell)
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
        assert "ftkit" not in copy.metadata, "the stored-run record describes outputs that were dropped"
        nbformat.validate(copy)
    # The student copy is the lesson minus the answers a teacher reveals, nothing else.
    kept = [c for c in lesson.cells if not tags(c) & {"predict-answer", "questionnaire-answers"}]
    assert [c.id for c in student.cells] == [c.id for c in kept]
    assert [c.source for c in student.cells] == [c.source for c in kept]
    # The recall copy: headings, code and question cells only, question cells whole.
    by_id = {c.id: c for c in lesson.cells}
    for cell in recall.cells:
        original = by_id[cell.id]
        if cell.cell_type == "code" or tags(cell) & set(QUESTION_TAGS):
            assert cell.source == original.source
        else:
            assert cell.cell_type == "markdown" and is_heading_only(cell.source), cell.source
            assert all(line in original.source for line in cell.source.splitlines())
    questions = [c.id for c in lesson.cells if tags(c) & set(QUESTION_TAGS)]
    assert [c.id for c in recall.cells if c.id in questions] == questions, "every question cell is kept"
    assert len(recall.cells) == len({c.id for c in recall.cells})


@pytest.fixture(scope="module")
def real_handouts(tmp_path_factory):
    out = tmp_path_factory.mktemp("handouts")
    return out, write_handouts(out)


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_real_lessons_give_a_student_and_a_recall_copy(real_handouts, lesson):
    out, written = real_handouts
    student, recall = out / "student" / lesson.name, out / "recall" / lesson.name
    assert student in written["student"] and recall in written["recall"]
    nb = nbformat.read(lesson, as_version=4)
    check_handouts(nb, nbformat.read(student, as_version=4), nbformat.read(recall, as_version=4))
    # The prose is gone from the recall copy: it is much shorter than the lesson's markdown.
    prose = sum(len(c.source) for c in nb.cells if c.cell_type == "markdown")
    kept = sum(len(c.source) for c in nbformat.read(recall, as_version=4).cells if c.cell_type == "markdown")
    assert kept < prose


def test_no_solution_is_ever_written(real_handouts):
    out, written = real_handouts
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for kind in written.values() for p in kind)
    assert {p.parts[0] for p in files} == {"student", "recall"}
    assert {p.name for p in files} == {p.name for p in LESSONS}  # lessons only, nothing from solutions/


def _hand_built_lesson() -> nbformat.NotebookNode:
    """A tiny lesson with every learner-material tag, stored outputs and a record of the stored run."""
    printed = new_code_cell("print(1 + 1)", execution_count=3, outputs=[new_output("stream", text="2\n")])
    printed.metadata["tags"] = ["nbval-check-output"]
    cells = [
        new_markdown_cell("# 99 · A test lesson\n\nWhat you will learn:\n- nothing much"),
        new_code_cell('PROFILE = None\nOUTPUT_DIR = "../outputs/99"', metadata={"tags": ["parameters"]}),
        new_markdown_cell("Plain prose between two code cells, no heading at all."),
        new_markdown_cell("**Predict first.** What will 1 + 1 print?", metadata={"tags": ["predict"]}),
        printed,
        new_markdown_cell(
            f"<details><summary>What happened</summary>{SECRET}</details>",
            metadata={"tags": ["predict-answer"]},
        ),
        new_markdown_cell("## A section\nSome prose.\n```python\n# not a heading: a comment in a fence\n```"),
        new_raw_cell("raw text"),
        new_code_cell("ftkit.write_results(OUTPUT_DIR)", execution_count=4),
        new_markdown_cell("## Exercises\nTry these.", metadata={"tags": ["exercises"]}),
        new_markdown_cell("### Exercise 1 (★)\nChange a knob.", metadata={"tags": ["exercise"]}),
        new_code_cell("answer = None\ncheck_one(answer)", metadata={"tags": ["exercise"]}),
        new_markdown_cell("## Questionnaire\n1. Why?\n2. What if?", metadata={"tags": ["questionnaire"]}),
        new_markdown_cell(f"1. {SECRET}", metadata={"tags": ["questionnaire-answers"]}),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["ftkit"] = {"code_sha256": "0" * 64, "profile": "default"}
    return nb


def test_a_lesson_with_every_tag(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "solutions").mkdir()
    lesson = _hand_built_lesson()
    nbformat.write(lesson, tmp_path / "notebooks" / "99_test.ipynb")
    answers = new_markdown_cell(f"1. {SECRET}", metadata={"tags": ["questionnaire-answers"]})
    solution = new_notebook(cells=[answers])
    nbformat.write(solution, tmp_path / "solutions" / "99_test.ipynb")
    out = tmp_path / "handouts"
    assert main(["handouts", "--out", str(out), "--notebooks", str(tmp_path / "notebooks")]) == 0
    student = nbformat.read(out / "student" / "99_test.ipynb", as_version=4)
    recall = nbformat.read(out / "recall" / "99_test.ipynb", as_version=4)
    check_handouts(lesson, student, recall)
    for path in out.rglob("*.ipynb"):
        assert SECRET not in path.read_text(), f"{path}: holds an answer"
    assert len(student.cells) == len(lesson.cells) - 2  # the predict-answer and the stray answer
    assert [c.source for c in recall.cells] == [
        "# 99 · A test lesson",
        'PROFILE = None\nOUTPUT_DIR = "../outputs/99"',
        "**Predict first.** What will 1 + 1 print?",
        "print(1 + 1)",
        "## A section",
        "ftkit.write_results(OUTPUT_DIR)",
        "## Exercises\nTry these.",
        "### Exercise 1 (★)\nChange a knob.",
        "answer = None\ncheck_one(answer)",
        "## Questionnaire\n1. Why?\n2. What if?",
    ]
    # A second run writes the same copies again (the folder is the kit's own).
    before = {p: p.read_bytes() for p in out.rglob("*.ipynb")}
    assert main(["handouts", "--out", str(out), "--notebooks", str(tmp_path / "notebooks")]) == 0
    assert {p: p.read_bytes() for p in out.rglob("*.ipynb")} == before


@pytest.mark.parametrize("where", ["out", "out/recall"])
def test_a_file_in_the_way_is_one_line_error_and_nothing_is_overwritten(tmp_path, capsys, where):
    (tmp_path / "notebooks").mkdir()
    nbformat.write(_hand_built_lesson(), tmp_path / "notebooks" / "99_test.ipynb")
    blocker = tmp_path / where
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a teacher's own file")
    code_ = main(["handouts", "--out", str(tmp_path / "out"), "--notebooks", str(tmp_path / "notebooks")])
    err = capsys.readouterr().err
    assert code_ == 2 and err.startswith("ftkit: ") and err.count("\n") == 1, err
    assert str(blocker) in err and "--out" in err
    assert blocker.read_text() == "a teacher's own file"
    assert list(tmp_path.rglob("*.ipynb")) == [tmp_path / "notebooks" / "99_test.ipynb"], "nothing written"


def test_make_handouts_writes_into_an_ignored_folder():
    makefile = (ROOT / "Makefile").read_text()
    assert "handouts:" in makefile and "-m ftkit handouts" in makefile
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "handouts/student/00_start_here.ipynb"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, "handouts/ must be in .gitignore"
