"""The exported model directory: what `ftkit serve MODEL_DIR` reads.

    model_dir/
      manifest.json   name, version, task, labels, export date, training metrics, files + checksums
      model.onnx      the graph (fp32 or INT8)
      tokenizer.json, tokenizer_config.json, ...   text models: the tokenizer, saved by transformers

A directory is written through `ftkit.io.save_folder` (a temporary sibling renamed at the
end), and the manifest records the size and SHA-256 of every file. `read_model_dir` refuses a
directory that is missing, has no manifest, or whose files do not match it (a half-written
or edited export), with one line that says what to do.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigError, ModelError
from ..infra.io import save_folder

__all__ = ["MANIFEST", "FORMAT", "ModelDir", "write_model_dir", "read_model_dir", "copy_model_dir"]

MANIFEST = "manifest.json"
FORMAT = "ftkit-onnx/1"  # bump when the layout changes, so an old server refuses a new directory
TASKS = ("text", "image")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")  # goes into URLs, headers and metric labels


@dataclass
class ModelDir:
    """A checked model directory: its path and its manifest."""

    path: Path
    manifest: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def task(self) -> str:
        return self.manifest["task"]

    @property
    def labels(self) -> list:
        return list(self.manifest["labels"])

    @property
    def onnx_path(self) -> Path:
        return self.path / self.manifest["model_file"]

    def info(self) -> dict:
        """What GET /info shows about this version."""
        keys = (
            "name",
            "version",
            "task",
            "labels",
            "exported_at",
            "metrics",
            "quantization",
            "opset",
            "preprocess",
            "source_model",
        )
        return {k: self.manifest.get(k) for k in keys}


def check_version(version) -> str:
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ConfigError(
            f"Model version {version!r} is not a short name of letters, digits, '.', '_' or '-'. "
            "Pass e.g. version='v1'."
        )
    return version


def write_model_dir(
    folder,
    fill,
    *,
    name: str,
    version: str,
    task: str,
    labels,
    preprocess: dict,
    metrics: dict | None = None,
    quantization: str = "none",
    source_model: str = "",
    overwrite: bool = False,
    extra: dict | None = None,
) -> ModelDir:
    """Create `folder` atomically: `fill(tmp)` writes model.onnx (and e.g. the tokenizer) into a
    temporary folder, then the manifest with checksums is added and the folder renamed into place."""
    check_version(version)
    if task not in TASKS:
        raise ConfigError(f"Unknown task {task!r}. Use one of {TASKS}.")
    labels = [str(x) for x in labels]
    if len(labels) < 2:
        raise ConfigError(
            f"A classifier needs at least 2 labels, got {labels}. Pass the class names in id order."
        )

    def write(tmp):
        tmp = Path(tmp)
        fill(tmp)
        model_file = tmp / "model.onnx"
        if not model_file.is_file():
            raise ModelError(f"The export wrote no model.onnx into {tmp}. Check the export function.")
        import onnx

        proto = onnx.load(str(model_file), load_external_data=False)
        manifest = {
            "format": FORMAT,
            "name": str(name),
            "version": version,
            "task": task,
            "labels": labels,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "metrics": {k: _plain(v) for k, v in (metrics or {}).items()},
            "quantization": quantization,
            "source_model": str(source_model),
            "model_file": "model.onnx",
            "opset": max(
                (o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=None
            ),
            "preprocess": preprocess,
            **(extra or {}),
            "files": {
                p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                for p in sorted(tmp.iterdir())
                if p.is_file()
            },
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    save_folder(write, folder, overwrite=overwrite)
    return read_model_dir(folder)


def read_model_dir(folder, verify: bool = True) -> ModelDir:
    """Check an exported directory (exists, manifest readable, every file present and unchanged)."""
    folder = Path(folder)
    hint = "Export one with ftkit.export_text_model / ftkit.export_image_model (lesson 07)."
    if not folder.is_dir():
        raise ModelError(f"Model directory not found: {str(folder)!r}. {hint}")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise ModelError(
            f"{str(folder)!r} has no {MANIFEST}: it is not an exported model directory, or its "
            f"export did not finish. {hint}"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelError(f"Cannot read {str(manifest_path)!r} ({err}). Export the model again.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ModelError(
            f"{str(manifest_path)!r} has format {got!r}, this ftkit reads {FORMAT!r}. "
            "Export the model again with this version of ftkit."
        )
    missing = [
        k
        for k in ("name", "version", "task", "labels", "model_file", "files", "preprocess")
        if k not in manifest
    ]
    if missing:
        raise ModelError(f"{str(manifest_path)!r} lacks {missing}. Export the model again.")
    for fname, meta in manifest["files"].items():
        path = folder / fname
        if not path.is_file():
            raise ModelError(f"{str(folder)!r} is incomplete: {fname} is missing. Export the model again.")
        if path.stat().st_size != meta.get("bytes"):
            raise ModelError(
                f"{str(path)!r} has {path.stat().st_size} bytes, the manifest says {meta.get('bytes')}: "
                "the file is half-written or was changed. Export the model again."
            )
        if verify and _sha256(path) != meta.get("sha256"):
            raise ModelError(
                f"{str(path)!r} does not match its SHA-256 in the manifest: the file was changed. "
                "Export the model again."
            )
    return ModelDir(folder, manifest)


def copy_model_dir(src, dst, *, version: str | None = None, overwrite: bool = False) -> ModelDir:
    """A copy of an exported directory, optionally under a new version name (e.g. for an A/B test)."""
    src_dir = read_model_dir(src)
    manifest = dict(src_dir.manifest)
    if version is not None:
        manifest["version"] = check_version(version)

    def write(tmp):
        for fname in manifest["files"]:
            shutil.copy2(src_dir.path / fname, Path(tmp) / fname)
        (Path(tmp) / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    save_folder(write, dst, overwrite=overwrite)
    return read_model_dir(dst)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _plain(value):
    """JSON-safe scalars (NumPy / torch numbers become Python numbers)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)
