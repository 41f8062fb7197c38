"""LoRA, the one home: settings, wiring a model with PEFT, saving, reloading, merging, checking.

    settings = LoraSettings(r=8, lora_alpha=32, lora_dropout=0.1, target_modules="attention q,v")
    model = apply_lora(loaded.model, settings)                 # prints the trainable share
    ...train it: ftkit.train_sft (a chat model) or ftkit.train_text (a classifier)...
    save_adapter(model, "out/adapter"); tuned = load_adapter(fresh_base, "out/adapter")
    merged = merge(tuned); print(logits_agree(tuned, merged, batch))

Both kinds of model the lessons tune go through the same settings (PEFT's `task_type`):
    CAUSAL_LM  a chat model (lesson 04): adapters on q_proj, v_proj; the output layer stays frozen
    SEQ_CLS    a BERT classifier (lesson 03): adapters on query, value, and the new classifier head
               trains in full (`modules_to_save=["classifier"]`, saved with the adapter)

What LoRA does: a frozen weight matrix W (d_out x d_in) gets a trainable low-rank update,
    W x  ->  W x + (lora_alpha / r) * B A x       A: r x d_in (random),  B: d_out x r (zeros)
B starts at zero, so the model starts exactly as the base model.  Only A and B train:
r * (d_in + d_out) numbers per adapted matrix instead of d_in * d_out.  `lora_alpha / r` scales
the update so that changing r does not force a new learning rate.

The seed article's `LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj","v_proj"],
lora_dropout=0.1, bias="none", task_type="CAUSAL_LM")`, `get_peft_model`,
`print_trainable_parameters`, `PeftModel.from_pretrained` and `merge_and_unload` are unchanged in
PEFT 0.21; `LoraSettings` holds exactly those names, checked before any slow work.
Other PEFT methods ((IA)3, prefix tuning) wire through the same path: `ftkit.peft_methods`.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .infra.compat import ensure_torchvision

ensure_torchvision()  # transformers (imported through PEFT) imports torchvision when installed

import torch  # noqa: E402

from .checks import check_bool, check_choice, check_fraction, check_int, check_positive  # noqa: E402
from .errors import ConfigError, ModelError  # noqa: E402

__all__ = [
    "LoraSettings",
    "TARGET_PRESETS",
    "TASK_TYPES",
    "linear_module_names",
    "lora_config",
    "apply_lora",
    "wrap_with_peft",
    "trainable_share",
    "save_adapter",
    "load_adapter",
    "load_adapters",
    "switch_adapters",
    "adapter_sizes",
    "merge",
    "logits_agree",
    "Agreement",
]

# Named choices of which weight matrices get an adapter.
TARGET_PRESETS = {
    # the seed article's choice (and the LoRA paper's): the query and value projections, under the
    # names of a Llama/Qwen/SmolLM block or of a BERT block, whichever the model has
    "attention q,v": (["q_proj", "v_proj"], ["query", "value"]),
    "all linear": "all-linear",  # every Linear layer in the blocks (QLoRA paper); resolved per model
}
TASK_TYPES = ("CAUSAL_LM", "SEQ_CLS")  # PEFT's names: a chat model, a sequence classifier
_HEAD_NAMES = ("classifier", "score")  # PEFT's names for a classifier head (it trains in full, no adapter)


# =========================================================================================
# Settings
# =========================================================================================
@dataclass
class PeftShared:
    """The knobs every PEFT method's settings share: LoRA here, (IA)3 and prefix tuning in
    `ftkit.peft_methods` (the names of PEFT's configs, checked the same way)."""

    task_type: str = field(
        default="CAUSAL_LM",
        metadata={"help": "'CAUSAL_LM' for a chat model (lesson 04), 'SEQ_CLS' for a classifier (lesson 03)"},
    )
    modules_to_save: list | None = field(
        default=None,
        metadata={
            "help": "modules that train in full and are saved with the adapter, e.g. ['classifier'] "
            "(a new head); None = none (for SEQ_CLS PEFT adds the classifier head itself)"
        },
    )
    seed: int = field(
        default=0, metadata={"help": "seeds the adapter's random init, so two runs start the same"}
    )

    def __post_init__(self):
        check_choice("task_type", self.task_type, TASK_TYPES)
        check_int("seed", self.seed, minimum=0)
        if self.modules_to_save is not None:
            self.modules_to_save = _names("modules_to_save", self.modules_to_save)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LoraSettings(PeftShared):
    """The LoRA knobs (the same names as `peft.LoraConfig`), checked before any slow work."""

    r: int = field(
        default=8, metadata={"help": "rank of the update B A; 8 is the seed's value, 4-64 is usual"}
    )
    lora_alpha: float = field(
        default=32, metadata={"help": "the update is scaled by lora_alpha / r; 32 as in the seed (scale 4)"}
    )
    lora_dropout: float = field(
        default=0.1,
        metadata={"help": "dropout on the adapter's input; 0.1 as in the seed, helps tiny data sets"},
    )
    target_modules: object = field(
        default="attention q,v",
        metadata={
            "help": "a TARGET_PRESETS name ('attention q,v', 'all linear') "
            "or a list of module names like ['q_proj', 'v_proj']"
        },
    )
    bias: str = field(
        default="none",
        metadata={"help": "'none' keeps every bias frozen (the seed's choice, and the smallest adapter)"},
    )
    use_dora: bool = field(
        default=False,
        metadata={
            "help": "DoRA (Liu et al. 2024): each adapted weight = a learned length per output x the "
            "direction of W + B A; adds one vector per layer. False is plain LoRA, as in the seeds"
        },
    )

    def __post_init__(self):
        check_int("r", self.r, minimum=1)
        check_positive("lora_alpha", self.lora_alpha, example=32)  # 2-4 x r is usual
        check_fraction("lora_dropout", self.lora_dropout)
        check_choice("bias", self.bias, ("none", "all", "lora_only"))
        check_bool("use_dora", self.use_dora)
        self.target_modules = _names("target_modules", self.target_modules, presets=True)
        super().__post_init__()

    @property
    def scale(self) -> float:
        """lora_alpha / r: how strongly the update B A is added to the frozen weight."""
        return self.lora_alpha / self.r

    def resolve_targets(self, model) -> list:
        """The module names this setting adapts in `model`; ConfigError if one does not exist."""
        keep = set(_HEAD_NAMES if self.task_type == "SEQ_CLS" else ()) | set(self.modules_to_save or ())
        available = [m for m in linear_module_names(model) if m not in keep]
        wanted = self.target_modules
        wanted = TARGET_PRESETS[wanted] if isinstance(wanted, str) else wanted
        if wanted == "all-linear":
            return available
        if isinstance(wanted, tuple):  # a preset with one spelling per model family
            wanted = next((names for names in wanted if set(names) <= set(available)), wanted[0])
        missing = [m for m in wanted if m not in available]
        if missing:
            raise ConfigError(
                f"target_modules {missing} not found in {type(model).__name__}. "
                f"Its linear layers are: {', '.join(available)}."
            )
        return list(wanted)


def _names(name, value, presets=False):
    """A non-empty list of module names (or, with presets=True, a TARGET_PRESETS name)."""
    if isinstance(value, str):
        if presets and value in TARGET_PRESETS:
            return value
        preset = f"a preset ({', '.join(map(repr, TARGET_PRESETS))}) or " if presets else ""
        raise ConfigError(
            f"Unknown {name} {'preset ' if presets else ''}{value!r}. "
            f"Use {preset}a list of module names like ['q_proj', 'v_proj']."
        )
    if not (isinstance(value, (list, tuple)) and value and all(isinstance(m, str) and m for m in value)):
        raise ConfigError(f"{name} must be a non-empty list of module names, got {value!r}.")
    return list(value)


def linear_module_names(model) -> list:
    """Short names of the model's Linear layers (q_proj, v_proj, ...), the output head excluded.

    These are the names `target_modules` may use; the head (lm_head) maps to the 49k-word
    vocabulary and is left alone, like PEFT's own "all-linear"."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = []
    for full_name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            short = full_name.rsplit(".", 1)[-1]
            if short not in names:
                names.append(short)
    return names


def lora_config(settings: LoraSettings, model):
    """The `peft.LoraConfig` for `settings` on `model` (target names checked against the model)."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.resolve_targets(model),
        bias=settings.bias,
        use_dora=settings.use_dora,
        task_type=settings.task_type,
        modules_to_save=settings.modules_to_save,
    )


