"""PEFT beyond LoRA: (IA)3 and prefix tuning, wired like LoRA (`ftkit.lora`), through the PEFT library.

    settings = peft_settings("ia3", task_type="SEQ_CLS")    # or "lora", "prefix"; knobs by PEFT's names
    model = apply_peft(make_model(), settings)               # prints what trains and its share

The three methods freeze the pretrained model and train something small next to it:
    lora    a low-rank update B A added to chosen weight matrices (`LoraSettings`, `ftkit.lora`)
    ia3     (IA)3, Liu et al. 2022: one learned vector per adapted layer that rescales its
            activations elementwise (keys, values, and the feed-forward input); it starts at 1
            (the model starts unchanged) and is the smallest of the three
    prefix  prefix tuning, Li & Liang 2021: `num_virtual_tokens` learned key/value vectors
            prepended in EVERY attention layer, as if the text began with that many extra tokens
            that only the model can see; the weights are untouched
For a classifier (`task_type="SEQ_CLS"`) PEFT also trains the new classifier head in full with
every method (it is new: an adapter cannot turn random weights into a head).
On the pinned PEFT 0.21 / transformers 5.23 the three run on a BERT encoder (checked by
tests/test_peft_methods.py: the prefix changes the logits and receives a gradient).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .checks import check_bool, check_int
from .errors import ConfigError
from .lora import LoraSettings, PeftShared, _names, lora_config, trainable_share, wrap_with_peft

__all__ = ["PEFT_METHODS", "IA3Settings", "PrefixSettings", "peft_settings", "peft_config", "apply_peft"]


@dataclass
class IA3Settings(PeftShared):
    """(IA)3's knobs (the names of `peft.IA3Config`), checked before any slow work."""

    target_modules: list | None = field(
        default=None,
        metadata={
            "help": "names (or name endings like 'output.dense') of the layers that get a "
            "vector; None = PEFT's choice for the architecture (BERT: key, value, output.dense)"
        },
    )
    feedforward_modules: list | None = field(
        default=None,
        metadata={
            "help": "the target_modules whose INPUT is rescaled (feed-forward layers); the "
            "others rescale their output. None = PEFT's choice (BERT: output.dense)"
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.target_modules is not None:
            self.target_modules = _names("target_modules", self.target_modules)
        if self.feedforward_modules is not None:
            self.feedforward_modules = _names("feedforward_modules", self.feedforward_modules)
            extra = set(self.feedforward_modules) - set(self.target_modules or self.feedforward_modules)
            if extra or self.target_modules is None:
                raise ConfigError(
                    f"feedforward_modules {sorted(extra) or self.feedforward_modules} must also be in "
                    "target_modules. Pass both lists, or neither (PEFT's choice)."
                )

    def check_targets(self, model):
        """ConfigError if a target name matches no module of `model` (PEFT would fail later)."""
        names = [n for n, _ in model.named_modules()]
        missing = [t for t in self.target_modules or () if not any(n.endswith(t) for n in names)]
        if missing:
            from .lora import linear_module_names

            raise ConfigError(
                f"target_modules {missing} not found in {type(model).__name__}. "
                f"Its linear layers are: {', '.join(linear_module_names(model))}."
            )


@dataclass
class PrefixSettings(PeftShared):
    """Prefix tuning's knobs (the names of `peft.PrefixTuningConfig`), checked before any slow work."""

    num_virtual_tokens: int = field(
        default=20,
        metadata={"help": "learned key/value pairs prepended in every attention layer; 10-30 is usual"},
    )
    prefix_projection: bool = field(
        default=False,
        metadata={
            "help": "True learns the prefix through a 2-layer MLP (the paper's reparametrisation, "
            "steadier, many more trainable weights while training)"
        },
    )

    def __post_init__(self):
        super().__post_init__()
        check_int("num_virtual_tokens", self.num_virtual_tokens, minimum=1)
        check_bool("prefix_projection", self.prefix_projection)


# method name -> its settings class; `LoraSettings` lives in ftkit.lora, the one LoRA home
PEFT_METHODS = {"lora": LoraSettings, "ia3": IA3Settings, "prefix": PrefixSettings}
_TITLES = {"lora": "LoRA", "ia3": "(IA)3", "prefix": "prefix tuning"}


def peft_settings(method: str, **knobs):
    """The settings of a PEFT method by name: peft_settings("ia3", task_type="SEQ_CLS")."""
    if method not in PEFT_METHODS:
        raise ConfigError(
            f"Unknown PEFT method {method!r}. Use one of: {', '.join(map(repr, PEFT_METHODS))} "
            "(e.g. peft_settings('ia3', task_type='SEQ_CLS'))."
        )
    return PEFT_METHODS[method](**knobs)


def _method(settings) -> str:
    for name, cls in PEFT_METHODS.items():
        if type(settings) is cls:
            return name
    raise ConfigError(
        f"apply_peft takes LoraSettings, IA3Settings or PrefixSettings, got {type(settings).__name__}. "
        "Use ftkit.peft_settings('ia3', ...)."
    )


def peft_config(settings, model):
    """The PEFT config object (`LoraConfig`, `IA3Config`, `PrefixTuningConfig`) for `settings` on `model`."""
    method = _method(settings)
    if method == "lora":
        return lora_config(settings, model)
    common = dict(task_type=settings.task_type, modules_to_save=settings.modules_to_save)
    if method == "ia3":
        from peft import IA3Config

        settings.check_targets(model)
        return IA3Config(
            target_modules=settings.target_modules, feedforward_modules=settings.feedforward_modules, **common
        )
    from peft import PrefixTuningConfig

    hidden = getattr(model.config, "hidden_size", None)  # the MLP's width when prefix_projection=True
    return PrefixTuningConfig(
        num_virtual_tokens=settings.num_virtual_tokens,
        prefix_projection=settings.prefix_projection,
        encoder_hidden_size=hidden,
        **common,
    )


def apply_peft(model, settings, verbose: bool = True):
    """Freeze `model` and wire the PEFT method of `settings` into it: returns the `PeftModel`.

    LoraSettings go to `ftkit.apply_lora` (same result); the others through the same seeded
    `get_peft_model`.  `verbose` prints what trains and its share, as `apply_lora` does.
    """
    method = _method(settings)
    if method == "lora":
        from .lora import apply_lora

        return apply_lora(model, settings, verbose=verbose)
    config = peft_config(settings, model)
    peft_model = wrap_with_peft(model, config, settings.seed)
    if verbose:
        share = trainable_share(peft_model)
        print(
            f"{_TITLES[method]} {_where(peft_model, method)}: {share['trainable']:,} trainable of "
            f"{share['total']:,} parameters ({share['percent']:.3f}%)"
        )
    return peft_model


def _where(peft_model, method) -> str:
    """What the method trains, in words: the adapted layers, or the prefix's size."""
    config = peft_model.peft_config["default"]
    if method == "prefix":
        return f"{config.num_virtual_tokens} virtual tokens x {config.num_layers} layers"
    adapted = []
    for name, module in peft_model.named_modules():
        if hasattr(module, "ia3_l"):
            short = name.split(".layer.")[-1].split(".", 1)[-1] if ".layer." in name else name
            if short not in adapted:
                adapted.append(short)
    ff = sorted(config.feedforward_modules) if config.feedforward_modules else []
    return f"on {', '.join(adapted)} (input rescaled where the name ends in {', '.join(ff) or '-'})"
