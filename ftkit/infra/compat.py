"""Make torchvision importable next to a CPU-only torch build.

PyPI's torchvision 0.28 wheel is built against CUDA torch.  Next to the CPU torch 2.13
wheel its compiled extension (`torchvision/_C.so`) fails to load, and then
`import torchvision` dies with "operator torchvision::nms does not exist" because
torchvision registers fake (meta) kernels for ops it expects `_C` to have defined.
That failure also breaks transformers, which imports torchvision when it is installed.

`ensure_torchvision()` fixes exactly that and nothing else:

* it tries to load torchvision's own `_C` library first, the way torchvision does; if
  that works the ops are real and the function does nothing more (a no-op on GPU
  machines and on matching CPU builds);
* otherwise it *declares* the two op schemas torchvision's Python code refers to at
  import time (`nms`, `qnms`).  Models and transforms work; calling `nms` itself would
  raise, which no lesson does.  Images are decoded with PIL, not torchvision.io.

It must run before torchvision is first imported, so every ftkit module that touches
torchvision or transformers calls it first.  It is idempotent.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys

__all__ = ["ensure_torchvision", "torchvision_status"]

_STATUS: str | None = None  # "native", "schemas-declared", "missing" or "already-imported"
_LIB = None  # keeps the torch.library.Library alive (dropping it would undefine the ops)

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)


def torchvision_status() -> str:
    """How torchvision's ops are provided: 'native', 'schemas-declared', 'missing', ..."""
    return ensure_torchvision()


def ensure_torchvision() -> str:
    """Apply the CPU-torch compatibility fix if (and only if) it is needed."""
    global _STATUS, _LIB
    if _STATUS is not None:
        return _STATUS
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        _STATUS = "missing"
        return _STATUS
    if "torchvision" in sys.modules:
        # Someone imported it before us: it either worked (ops are native) or it already failed.
        _STATUS = "already-imported"
        return _STATUS
    if _has_op(torch, "nms"):
        _STATUS = "native"
        return _STATUS
    pkg_dir = list(spec.submodule_search_locations)[0]
    for lib_path in sorted(
        glob.glob(os.path.join(pkg_dir, "_C*.so")) + glob.glob(os.path.join(pkg_dir, "_C*.pyd"))
    ):
        try:
            torch.ops.load_library(lib_path)
        except (OSError, RuntimeError):
            continue
        if _has_op(torch, "nms"):
            _STATUS = "native"
            return _STATUS
    _LIB = torch.library.Library("torchvision", "DEF")  # the library object must stay alive
    for schema in _SCHEMAS:
        _LIB.define(schema)
    _STATUS = "schemas-declared"
    return _STATUS


def _has_op(torch, name: str) -> bool:
    try:
        torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
        return True
    except RuntimeError:
        return False
