"""The model families ftkit knows, in one table (fastai's `model_meta` idea).

For every family the table says how to recognise a model of it, its pretrained *blocks*
bottom (near the input) to top, its *head* (the task layer we replace and always train),
its forward pass cut into steps (so `ftkit.infra.cache` can compute a frozen bottom once)
and whether it has BatchNorm layers (whose running statistics `freeze`'s bn_stats keeps):

    family             blocks, bottom -> top                                head        steps  BatchNorm
    resnet             stem (conv1+bn1), layer1 .. layer4                   fc          yes    yes
    efficientnet-lite  stem, stage1 .. stage7, head_conv (_conv_head+_bn1)  _fc         yes    yes
    bert               embeddings, encoder.layer.0 .. N-1, pooler           classifier  no     no
    decoder-lm         embed_tokens, layers.0 .. N-1, norm                  lm_head     no     no

`ftkit.freeze` reads the blocks and the head, `ftkit.infra.cache` the steps.  To teach ftkit
a new family, add a `Family` row to FAMILIES; for a single model, pass
`freeze(model, depth, blocks=[...], head="...")` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from .errors import ConfigError

__all__ = ["BlockPlan", "Step", "Family", "FAMILIES", "HEAD_NAMES", "block_plan", "explicit_plan"]
__all__ += ["family_of", "split_forward", "find_head", "get_module", "is_norm", "is_batchnorm"]

# Attribute names that hold a task head in the model families the lessons use.
HEAD_NAMES = ("fc", "_fc", "classifier", "lm_head", "score", "head")
BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


@dataclass
class BlockPlan:
    """The blocks of a model as dotted module paths (strings only, so copies stay valid)."""

    family: str  # a Family name, or "explicit" (blocks= given by you)
    blocks: list  # [(block name, [module paths])], bottom -> top
    head: str | None  # module path of the head, or None
    notes: list = field(default_factory=list)  # remarks shown by trainable_summary


@dataclass
class Step:
    """One piece of a forward pass: `run(x)` gives the input of the next step."""

    name: str
    run: Callable  # tensor -> tensor
    kind: str  # "block" (one of the plan's blocks), "fixed" (no weights, no randomness), "random", "head"
    modules: tuple = ()  # the modules whose weights this step uses (they key the cache)


@dataclass(frozen=True)
class Family:
    """One row of the table: how to recognise, cut and split one kind of model."""

    name: str
    plan: Callable[[nn.Module], BlockPlan | None]  # blocks and head, or None: not of this family
    batchnorm: bool  # has BatchNorm layers (running statistics that bn_stats keeps or updates)
    forward: str | None = None  # "module.Class.forward" that `steps` copies: only that class is split
    steps: Callable[[nn.Module], list | None] | None = None  # the forward pass as a list of Step


# ---- recognising a family: blocks and head ------------------------------------------------------
def _has(model, *names) -> bool:
    return all(hasattr(model, n) for n in names)


def _resnet_plan(model):
    if not _has(model, "conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"):
        return None
    layers = [(f"layer{i}", [f"layer{i}"]) for i in range(1, 5)]
    return BlockPlan("resnet", [("stem", ["conv1", "bn1"])] + layers, "fc")


def _efficientnet_plan(model):
    if not _has(model, "_conv_stem", "_bn0", "_blocks", "_conv_head", "_bn1", "_fc"):
        return None
    stages, last_out = [], None
    for i, block in enumerate(model._blocks):
        out = getattr(getattr(block, "_block_args", None), "output_filters", i)
        if out != last_out:  # a new stage starts where the number of output channels changes
            stages.append([])
            last_out = out
        stages[-1].append(f"_blocks.{i}")
    plan = [("stem", ["_conv_stem", "_bn0"])]
    plan += [(f"stage{i + 1}", paths) for i, paths in enumerate(stages)]
    plan.append(("head_conv", ["_conv_head", "_bn1"]))
    return BlockPlan("efficientnet-lite", plan, "_fc")


def _bert_plan(model):
    for prefix, module in model.named_modules():
        encoder = getattr(module, "encoder", None)
        if hasattr(module, "embeddings") and isinstance(getattr(encoder, "layer", None), nn.ModuleList):
            p = f"{prefix}." if prefix else ""
            plan = [("embeddings", [f"{p}embeddings"])]
            plan += [(f"encoder.layer.{i}", [f"{p}encoder.layer.{i}"]) for i in range(len(encoder.layer))]
            if getattr(module, "pooler", None) is not None:
                plan.append(("pooler", [f"{p}pooler"]))
            return BlockPlan("bert", plan, find_head(model))
    return None


def _decoder_plan(model):
    for prefix, module in model.named_modules():
        if _has(module, "embed_tokens", "layers", "norm") and isinstance(module.layers, nn.ModuleList):
            p = f"{prefix}." if prefix else ""
            plan = [("embed_tokens", [f"{p}embed_tokens"])]
            plan += [(f"layers.{i}", [f"{p}layers.{i}"]) for i in range(len(module.layers))]
            plan.append(("norm", [f"{p}norm"]))
            result = BlockPlan("decoder-lm", plan, find_head(model))
            head = model.get_submodule(result.head) if result.head else None
            if head is not None and getattr(head, "weight", None) is module.embed_tokens.weight:
                result.notes.append(
                    f"{result.head} is tied to embed_tokens (one shared weight): "
                    "training the head also trains the embeddings."
                )
            return result
    return None


# ---- splitting a forward pass into steps (for the feature cache) -------------------------------
def _resnet_steps(m) -> list:
    # Same operations, in the same order, as torchvision's ResNet._forward_impl.
    stem = lambda x: m.maxpool(m.relu(m.bn1(m.conv1(x))))  # noqa: E731
    pool = lambda x: torch.flatten(m.avgpool(x), 1)  # noqa: E731
    steps = [Step("stem", stem, "block", (m.conv1, m.bn1))]
    steps += [
        Step(f"layer{i}", getattr(m, f"layer{i}"), "block", (getattr(m, f"layer{i}"),)) for i in range(1, 5)
    ]
    return steps + [Step("pooling", pool, "fixed"), Step("fc", m.fc, "head", (m.fc,))]


def _efficientnet_steps(m) -> list | None:
    # Same operations as EfficientNet.extract_features + forward (drop-connect rates included).
    if m._global_params.local_pooling:
        return None
    n_blocks, rate = len(m._blocks), m._global_params.drop_connect_rate

    def stage(indices):
        def run(x):
            for idx in indices:
                x = m._blocks[idx](x, drop_connect_rate=rate * float(idx) / n_blocks if rate else rate)
            return x

        return run

    steps = [Step("stem", lambda x: m._swish(m._bn0(m._conv_stem(x))), "block", (m._conv_stem, m._bn0))]
    for name, paths in _efficientnet_plan(m).blocks[1:-1]:
        indices = [int(p.split(".")[1]) for p in paths]
        steps.append(Step(name, stage(indices), "block", tuple(m._blocks[i] for i in indices)))
    head_conv = lambda x: m._swish(m._bn1(m._conv_head(x)))  # noqa: E731
    steps.append(Step("head_conv", head_conv, "block", (m._conv_head, m._bn1)))
    steps.append(Step("pooling", lambda x: m._avg_pooling(x).flatten(1), "fixed"))
    steps.append(Step("dropout", m._dropout, "random"))
    return steps + [Step("_fc", m._fc, "head", (m._fc,))]


# ---- the table ----------------------------------------------------------------------------------
FAMILIES = (
    Family(
        "resnet",
        _resnet_plan,
        batchnorm=True,
        forward="torchvision.models.resnet.ResNet.forward",
        steps=_resnet_steps,
    ),
    Family(
        "efficientnet-lite",
        _efficientnet_plan,
        batchnorm=True,
        forward="efficientnet_lite_pytorch.model.EfficientNet.forward",
        steps=_efficientnet_steps,
    ),
    Family("bert", _bert_plan, batchnorm=False),  # LayerNorm: no running statistics
    Family("decoder-lm", _decoder_plan, batchnorm=False),  # RMSNorm: no running statistics
)


def family_of(model: nn.Module) -> tuple[Family, BlockPlan] | tuple[None, None]:
    """The first family in FAMILIES that recognises `model`, with its plan; (None, None) if none does."""
    for family in FAMILIES:
        plan = family.plan(model)
        if plan is not None:
            return family, plan
    return None, None


def block_plan(model: nn.Module) -> BlockPlan:
    """The blocks and head of a model of a known family, or a ConfigError saying what to pass."""
    _, plan = family_of(model)
    if plan is None:
        raise ConfigError(
            f"ftkit does not know the blocks of {type(model).__name__}. Pass them bottom to top, e.g. "
            "freeze(model, 1, blocks=['features.0', 'features.1', 'features.2'], head='classifier')."
        )
    return plan


def split_forward(model: nn.Module) -> list | None:
    """The model's forward pass as a list of `Step`, or None if ftkit cannot split it."""
    forward = type(model).forward
    where = f"{forward.__module__}.{forward.__qualname__}"
    for family in FAMILIES:
        if family.steps is not None and family.forward == where:
            return family.steps(model)
    return None


