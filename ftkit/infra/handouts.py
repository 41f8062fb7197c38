"""Teacher handouts (`make handouts`): a student copy and a recall copy of every lesson.

For each lesson `notebooks/NN_name.ipynb` two notebooks are written into an ignored folder:

* `student/NN_name.ipynb`: the lesson as a learner gets it in class: every cell, but no stored
  output and no execution count, and without the `predict-answer` cells (the teacher reveals
  those after the class has run the experiment).
* `recall/NN_name.ipynb`: for practising recall (fastbook's "clean" notebooks): the headings
  (each markdown cell reduced to its heading lines), every code cell without outputs, and the
  question cells kept whole (`predict`, `exercises`, `exercise`, `questionnaire`).

Solutions (`solutions/`) are never read, so they can never end up in a handout; a lesson cell
tagged `questionnaire-answers` or `solution` would be dropped too.  Copies are written only
after every target has been checked, so a bad `--out` stops before anything is overwritten.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from ..errors import ConfigError

__all__ = ["QUESTION_TAGS", "recall_copy", "student_copy", "write_handouts"]

QUESTION_TAGS = ("predict", "exercises", "exercise", "questionnaire")  # kept whole in the recall copy
TEACHER_TAGS = ("predict-answer",)  # revealed by the teacher: not in a student copy
ANSWER_TAGS = ("questionnaire-answers", "solution")  # belong in solutions/, never in a handout
KINDS = ("student", "recall")
_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _headings(markdown: str) -> str:
    """The ATX heading lines (`# ...` to `###### ...`) of a markdown text, outside code fences."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and _HEADING.match(line):
            lines.append(line.strip())
    return "\n".join(lines)


def _clear(cell):
    """A copy of a cell with no outputs, execution count or execution timing."""
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
    return cell


def _copy_without_cells(nb):
    out = copy.deepcopy(nb)
    out.cells = []
    for key in ("ftkit", "widgets", "papermill"):  # stored-run records: they describe outputs we drop
        out.metadata.pop(key, None)
    return out


def student_copy(nb):
    """The lesson without outputs, execution counts and predict-answer cells (everything else kept)."""
    out = _copy_without_cells(nb)
    out.cells = [_clear(c) for c in nb.cells if not _tags(c) & {*TEACHER_TAGS, *ANSWER_TAGS}]
    return out


def recall_copy(nb):
    """Headings, every code cell (no outputs) and the question cells, in the lesson's order."""
    out = _copy_without_cells(nb)
    for cell in nb.cells:
        tags = _tags(cell)
        if tags & {*TEACHER_TAGS, *ANSWER_TAGS}:
            continue
        if cell.cell_type == "code" or tags & set(QUESTION_TAGS):
            out.cells.append(_clear(cell))
        elif cell.cell_type == "markdown" and (heads := _headings(cell.source)):
            short = _clear(cell)
            short.source = heads
            short.pop("attachments", None)  # images belong to the prose that was dropped
            out.cells.append(short)
    return out


def _check_folder(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"The handouts folder is a file: {path}. Pass --out a folder (new or one made by "
            "`ftkit handouts`); nothing was written."
        )


def write_handouts(out_dir, notebooks_dir=None) -> dict[str, list[Path]]:
    """Write `out_dir/student/` and `out_dir/recall/` copies of every lesson; returns the paths by kind."""
    import nbformat

    from .paths import repo_root
    from .run_lessons import lesson_notebooks

    out_dir = Path(out_dir)
    lessons = lesson_notebooks(Path(notebooks_dir) if notebooks_dir else repo_root() / "notebooks")
    # Every check before the first write: a bad target leaves everything as it was.
    _check_folder(out_dir)
    for kind in KINDS:
        _check_folder(out_dir / kind)
        for lesson in lessons:
            target = out_dir / kind / lesson.name
            if target.exists() and not target.is_file():
                raise ConfigError(
                    f"A handout's place is taken by a folder: {target}. Remove it or pass another --out."
                )
    books = {lesson: nbformat.read(lesson, as_version=4) for lesson in lessons}
    written: dict[str, list[Path]] = {kind: [] for kind in KINDS}
    for kind, make in (("student", student_copy), ("recall", recall_copy)):
        (out_dir / kind).mkdir(parents=True, exist_ok=True)
        for lesson, nb in books.items():
            target = out_dir / kind / lesson.name
            nbformat.write(make(nb), target)
            written[kind].append(target)
    return written
