"""PyTorch -> ONNX: export a fine-tuned classifier into a servable directory, then check parity.

    d = export_text_model(model, tokenizer, out / "text_v1", name="sentiment", version="v1",
                          metrics={"test_accuracy": 0.91})
    text_parity(model, tokenizer, d.path, texts)      # max |logit difference|, labels that agree

    d = export_image_model(model, out / "helmet_v1", name="helmet", version="v1", labels=classes,
                           image_size=128)
    image_parity(model, d.path, data.test)

On torch 2.13 `torch.onnx.export` uses the torch.export-based ("dynamo") exporter by default,
which needs the `onnxscript` package; `dynamo=False` still selects the older TorchScript
exporter, with a DeprecationWarning. We use the default. Batch and sequence length are
dynamic axes: one file serves 1 text or 64, of any length up to `max_length`.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .modeldir import ModelDir, write_model_dir

__all__ = [
    "export_text_model",
    "export_image_model",
    "text_parity",
    "image_parity",
    "describe_onnx",
    "torch_text_probs",
    "torch_image_probs",
    "OPSET",
]

OPSET = 18  # the dynamo exporter's own opset on torch 2.13; ORT 1.32 runs it and quantizes it


def _export(module, args, path: Path, input_names, dynamic_shapes) -> None:
    import torch

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # "[torch.onnx] ..." progress
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=input_names,
            output_names=["logits"],
            dynamic_shapes=dynamic_shapes,
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
        )  # one self-contained file (our models are far below 2 GB)


def _text_logits(model):
    """Wrap a Hugging Face classifier so the graph takes two plain tensors and returns the logits."""
    import torch

    class TextLogits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    return TextLogits(model).eval()


@contextlib.contextmanager
def _eval_mode(model):
    """Export and compare in eval mode (no dropout), then give the model back as it was."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def export_text_model(
    model,
    tokenizer,
    folder,
    *,
    name: str,
    version: str = "v1",
    labels=None,
    max_length: int = 128,
    metrics: dict | None = None,
    source_model: str = "",
    overwrite: bool = False,
) -> ModelDir:
    """Export a `...ForSequenceClassification` model and its tokenizer to `folder` (atomically)."""
    import torch

    if labels is None:
        id2label = getattr(model.config, "id2label", None) or {}
        labels = [id2label[i] for i in sorted(id2label)]
    if not 8 <= int(max_length) <= 4096:
        raise ConfigError(f"max_length={max_length} is outside 8..4096 tokens. Pass e.g. max_length=128.")
    sample = tokenizer(
        ["a short text", "a somewhat longer text to pad the first one"], padding=True, return_tensors="pt"
    )
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence", max=int(max_length))

    def fill(tmp: Path):
        with _eval_mode(model):
            _export(
                _text_logits(model),
                (sample["input_ids"], sample["attention_mask"]),
                tmp / "model.onnx",
                ["input_ids", "attention_mask"],
                ({0: batch, 1: seq}, {0: batch, 1: seq}),
            )
        tokenizer.save_pretrained(str(tmp))

    return write_model_dir(
        folder,
        fill,
        name=name,
        version=version,
        task="text",
        labels=labels,
        preprocess={"max_length": int(max_length)},
        metrics=metrics,
        source_model=source_model or getattr(model, "name_or_path", ""),
        overwrite=overwrite,
    )


def export_image_model(
    model,
    folder,
    *,
    name: str,
    labels,
    image_size: int,
    version: str = "v1",
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    metrics: dict | None = None,
    source_model: str = "",
    overwrite: bool = False,
) -> ModelDir:
    """Export an image classifier taking (N, 3, image_size, image_size) normalised pixels."""
    import torch

    sample = torch.zeros(2, 3, int(image_size), int(image_size))

    def fill(tmp: Path):
        with _eval_mode(model):
            _export(model, (sample,), tmp / "model.onnx", ["pixel_values"], ({0: torch.export.Dim("batch")},))

    preprocess = {
        "image_size": int(image_size),
        "mean": [float(m) for m in mean],
        "std": [float(s) for s in std],
    }
    return write_model_dir(
        folder,
        fill,
        name=name,
        version=version,
        task="image",
        labels=labels,
        preprocess=preprocess,
        metrics=metrics,
        source_model=source_model,
        overwrite=overwrite,
    )


