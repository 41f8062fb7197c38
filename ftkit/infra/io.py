"""Saving and loading weights safely: safetensors, atomic writes, no clobbering.

Three promises a learner can rely on:

* **Nothing earlier is lost.** A save into a file or folder that already exists stops with
  a `SaveError` unless you pass `overwrite=True`.
* **No half-written results.** Everything is written next to its final place under a
  temporary name and renamed at the very end; an interrupted save (kernel restart,
  full disk, Ctrl-C) leaves the previous result untouched.  With `overwrite=True` the old
  file or folder is replaced only once the new one is complete.
* **No code runs when a checkpoint is read.** Weights are saved with safetensors (plain
  tensors, no pickle).  Old `.pt`/`.pth` files are read only with
  `torch.load(weights_only=True)`, which refuses pickles that would run code.

`save_pretrained(folder, model, tokenizer)` wraps Hugging Face / PEFT `save_pretrained`
in the same atomic folder write.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

from ..checks import check_bool
from ..errors import ConfigError, ModelError, SaveError

__all__ = [
    "save_weights",
    "load_weights",
    "load_checkpoint",
    "read_metadata",
    "save_folder",
    "save_pretrained",
]

_PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")  # formats torch.save writes (a pickle inside)


# ---- single weight files ---------------------------------------------------------------
def save_weights(model_or_state_dict, path, overwrite: bool = False, metadata: dict | None = None) -> Path:
    """Save a model's weights (or a state dict) to a `.safetensors` file, atomically.

    `metadata` is a small dict of strings (numbers and lists are stored as JSON text),
    e.g. `{"arch": "resnet18", "classes": ["helmet", "no_helmet"]}`.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ConfigError(
            f"Weights are saved as safetensors, got the file name {str(path)!r}. Use a name ending in "
            ".safetensors."
        )
    _refuse_existing(path, overwrite)
    state = _plain_state_dict(model_or_state_dict)
    meta = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(path)
    try:
        tmp.chmod(0o666 & ~_umask())  # mkstemp makes it private (0600); give it normal file permissions
        save_file(state, str(tmp), metadata=meta or None)
        os.replace(tmp, path)  # atomic on one file system: readers see the old file or the new one
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path) -> dict:
    """Read a state dict from `.safetensors`, or from `.pt`/`.pth` with weights_only=True."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError(
            f"Checkpoint not found: {str(path)!r}. Check the path (save one with ftkit.save_weights)."
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as err:  # a truncated or foreign file
            raise ModelError(
                f"Cannot read the safetensors file {str(path)!r} ({_first_line(err)}). Save it again."
            ) from None
    if path.suffix not in _PICKLE_SUFFIXES:
        raise ModelError(
            f"Unknown checkpoint type {path.suffix!r}: {str(path)!r}. Use .safetensors (or .pt/.pth holding "
            "only tensors)."
        )
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)  # never run pickled code
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError, EOFError) as err:
        raise ModelError(
            f"Refused to load {str(path)!r}: it is not a plain-tensor checkpoint and loading it could run "
            "code "
            f"({_unpickler_reason(err)}). Only load pickles you made yourself; re-save weights with "
            "ftkit.save_weights."
        ) from None
    for key in ("state_dict", "model_state_dict", "model"):  # common training-script wrappers
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise ModelError(
            f"{str(path)!r} holds {type(obj).__name__}, not a state dict of tensors. Save "
            "model.state_dict() instead."
        )
    return obj


def load_weights(model, path, strict: bool = True):
    """Load a checkpoint into `model` (in place) and return the model."""
    state = load_checkpoint(path)
    result = model.load_state_dict(state, strict=False)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if strict and (missing or unexpected):
        raise ModelError(
            f"{str(path)!r} does not fit this model: {len(missing)} missing keys (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:2]}). Load it into the architecture it was "
            "saved from."
        )
    return model


def read_metadata(path) -> dict:
    """The metadata dict stored in a `.safetensors` file ({} when there is none)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


# ---- whole folders (Hugging Face / PEFT save_pretrained) ---------------------------------
def save_folder(fn, folder, overwrite: bool = False) -> Path:
    """Call `fn(tmp_folder)` to fill a temporary folder, then move it to `folder`.

    If `fn` fails, the temporary folder is removed and `folder` is untouched.  An existing
    `folder` raises `SaveError` unless `overwrite=True`; then it is replaced only after
    the new folder is complete.
    """
    folder = Path(folder)
    _refuse_existing(folder, overwrite)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0700); give it normal folder permissions
        fn(str(tmp))
        if folder.exists():  # overwrite=True: swap old and new, then drop the old one
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
            os.replace(folder, old / "x")
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def save_pretrained(folder, *objects, overwrite: bool = False) -> Path:
    """Atomically `save_pretrained` one or more objects (model, tokenizer, PEFT model) into `folder`."""
    if not objects:
        raise ConfigError(
            "save_pretrained needs something to save. Pass e.g. save_pretrained(folder, model, tokenizer)."
        )
    for obj in objects:
        if not hasattr(obj, "save_pretrained"):
            raise ConfigError(
                f"{type(obj).__name__} has no save_pretrained method. Use save_weights for plain torch "
                "models."
            )

    def write(tmp):
        for obj in objects:
            obj.save_pretrained(tmp)

    return save_folder(write, folder, overwrite=overwrite)


# ---- helpers -----------------------------------------------------------------------------
def write_text_atomic(path, text: str) -> Path:
    """Write a text file through a temporary sibling and a rename: never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(path)
    try:
        tmp.chmod(0o666 & ~_umask())  # mkstemp makes it private (0600); give it normal file permissions
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _refuse_existing(path: Path, overwrite: bool) -> None:
    check_bool("overwrite", overwrite)  # overwrite="no" would be truthy and replace the file
    if path.exists() and not overwrite:
        raise SaveError(
            f"{str(path)!r} already exists and would be overwritten. Choose a new name or pass "
            "overwrite=True."
        )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_sibling(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    return Path(name)


def _plain_state_dict(model_or_state_dict) -> dict:
    """Contiguous CPU tensors; tensors that share memory (tied weights) are copied once."""
    import torch

    state = (
        model_or_state_dict.state_dict()
        if hasattr(model_or_state_dict, "state_dict")
        else model_or_state_dict
    )
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ConfigError(
            "save_weights needs a torch model or a dict of tensors, got "
            f"{type(model_or_state_dict).__name__}."
        )
    out, seen = {}, set()
    for key, tensor in state.items():
        tensor = tensor.detach().to("cpu").contiguous()
        ptr = tensor.untyped_storage().data_ptr()
        if ptr in seen:  # safetensors refuses shared storage: store an independent copy
            tensor = tensor.clone()
        seen.add(ptr)
        out[key] = tensor
    return out


def _unpickler_reason(err: BaseException) -> str:
    """The useful part of torch's long weights_only error, e.g. 'Unsupported global: GLOBAL os.system'."""
    for line in str(err).splitlines():
        if "Unsupported" in line or "WeightsUnpickler error" in line:
            return line.strip().replace("WeightsUnpickler error: ", "").split(" was not an allowed")[0][:120]
    return _first_line(err)[:120]


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
