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
    roots = [os.environ.get("FTKIT_SHARED_DATA"), REPO.parent / "shared" / "datasets", "/work/shared/datasets"]
    for root in filter(None, roots):
        path = Path(root) / relative
        if path.exists():
            return path
    return None
