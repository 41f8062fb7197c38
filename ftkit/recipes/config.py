"""Read a recipe YAML (configs/*.yaml) and check it with the classes the notebooks use.

A recipe file has a `recipe:` kind and sections. Each training section is checked by the same
class a notebook builds: `TrainConfig` (helmet `head` / `finetune`), `TextRecipe` (text `train`),
`LoraSettings` + `train_sft`'s checks (sft `lora` / `train`). An unknown key or a bad value is one
`ConfigError` line, raised before a model or a data set is loaded.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import ConfigError

__all__ = ["Recipe", "load_recipe", "parse_overrides", "SECTIONS"]

KINDS = ("helmet", "text", "sft")
# Plain sections (not a config class): the keys each kind accepts.
SECTIONS = {
    "helmet": {"data": ("dir", "image_size"), "model": ("name",)},
    "text": {
        "data": ("train_file", "eval_file", "text_col", "label_col", "max_rows", "max_length"),
        "model": ("name",),
    },
    "sft": {"data": ("file", "max_records", "max_length", "eval_fraction"), "model": ("name",)},
}
CLASS_SECTIONS = {"helmet": ("head", "finetune"), "text": ("train",), "sft": ("lora", "train")}
TOP = ("recipe", "seed", "profile")


@dataclass
class Recipe:
    """A checked recipe: `kind`, plain `sections` (dicts) and the built config objects."""

    kind: str
    seed: int
    profile: str | None
    sections: dict
    configs: dict = field(default_factory=dict)  # name -> TrainConfig / TextRecipe / LoraSettings / dict
    path: str = ""

    def to_dict(self) -> dict:
        out = {"recipe": self.kind, "seed": self.seed, "profile": self.profile, **self.sections}
        for name, cfg in self.configs.items():
            out[name] = dict(cfg) if isinstance(cfg, dict) else _asdict(cfg)
        return out


def load_recipe(path, overrides=(), profile: str | None = None) -> Recipe:
    """Read `path`, apply `key=value` overrides (`head.epochs=3`), check everything."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"No recipe file {str(path)!r}. Pass one of configs/*.yaml.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise ConfigError(f"{path.name}{where} is not valid YAML: {getattr(err, 'problem', err)}.") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name} must be a mapping of sections, got {type(raw).__name__}.")
    for key, value in parse_overrides(overrides):
        _set(raw, key, value, path.name)
    recipe = build_recipe(raw, path.name)
    if profile is not None:
        recipe.profile = profile
    recipe.path = str(path)
    return recipe


def parse_overrides(items) -> list:
    """['head.epochs=3', 'seed=1'] -> [('head.epochs', 3), ('seed', 1)] (values read as YAML)."""
    import yaml

    out = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"Override {item!r} needs the form section.key=value, e.g. head.epochs=3.")
        key, text = item.split("=", 1)
        out.append((key.strip(), yaml.safe_load(text) if text.strip() else None))
    return out


def build_recipe(raw: dict, name: str = "recipe") -> Recipe:
    kind = raw.get("recipe")
    if kind not in KINDS:
        raise ConfigError(f"{name}: recipe must be one of {', '.join(KINDS)}, got {kind!r}.")
    allowed = set(TOP) | set(SECTIONS[kind]) | set(CLASS_SECTIONS[kind])
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{name}: unknown section {key!r} for recipe {kind}; known: {sorted(allowed)}.")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{name}: seed must be an integer >= 0, got {seed!r}.")
    sections = {}
    for sec, keys in SECTIONS[kind].items():
        values = _mapping(raw.get(sec), f"{name}: {sec}")
        for key in values:
            if key not in keys:
                raise ConfigError(f"{name}: unknown key {sec}.{key}; known: {', '.join(keys)}.")
        sections[sec] = {k: values.get(k) for k in keys}
    recipe = Recipe(kind=kind, seed=seed, profile=raw.get("profile"), sections=sections)
    for sec in CLASS_SECTIONS[kind]:
        recipe.configs[sec] = _build(kind, sec, _mapping(raw.get(sec), f"{name}: {sec}"), seed, name)
    return recipe


# ---- each section through its notebook class --------------------------------------------------------
def _build(kind: str, sec: str, values: dict, seed: int, name: str):
    if kind == "helmet":
        from ..config import TrainConfig

        return _construct(TrainConfig, {"seed": seed, **values}, f"{name}: {sec}")
    if kind == "text":
        from ..textcls import TextRecipe

        return _construct(TextRecipe, {"seed": seed, **values}, f"{name}: {sec}")
    if sec == "lora":
        from ..lora import LoraSettings

        return _construct(LoraSettings, {"seed": seed, **values}, f"{name}: {sec}")
    return check_sft_args(values, f"{name}: {sec}")


def _construct(cls, values: dict, where: str):
    names = [f.name for f in fields(cls)]
    for key in values:
        if key not in names:
            raise ConfigError(f"{where}: unknown key {key!r} for {cls.__name__}; known: {', '.join(names)}.")
    try:
        return cls(**values)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


# The train_sft keywords a YAML file may set (the rest are Python objects: model, data, callbacks).
SFT_KEYS = (
    "max_steps",
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "warmup_steps",
    "max_length",
    "eval_steps",
    "weight_decay",
    "activation_checkpointing",
    "train_sampling_strategy",
)


def check_sft_args(values: dict, where: str = "train") -> dict:
    """train_sft's own checks, run on the keywords alone (before a model is loaded)."""
    from ..checks import check_bool, check_choice, check_int, check_positive
    from ..sft import SAMPLING, _check_warmup, train_sft

    params = inspect.signature(train_sft).parameters
    out = {}
    for key, value in values.items():
        if key not in SFT_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} for train_sft; known: {', '.join(SFT_KEYS)}.")
        out[key] = value
    merged = {k: params[k].default for k in SFT_KEYS} | out
    try:
        check_int("max_steps", merged["max_steps"], minimum=1)
        check_int("per_device_train_batch_size", merged["per_device_train_batch_size"], minimum=1)
        check_int("gradient_accumulation_steps", merged["gradient_accumulation_steps"], minimum=1)
        check_int("max_length", merged["max_length"], minimum=8)
        check_positive("learning_rate", merged["learning_rate"], example=2e-4)
        _check_warmup(merged["warmup_steps"])
        check_positive("weight_decay", merged["weight_decay"], allow_zero=True)
        if merged["eval_steps"] is not None:
            check_int("eval_steps", merged["eval_steps"], minimum=1)
        check_bool("activation_checkpointing", merged["activation_checkpointing"])
        check_choice("train_sampling_strategy", merged["train_sampling_strategy"], SAMPLING)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    return merged


# ---- small helpers ----------------------------------------------------------------------------------
def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping of key: value, got {value!r}.")
    return dict(value)


def _set(raw: dict, key: str, value, name: str) -> None:
    parts = key.split(".")
    if len(parts) > 2 or not all(parts):
        raise ConfigError(f"Override key {key!r} must be 'key' or 'section.key', e.g. head.epochs.")
    if len(parts) == 1:
        raw[parts[0]] = value
        return
    section = raw.setdefault(parts[0], {})
    if not isinstance(section, dict):
        raise ConfigError(f"{name}: {parts[0]} is not a section, cannot set {key}.")
    section[parts[1]] = value


def _asdict(cfg) -> dict:
    return {f.name: getattr(cfg, f.name) for f in fields(cfg)}
