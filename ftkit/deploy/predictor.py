"""Run an exported model directory with ONNX Runtime: the same preprocessing as in training.

    clf = OnnxClassifier("outputs/07_deploy/text_v1")
    clf.predict_texts(["great room", "never again"])      # (2, n_labels) probabilities
    clf.predict_images([pil_image])                       # image models

Texts go through the tokenizer saved in the directory (truncation to the exported
`max_length`, padding to the longest text of the batch); images through ftkit's own
evaluation transform (`ftkit.images`: decode, shorter side to `image_size`, centre crop,
ImageNet normalisation), so the served model sees exactly what the validation set saw.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .modeldir import ModelDir, read_model_dir

__all__ = ["OnnxClassifier", "softmax", "session"]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def session(onnx_path, threads: int | None = None):
    """An ONNX Runtime CPU session; `threads` caps its intra-op threads (None = ORT's choice)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: ORT's warnings about unused initialisers are noise here
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


class OnnxClassifier:
    """A classifier read from an exported directory (see `ftkit.deploy.modeldir`)."""

    def __init__(self, model_dir, threads: int | None = None, verify: bool = True):
        self.dir: ModelDir = (
            model_dir if isinstance(model_dir, ModelDir) else read_model_dir(model_dir, verify)
        )
        self.session = session(self.dir.onnx_path, threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self._tokenizer = None
        self._transform = None

    # ---- what it is ---------------------------------------------------------------------------
    @property
    def task(self) -> str:
        return self.dir.task

    @property
    def labels(self) -> list:
        return self.dir.labels

    @property
    def version(self) -> str:
        return self.dir.version

    # ---- text -----------------------------------------------------------------------------------
    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self.dir.path))
        return self._tokenizer

    def encode_texts(self, texts) -> dict:
        enc = self.tokenizer(
            [str(t) for t in texts],
            truncation=True,
            padding=True,
            return_tensors="np",
            max_length=int(self.dir.manifest["preprocess"]["max_length"]),
        )
        return {name: np.asarray(enc[name], dtype=np.int64) for name in self.input_names}

    def predict_texts(self, texts, batch_size: int = 32) -> np.ndarray:
        self._need("text")
        texts = list(texts)
        out = [
            softmax(self.session.run(None, self.encode_texts(texts[i : i + batch_size]))[0])
            for i in range(0, len(texts), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), dtype=np.float32)

    # ---- images ---------------------------------------------------------------------------------
    def preprocess_image(self, image) -> np.ndarray:
        """A PIL image or a path -> one (3, H, W) float32 array, as the validation set was fed."""
        from ..data.image_files import _to_rgb, open_rgb
        from ..data.images import _eval_transform

        p = self.dir.manifest["preprocess"]
        if self._transform is None:
            self._transform = _eval_transform(int(p["image_size"]), p["mean"], p["std"])
        image = _to_rgb(image) if hasattr(image, "mode") else open_rgb(image, int(p["image_size"]))
        return self._transform(image).numpy()

    def predict_arrays(self, pixels: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Probabilities for a preprocessed (N, 3, H, W) float32 batch."""
        self._need("image")
        name = self.input_names[0]
        out = [
            softmax(
                self.session.run(
                    None, {name: np.ascontiguousarray(pixels[i : i + batch_size], dtype=np.float32)}
                )[0]
            )
            for i in range(0, len(pixels), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), dtype=np.float32)

    def predict_images(self, images, batch_size: int = 32) -> np.ndarray:
        self._need("image")
        return self.predict_arrays(np.stack([self.preprocess_image(im) for im in images]), batch_size)

    def _need(self, task: str) -> None:
        if self.task != task:
            raise ConfigError(
                f"{self.dir.path} holds a {self.task} model, not a {task} model. "
                f"Use predict_{'texts' if self.task == 'text' else 'images'} instead."
            )