def apply_lora(model, settings: LoraSettings | None = None, verbose: bool = True):
    """Freeze `model` and add LoRA adapters: returns the `PeftModel` (the base is changed in place).

    PEFT's `print_trainable_parameters()` prints "trainable params: T || all params: N ||
    trainable%: T/N": N counts the frozen base AND the adapters.  We print the same numbers
    plus the adapted modules and the scale lora_alpha / r.
    """
    settings = settings or LoraSettings()
    if not isinstance(settings, LoraSettings):
        raise ConfigError(
            f"apply_lora takes LoraSettings, got {type(settings).__name__}. Use LoraSettings(r=8, ...)."
        )
    config = lora_config(settings, model)  # checks the module names before touching the model
    peft_model = wrap_with_peft(model, config, settings.seed)
    if verbose:
        share = trainable_share(peft_model)
        targets = config.target_modules
        targets = targets if isinstance(targets, list) else sorted(targets)
        print(
            f"LoRA r={settings.r}, alpha={settings.lora_alpha} (scale {settings.scale:g}) on "
            f"{', '.join(targets)}: {share['trainable']:,} trainable of {share['total']:,} parameters "
            f"({share['percent']:.3f}%)"
        )
    return peft_model


def wrap_with_peft(model, config, seed: int):
    """`get_peft_model(model, config)` with the new weights drawn from `seed`, not the global state
    (apply_lora and ftkit.peft_methods.apply_peft both wire through here)."""
    from peft import get_peft_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with _quiet_peft():
            return get_peft_model(model, config)