# ---- parity: does ONNX Runtime give the same answers as PyTorch? ------------------------------------
def torch_text_probs(model, tokenizer, texts, max_length: int = 128, batch_size: int = 32) -> np.ndarray:
    """PyTorch probabilities with the same tokenisation the exported model uses."""
    import torch

    out = []
    with _eval_mode(model), torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(
                [str(t) for t in texts[i : i + batch_size]],
                truncation=True,
                padding=True,
                max_length=max_length,
                return_tensors="pt",
            )
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            out.append(torch.softmax(logits.float(), -1).numpy())
    return np.concatenate(out)


def torch_image_probs(model, pixels: np.ndarray, batch_size: int = 32) -> np.ndarray:
    import torch

    out = []
    with _eval_mode(model), torch.no_grad():
        for i in range(0, len(pixels), batch_size):
            out.append(torch.softmax(model(torch.from_numpy(pixels[i : i + batch_size])).float(), -1).numpy())
    return np.concatenate(out)


def _parity(p_torch: np.ndarray, p_onnx: np.ndarray, tolerance: float) -> dict:
    agree = p_torch.argmax(1) == p_onnx.argmax(1)
    diff = float(np.abs(p_torch - p_onnx).max()) if len(p_torch) else 0.0
    return {
        "examples": int(len(agree)),
        "labels_agree": int(agree.sum()),
        "all_labels_agree": bool(agree.all()),
        "max_prob_diff": diff,
        "tolerance": tolerance,
        "within_tolerance": diff <= tolerance,
    }


def text_parity(model, tokenizer, model_dir, texts, tolerance: float = 1e-4) -> dict:
    """Compare PyTorch and ONNX Runtime probabilities on `texts` (e.g. the whole test split)."""
    from .predictor import OnnxClassifier

    clf = OnnxClassifier(model_dir)
    texts = [str(t) for t in texts]
    max_length = int(clf.dir.manifest["preprocess"]["max_length"])
    return _parity(torch_text_probs(model, tokenizer, texts, max_length), clf.predict_texts(texts), tolerance)


def image_parity(model, model_dir, dataset, tolerance: float = 1e-4) -> dict:
    """Compare PyTorch and ONNX Runtime probabilities on an image dataset (its paths are re-read)."""
    from .predictor import OnnxClassifier

    clf = OnnxClassifier(model_dir)
    pixels = np.stack([clf.preprocess_image(p) for p in dataset.paths])
    return _parity(torch_image_probs(model, pixels), clf.predict_arrays(pixels), tolerance)


def describe_onnx(path) -> dict:
    """Inputs, outputs (names, element types, shapes with named dynamic axes), opset, size, operators."""
    import onnx

    path = Path(path)
    if path.is_dir():
        path = path / "model.onnx"
    proto = onnx.load(str(path))

    def shape(value):
        dims = value.type.tensor_type.shape.dim
        return [d.dim_param or d.dim_value for d in dims]

    def row(value):
        elem = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        return {"name": value.name, "dtype": str(elem), "shape": shape(value)}

    ops: dict = {}
    for node in proto.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    top = sorted(ops.items(), key=lambda kv: -kv[1])[:8]
    return {
        "file": path.name,
        "size_mb": round(path.stat().st_size / 1e6, 2),
        "opset": max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
        "inputs": [row(v) for v in proto.graph.input],
        "outputs": [row(v) for v in proto.graph.output],
        "nodes": len(proto.graph.node),
        "top_operators": dict(top),
    }