# ---- blocks you name yourself --------------------------------------------------------------------
def get_module(model: nn.Module, path: str, what: str = "module") -> nn.Module:
    """model.get_submodule(path), or a ConfigError pointing at print(model)."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        raise ConfigError(
            f"The model has no {what} called {path!r}. Check print(model) for the module names."
        ) from None


def explicit_plan(model: nn.Module, blocks) -> BlockPlan:
    """A plan from blocks you list bottom to top: module names, (name, module) pairs or modules."""
    out = []
    names = {id(m): n for n, m in model.named_modules()}
    for item in blocks:
        if isinstance(item, str):
            get_module(model, item, what="block")
            out.append((item, [item]))
        elif isinstance(item, tuple) and len(item) == 2:
            name, module = item
            members = list(module) if isinstance(module, nn.ModuleList) else [module]
            paths = [module] if isinstance(module, str) else [names.get(id(m)) for m in members]
            if any(p is None for p in paths):
                raise ConfigError(
                    f"Block {name!r} is not a submodule of the model. Pass module names from print(model)."
                )
            out.append((str(name), paths))
        elif isinstance(item, nn.Module) and id(item) in names:
            out.append((names[id(item)], [names[id(item)]]))
        else:
            raise ConfigError(
                f"Cannot use {item!r} as a block. Pass module names, e.g. blocks=['layer3', 'layer4']."
            )
    if not out:
        raise ConfigError(
            "blocks= is empty. Pass the block names bottom to top, e.g. blocks=['layer3', 'layer4']."
        )
    return BlockPlan("explicit", out, find_head(model))


def find_head(model: nn.Module) -> str | None:
    """The shallowest submodule whose own name is one of HEAD_NAMES (e.g. 'fc', 'bert...classifier')."""
    candidates = [name for name, _ in model.named_modules() if name and name.split(".")[-1] in HEAD_NAMES]
    return min(candidates, key=lambda n: n.count("."), default=None)


# ---- normalization layers --------------------------------------------------------------------------
def is_batchnorm(module: nn.Module) -> bool:
    """A BatchNorm layer: it keeps running statistics of its inputs while in train mode."""
    return isinstance(module, BATCHNORMS)


def is_norm(module: nn.Module) -> bool:
    """Any normalization layer (BatchNorm, LayerNorm, GroupNorm, RMSNorm, ...)."""
    norms = (*BATCHNORMS, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.RMSNorm)
    return isinstance(module, norms) or "Norm" in type(module).__name__