@contextlib.contextmanager
def _quiet_peft():
    """PEFT 0.21 still reads transformers' old `is_gradient_checkpointing` name, which warns
    (FutureWarning) on every call; the warning is about PEFT, not about the learner's code."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def trainable_share(model) -> dict:
    """{'trainable', 'total', 'percent'}: the numbers behind print_trainable_parameters()."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "total": total, "percent": 100 * trainable / max(total, 1)}


# =========================================================================================
# Saving, reloading, merging
# =========================================================================================
def save_adapter(model, folder, overwrite: bool = False) -> Path:
    """Save only the adapter (A and B matrices, the `modules_to_save` and adapter_config.json),
    atomically, as safetensors."""
    from .infra.io import save_pretrained

    if not hasattr(model, "peft_config"):
        raise ConfigError(
            "save_adapter needs a PEFT model (from apply_lora). For a whole model use ftkit.save_pretrained."
        )
    folder = save_pretrained(folder, model, overwrite=overwrite)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(
        f"adapter saved to {folder}: {size / 1e6:.2f} MB on disk "
        f"({', '.join(sorted(f.name for f in folder.iterdir()))})"
    )
    return folder


def load_adapter(base_model, folder, trainable: bool = False, adapter_name: str = "default"):
    """`PeftModel.from_pretrained(base_model, folder)`: a saved adapter on a freshly loaded base.

    The base must be the same model the adapter was trained on (same preset), loaded anew:
    PEFT changes the model it is given in place.  `adapter_name` names it (see `load_adapters`).
    """
    from peft import PeftModel

    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        raise ModelError(f"No adapter_config.json in {str(folder)!r}. Pass the folder save_adapter wrote.")
    if hasattr(base_model, "peft_config"):
        raise ConfigError(
            "This base model already carries an adapter. Load a fresh base (ftkit.load_causal_lm, "
            "ftkit.load_text_classifier) first."
        )
    with _quiet_peft():
        model = PeftModel.from_pretrained(
            base_model, str(folder), is_trainable=trainable, adapter_name=adapter_name
        )
    return model.eval()


def load_adapters(base_model, folders: dict):
    """Several saved adapters on ONE base model, by name: {"en": folder, "zh": folder} -> PeftModel.

    PEFT's named adapters: the first folder is loaded with `PeftModel.from_pretrained`, the others
    with `model.load_adapter(folder, adapter_name=...)`.  The first is active; `model.set_adapter(name)`
    switches (no copy of the base), `with model.disable_adapter():` runs the base alone.
    """
    if not isinstance(folders, dict) or not folders:
        raise ConfigError(
            'load_adapters takes a dict of names to folders, e.g. {"en": "out/en", "zh": "out/zh"}.'
        )
    for name, folder in folders.items():
        if not (Path(folder) / "adapter_config.json").is_file():
            raise ModelError(f"No adapter_config.json in {str(folder)!r} (adapter {name!r}).")
    names = list(folders)
    model = load_adapter(base_model, folders[names[0]], adapter_name=names[0])
    with _quiet_peft():
        for name in names[1:]:
            model.load_adapter(str(folders[name]), adapter_name=name)
    model.set_adapter(names[0])
    return model.eval()


