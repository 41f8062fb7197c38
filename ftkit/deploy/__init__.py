"""Shipping a fine-tuned model (lesson 07): ONNX export, INT8, an HTTP service, a load test.

    from ftkit.deploy import export_text_model, quantize_dynamic_dir, ServerProcess, load_test

Modules: `modeldir` (the exported folder and its manifest), `export` (PyTorch -> ONNX, parity),
`quantize` (ORT INT8), `timing` (the side-by-side table), `predictor` (ORT inference),
`server` + `metrics` (FastAPI, Prometheus), `client` (server process, load test), `cli`.
The lesson's own plumbing (training the two models it ships) is in ftkit/lessons/l07_deploy.py.
Names load lazily: importing this package imports neither torch nor ONNX Runtime.
"""

from __future__ import annotations

from importlib import import_module

_API = {
    "modeldir": ["ModelDir", "read_model_dir", "write_model_dir", "copy_model_dir"],
    "export": [
        "export_text_model",
        "export_image_model",
        "text_parity",
        "image_parity",
        "describe_onnx",
        "torch_text_probs",
        "torch_image_probs",
    ],
    "quantize": ["quantize_dynamic_dir", "quantize_static_dir", "cpu_flags"],
    "timing": ["compare_runtimes", "speedups"],
    "predictor": ["OnnxClassifier"],
    "server": ["ServeConfig", "create_app", "serve"],
    "client": ["ServerProcess", "load_test", "free_port"],
}
_WHERE = {name: module for module, names in _API.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ftkit.deploy' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
