"""`results.json`: the one file every lesson notebook writes last (the notebook contract).

    write_results(OUTPUT_DIR, lesson="01_helmet_resnet", model=loaded.name, profile=PROFILE,
                  wall_s=time.perf_counter() - t0, metrics={"val_accuracy": 0.93, "val_f1": 0.91})

`make lessons` runs every notebook and prints `results_table(out_dir)`: one row per lesson.
The file is plain JSON: NumPy/torch numbers become floats, NaN/inf become null.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigError, DataError
from .io import write_text_atomic

__all__ = ["write_results", "read_results", "results_table", "RESULTS_FILE"]

RESULTS_FILE = "results.json"  # the name `make lessons` looks for in each lesson's output folder
_RESERVED = ("lesson", "model", "profile", "wall_s", "metrics", "ftkit_version", "torch_version", "created")


def write_results(
    output_dir, lesson: str, model: str, profile: str, wall_s: float, metrics: dict, **extra
) -> Path:
    """Write OUTPUT_DIR/results.json atomically and return its path.

    `metrics` values must be numbers, bools, strings or None.  `extra` keyword arguments are
    stored too (anything JSON can hold, e.g. `history=history.to_dict()`); pass `device=`
    to record where the run happened (default: the device ftkit would pick).
    """
    if not isinstance(lesson, str) or not lesson.strip():
        raise ConfigError(
            f"write_results needs a lesson name, got {lesson!r}. Pass e.g. lesson='01_helmet_resnet'."
        )
    if not isinstance(metrics, dict):
        raise ConfigError(f"metrics must be a dict of name -> number, got {type(metrics).__name__}.")
    clean_metrics = {}
    for name, value in metrics.items():
        value = _scalar(value)
        if not isinstance(name, str) or not (value is None or isinstance(value, (bool, int, float, str))):
            raise ConfigError(
                f"Metric {name!r} has a value of type {type(value).__name__}; metrics must be numbers, "
                "bools or strings. "
                "Pass e.g. float(accuracy)."
            )
        clean_metrics[name] = _json_safe(value)
    clash = [k for k in extra if k in _RESERVED]
    if clash:
        raise ConfigError(
            f"write_results: {clash} are filled in by ftkit itself; rename your extra field(s)."
        )
    try:
        wall = None if wall_s is None else float(_scalar(wall_s))
    except (TypeError, ValueError):
        raise ConfigError(f"wall_s must be a number of seconds, got {wall_s!r}.") from None

    import torch

    device = extra.pop("device", None)
    if device is None:
        from .runtime import pick_device

        device = pick_device()
    record = {
        "lesson": lesson,
        "model": None if model is None else str(model),
        "profile": None if profile is None else str(profile),
        "wall_s": _json_safe(wall),
        "metrics": clean_metrics,
        **{k: _json_safe(v) for k, v in extra.items()},
        "device": str(device),
        "ftkit_version": _ftkit_version(),
        "torch_version": torch.__version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        text = json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"write_results: an extra field cannot be stored as JSON ({exc}). Pass plain numbers, strings, "
            "lists or dicts."
        ) from None

    # Written to a temporary file in the same folder, then renamed: readers never see half a file.
    return write_text_atomic(Path(output_dir) / RESULTS_FILE, text + "\n")


def read_results(folder) -> dict:
    """Load results.json from a folder (or the file itself)."""
    path = Path(folder)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise DataError(
            f"No {RESULTS_FILE} at {path}. Run the lesson notebook to the end first (its last cell writes "
            "it)."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc}). Delete it and run the lesson again.") from None
    if not isinstance(data, dict) or "lesson" not in data:
        raise DataError(
            f"{path} is not an ftkit results file (no 'lesson' field). Delete it and run the lesson again."
        )
    return data


def results_table(root):
    """A DataFrame with one row per results.json under `root`: lesson, model, profile,
    wall_s, then every metric as its own column, then the folder it came from."""
    import pandas as pd

    root = Path(root)
    rows = []
    for path in sorted(root.rglob(RESULTS_FILE)):
        data = read_results(path)
        row = {k: data.get(k) for k in ("lesson", "model", "profile", "wall_s")}
        row.update(data.get("metrics") or {})
        row["folder"] = str(path.parent.relative_to(root)) if path.parent != root else "."
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["lesson", "model", "profile", "wall_s", "folder"])
    table = pd.DataFrame(rows)
    columns = [c for c in table.columns if c != "folder"] + ["folder"]
    return table[columns].sort_values("lesson", kind="stable").reset_index(drop=True)


def _scalar(value):
    """NumPy and torch 0-d numbers -> Python numbers."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0 and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _json_safe(value):
    value = _scalar(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # NumPy arrays and torch tensors
        return _json_safe(value.tolist())
    return value


def _ftkit_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ftkit")
    except PackageNotFoundError:
        return "unknown"
