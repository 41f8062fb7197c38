"""The package's shape is what docs/DESIGN.md says: every module on the map, no file too long to
read, and the engine as small as the map claims."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ftkit"
DESIGN = (ROOT / "docs" / "DESIGN.md").read_text()
MAP = DESIGN.split("```")[1]  # the first code block is the map
ENGINE = ("config", "archs", "freeze", "callbacks", "history", "train", "metrics", "diagnose")
MAX_LINES = 450


def modules():
    return [p for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")]


def test_every_module_is_on_the_map_and_every_name_on_the_map_exists():
    stems = {p.stem for p in modules()}
    missing = sorted(s for s in stems if not re.search(rf"\b{re.escape(s)}\b", MAP))
    assert not missing, f"modules missing from docs/DESIGN.md's map: {missing}"
    named = set(re.findall(r"\b(\w+)\.py\b", MAP)) - {"__init__"}
    assert named <= stems, f"the map names files that do not exist: {sorted(named - stems)}"


def test_no_file_is_too_long_to_read():
    long = {
        str(p.relative_to(ROOT)): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines (split them by responsibility): {long}"


def test_the_engine_is_as_small_as_the_map_says():
    lines = sum(len((PACKAGE / f"{name}.py").read_text().splitlines()) for name in ENGINE)
    claimed = int(
        re.search(r"the engine: read these first \(about ([\d,]+) lines\)", MAP)[1].replace(",", "")
    )
    assert abs(lines - claimed) <= 0.1 * claimed, (
        f"the engine has {lines} lines; DESIGN.md says about {claimed}"
    )