def switch_adapters(model, tokenizer, prompts, rounds: int = 2, **generate_options):
    """Answer `prompts` with each named adapter of `model` in turn, and with the base (adapters
    disabled), `rounds` times round: returns (table, same) where the table has one row per prompt
    and a column per adapter (+ "base"), and `same` says every adapter gave the same greedy answers
    in every round (switching back and forth changes nothing).  The first adapter is active after."""
    import pandas as pd

    from .sft import generate, prompt_text

    check_int("rounds", rounds, minimum=1)
    names = list(model.peft_config)
    seen = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            model.set_adapter(name)
            seen[name].append(generate(model, tokenizer, prompts, **generate_options))
    model.set_adapter(names[0])
    with model.disable_adapter():
        base = generate(model, tokenizer, prompts, **generate_options)
    table = pd.DataFrame({"prompt": [prompt_text(p) for p in prompts], "base (adapters off)": base})
    for name in names:
        table[f"adapter {name}"] = seen[name][0]
    same = all(answers == runs[0] for runs in seen.values() for answers in runs)
    return table, same


def adapter_sizes(folders: dict, base_model=None):
    """MB on disk of each saved adapter (and of the base's weights in float32, when given): a table."""
    import pandas as pd

    rows = [
        {
            "what": f"adapter {name}",
            "MB": sum(f.stat().st_size for f in Path(d).rglob("*") if f.is_file()) / 1e6,
        }
        for name, d in folders.items()
    ]
    if base_model is not None:
        base = base_model.get_base_model() if hasattr(base_model, "get_base_model") else base_model
        size = sum(p.numel() * p.element_size() for n, p in base.named_parameters() if "lora_" not in n)
        rows.append({"what": "a full copy of the model", "MB": size / 1e6})
    table = pd.DataFrame(rows)
    if base_model is not None:
        table["share of a full copy %"] = 100 * table["MB"] / table["MB"].iloc[-1]
    return table.round(3)


def merge(model, copy_first: bool = True):
    """W <- W + (lora_alpha/r) B A for every adapted layer, then drop the adapters: a plain model.

    The merged model runs as fast as the base (no extra matmuls) and needs no PEFT to load.
    `copy_first=True` merges a copy, so the adapter model stays usable for comparisons.
    """
    if not hasattr(model, "merge_and_unload"):
        raise ConfigError("merge needs a PEFT model (from apply_lora or load_adapter).")
    return (copy.deepcopy(model) if copy_first else model).merge_and_unload().eval()


@dataclass
class Agreement:
    """How close two models' logits are on the same inputs."""

    max_abs_diff: float
    atol: float

    @property
    def agree(self) -> bool:
        return self.max_abs_diff <= self.atol

    def __bool__(self) -> bool:
        return self.agree

    def __str__(self) -> str:
        verdict = "agree" if self.agree else "DIFFER"
        return f"logits {verdict}: largest difference {self.max_abs_diff:.2e} (tolerance {self.atol:g})"

    __repr__ = __str__


@torch.no_grad()
def logits_agree(a, b, inputs, atol: float = 1e-4) -> Agreement:
    """Run two models on the same inputs (a batch dict or input_ids) and compare the logits.

    Merging adds B A into W in float32, so the logits differ only by rounding (~1e-5)."""
    if torch.is_tensor(inputs):
        inputs = {"input_ids": inputs}
    inputs = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
    outs = []
    for model in (a, b):
        was_training = model.training
        model.eval()
        outs.append(model(**inputs).logits.float())
        model.train(was_training)
    mask = inputs.get("attention_mask")
    diff = (outs[0] - outs[1]).abs()
    if mask is not None and diff.dim() == 3:  # one row of scores per token (a language model)
        diff = diff[mask.bool()]  # padding positions do not matter
    return Agreement(max_abs_diff=float(diff.max()), atol=atol)
