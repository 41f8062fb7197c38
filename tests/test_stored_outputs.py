"""Lessons are committed with the outputs of a full default-profile run (issue 19), and those
outputs are fresh: made from the code the notebook holds now. After editing a lesson's code,
`python -m ftkit refresh` stores them again (every stale lesson, or the notebooks named)."""

from pathlib import Path

import nbformat
import pytest

from ftkit.infra.run_lessons import code_hash, stale_notebooks

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 2_000_000  # a lesson opens quickly on the web and in class


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def book(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_stored_outputs_come_from_the_code_the_notebook_holds(book):
    path, nb = book
    meta = nb.metadata.get("ftkit", {})
    assert meta.get("code_sha256") == code_hash(nb), (
        f"{path.name}: code changed since its outputs were stored; run `python -m ftkit refresh {path}`"
    )
    assert meta.get("profile") == "default" and meta.get("executed") and meta.get("wall_s", 0) > 0


def test_every_code_cell_ran_without_error(book):
    path, nb = book
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        assert cell.execution_count is not None, f"{path.name}: code cell {i} has no stored run"
        assert not [o for o in cell.outputs if o.output_type == "error"], f"{path.name}: code cell {i}"


def test_a_lesson_stays_small_enough_to_open_anywhere(book):
    path, _ = book
    assert path.stat().st_size <= MAX_BYTES, f"{path.name}: {path.stat().st_size / 1e6:.1f} MB"


def test_the_freshness_check_sees_a_code_change(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    before = code_hash(nb)
    next(c for c in nb.cells if c.cell_type == "code").source += "\n# edited"
    assert code_hash(nb) != before
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(nb, folder / NOTEBOOKS[0].name)
    assert stale_notebooks(folder) == [folder / NOTEBOOKS[0].name]
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("prose does not make outputs stale"))
    nb.metadata["ftkit"] = {"code_sha256": code_hash(nb)}
    nbformat.write(nb, folder / NOTEBOOKS[0].name)
    assert stale_notebooks(folder) == []


def test_stored_outputs_show_no_path_of_the_machine_that_ran_them(book):
    path, nb = book
    root = str(Path(__file__).resolve().parent.parent)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            assert "/work/" not in text and root not in text, f"{path.name}: {text[:200]!r}"


def test_paths_inside_the_kit_are_stored_relative_to_it(tmp_path):
    from ftkit.infra.run_lessons import _relative_paths

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(p)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"saved to {tmp_path}/outputs/x\n"),
        nbformat.v4.new_output(
            "execute_result", data={"text/plain": f"PosixPath('{tmp_path}/outputs/r.json')"}
        ),
        nbformat.v4.new_output("stream", name="stdout", text="/etc/hosts stays\n"),
    ]
    nb.cells = [cell]
    _relative_paths(nb, tmp_path)
    assert cell.outputs[0]["text"] == "saved to outputs/x\n"
    assert cell.outputs[1]["data"]["text/plain"] == "PosixPath('outputs/r.json')"
    assert cell.outputs[2]["text"] == "/etc/hosts stays\n"


def test_stored_runs_drop_progress_bars_and_keep_other_widgets_as_one_line():
    import nbformat

    from ftkit.infra.run_lessons import WIDGET_VIEW, _store_ready

    def widget(text):
        return nbformat.v4.new_output(
            "display_data", data={"text/plain": text, WIDGET_VIEW: {"model_id": "x"}}
        )

    cell = nbformat.v4.new_code_cell("train()")
    cell.outputs = [
        widget("  0%|          | 0/32 [00:00<?, ?it/s]"),
        widget("Map:  40%|####      | 4/10 [00:01<00:01, 3.2 examples/s]"),
        widget("IntSlider(value=0)"),
        nbformat.v4.new_output("stream", name="stdout", text="loss 0.5\n"),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    _store_ready(nb)
    kept = nb.cells[0].outputs
    assert len(kept) == 2 and kept[1]["text"] == "loss 0.5\n"
    assert WIDGET_VIEW not in kept[0]["data"] and "interactive widget" in kept[0]["data"]["text/plain"]
