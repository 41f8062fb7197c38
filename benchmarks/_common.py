"""What every benchmark shares: finding the real data sets that live outside the repo."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared_data(relative: str) -> Path | None:
    """`relative` (e.g. "helmet_heads") inside the shared data sets, or None when absent.

    Looked up in $FTKIT_SHARED_DATA, then ../shared/datasets next to the repo, then
    /work/shared/datasets. The data is never copied into the repo; tests never need it.
    """
    roots = [
        os.environ.get("FTKIT_SHARED_DATA"),
        REPO.parent / "shared" / "datasets",
        "/work/shared/datasets",
    ]
    for root in filter(None, roots):
        path = Path(root) / relative
        if path.exists():
            return path
    return None


def shared_data_or_skip(relative: str) -> Path | None:
    """`shared_data(relative)`, printing the one SKIP line a benchmark gives when it is absent."""
    path = shared_data(relative)
    if path is None:
        print(
            f"SKIP: real data not found (../shared/datasets/{relative} or $FTKIT_SHARED_DATA); "
            "nothing measured."
        )
    return path


def machine_line() -> str:
    """Cores, processor, torch version and UTC time: the context every result needs."""
    import datetime as dt
    import platform

    import torch

    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), torch {torch.__version__}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


def append_results(heading: str, body: str) -> None:
    """Append one section (heading, machine line, body) to benchmarks/RESULTS.md."""
    with open(REPO / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as f:
        f.write(f"\n## {heading}\n{machine_line()}. {body}\n")
