"""One source of truth for lesson run times: the README's lesson table (measured with `make lessons`).

Each lesson's header, and lesson 00's map of the lessons, must quote the README's range for it.
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RANGE = re.compile(r"\d[\d.]*(?: s)?–\d[\d.]* (?:s|min)")


def _readme_times() -> dict:
    times = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `(\d\d_\w+)` \|.*\| ([^|]+) \|$", line)
        if m:
            found = RANGE.search(m.group(2))
            assert found, f"README gives no measured range for {m.group(1)}: {m.group(2)!r}"
            times[m.group(1)] = found.group(0)
    return times


def _markdown(name: str) -> list:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def test_every_lesson_is_in_the_readme_table():
    lessons = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(_readme_times()) == lessons


def test_lesson_headers_quote_the_readme_range():
    for name, time_range in _readme_times().items():
        header = _markdown(name)[0]
        assert time_range in header, f"{name}'s header should quote the README's {time_range}"
        assert not (set(RANGE.findall(header)) - {time_range}), f"{name}'s header gives another time range"


def test_lesson_00_map_quotes_the_readme_ranges():
    table = next(cell for cell in _markdown("00_start_here") if "| notebook |" in cell)
    for name, time_range in _readme_times().items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"| {time_range} |" in row, f"lesson 00's map: {row}"


def _seconds(time_range: str) -> tuple:
    """'10–55 s' -> (10, 55); '50 s–2.5 min' -> (50, 150); '1–2 min' -> (60, 120)."""
    low, high = time_range.split("–")
    high_value, high_unit = high.split()
    scale = 60 if high_unit == "min" else 1
    low_value, *low_unit = low.split()
    low_scale = 1 if low_unit == ["s"] else scale
    return float(low_value) * low_scale, float(high_value) * scale


def test_seconds_reads_the_readme_forms():
    assert _seconds("10–55 s") == (10, 55)
    assert _seconds("50 s–2.5 min") == (50, 150)
    assert _seconds("1–2 min") == (60, 120)


def test_stored_run_time_falls_in_the_readme_range():
    """The stored default-profile run (`ftkit refresh` records its wall time) is one of the measurements
    the README's range must cover: a refresh outside it means the table needs a new measured range."""
    for name, time_range in _readme_times().items():
        nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
        wall_s = nb["metadata"]["ftkit"]["wall_s"]
        low, high = _seconds(time_range)
        assert low <= wall_s <= high, f"{name}: stored run took {wall_s} s, the README says {time_range}"
