"""INT8 with ONNX Runtime: dynamic for text models, static (calibrated) for CNNs.

    q = quantize_dynamic_dir(text_dir, out / "text_int8")               # MatMul weights -> int8
    q = quantize_static_dir(image_dir, out / "helmet_int8", data.val)   # Conv too, calibrated

*Dynamic* quantisation stores the weights of MatMul/Gemm as int8 and quantises activations
on the fly, batch by batch: no data needed, and it is what helps a Transformer. It does not
touch convolutions (ORT's dynamic mode quantises Conv only as ConvInteger, which has no fast
CPU kernel), so a CNN gets *static* quantisation: a few hundred calibration images fix the
activation ranges ahead of time, and ORT runs int8 Conv kernels.

Whether int8 is faster depends on the CPU: x86 cores with VNNI (AVX512-VNNI or AVX-VNNI) have
an int8 dot-product instruction; without it ORT's int8 kernels can be slower than fp32.
`cpu_flags()` says what this machine has.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .modeldir import ModelDir, read_model_dir, write_model_dir

__all__ = ["quantize_dynamic_dir", "quantize_static_dir", "cpu_flags"]

_FLAGS = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX512-VNNI",
    "avx_vnni": "AVX-VNNI",
    "amx_int8": "AMX-INT8",
}


def cpu_flags() -> dict:
    """The int8-relevant x86 flags of this CPU (from /proc/cpuinfo) and a one-line verdict."""
    flags: set = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    found = {label: name in flags for name, label in _FLAGS.items()}
    vnni = found["AVX512-VNNI"] or found["AVX-VNNI"] or found["AMX-INT8"]
    if not flags:
        verdict = "no /proc/cpuinfo flags (not Linux x86): measure, do not assume"
    elif vnni:
        verdict = "VNNI present: int8 matrix products have a fast path, expect INT8 to be faster"
    else:
        verdict = "no VNNI: int8 kernels emulate the dot product, INT8 may be no faster (or slower) than fp32"
    return {**found, "vnni": vnni, "verdict": verdict}


def _derived(
    src: ModelDir, dst, quantize, quantization: str, version: str | None, overwrite: bool
) -> ModelDir:
    """Write a quantised copy of `src` (same tokenizer files, same labels and metrics)."""
    m = src.manifest

    def fill(tmp: Path):
        for fname in m["files"]:
            if fname != m["model_file"]:
                shutil.copy2(src.path / fname, tmp / fname)
        with tempfile.TemporaryDirectory() as work:
            quantize(Path(work), tmp / "model.onnx")

    return write_model_dir(
        dst,
        fill,
        name=m["name"],
        version=version or f"{m['version']}-int8",
        task=m["task"],
        labels=m["labels"],
        preprocess=m["preprocess"],
        metrics=m.get("metrics"),
        quantization=quantization,
        source_model=m.get("source_model", ""),
        overwrite=overwrite,
        extra={"quantized_from": m["version"]},
    )


def _preprocessed(src: ModelDir, work: Path) -> Path:
    """ORT's recommended pre-step: shape inference + graph optimisation before quantising."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = work / "pre.onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        quant_pre_process(str(src.onnx_path), str(out), skip_symbolic_shape=True)
    return out


def quantize_dynamic_dir(model_dir, out_dir, version: str | None = None, overwrite: bool = False) -> ModelDir:
    """Dynamic INT8: int8 weights for MatMul/Gemm, activations quantised per batch at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = read_model_dir(model_dir)

    def quantize(work: Path, target: Path):
        quantize_dynamic(
            str(_preprocessed(src, work)),
            str(target),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm"],
        )

    return _derived(
        src,
        out_dir,
        quantize,
        "dynamic-int8 (MatMul/Gemm weights int8, activations per batch)",
        version,
        overwrite,
    )


def quantize_static_dir(
    model_dir,
    out_dir,
    calibration,
    version: str | None = None,
    max_images: int = 200,
    overwrite: bool = False,
) -> ModelDir:
    """Static INT8 (QDQ, per-channel weights, min/max calibration) for an image model.

    `calibration`: an image dataset with `.paths` (use the *validation* images, never the test
    set), a list of image paths, or a preprocessed (N, 3, H, W) array.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from .predictor import OnnxClassifier

    src = read_model_dir(model_dir)
    if src.task != "image":
        raise ConfigError(
            f"{src.path} is a {src.task} model; static quantisation here is for image models. "
            "Use quantize_dynamic_dir for text."
        )
    if isinstance(calibration, np.ndarray):
        pixels = calibration[:max_images]
    else:
        paths = list(getattr(calibration, "paths", calibration))[:max_images]
        if not paths:
            raise ConfigError(
                "No calibration images. Pass the validation dataset (data.val) or a list of paths."
            )
        clf = OnnxClassifier(src)
        pixels = np.stack([clf.preprocess_image(p) for p in paths])
    input_name = "pixel_values"

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(
                [{input_name: pixels[i : i + 16].astype(np.float32)} for i in range(0, len(pixels), 16)]
            )

        def get_next(self):
            return next(self.batches, None)

    def quantize(work: Path, target: Path):
        quantize_static(
            str(_preprocessed(src, work)),
            str(target),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )

    return _derived(
        src,
        out_dir,
        quantize,
        f"static-int8 (QDQ, per-channel weights, MinMax calibration on {len(pixels)} images)",
        version,
        overwrite,
    )
