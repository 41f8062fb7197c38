"""Freeze depth: which pretrained blocks learn, and at which learning rate.

A pretrained network is a stack of *blocks* (stages), bottom (near the input) to top
(near the output), plus a task *head* that we replace and always train:

    ResNet           stem (conv1+bn1), layer1, layer2, layer3, layer4        head: fc
    EfficientNet-Lite stem, stage1 .. stage7, head_conv (_conv_head+_bn1)    head: _fc
    BERT             embeddings, encoder.layer.0 .. N-1, pooler              head: classifier
    decoder LMs      embed_tokens, layers.0 .. N-1, norm                     head: lm_head

`freeze(model, depth)` trains the top `depth` blocks plus the head: depth 0 = head only,
depth `max_depth(model)` = everything.  Low blocks learn generic features (edges,
word pieces) that transfer well; top blocks are the most task-specific, so they are the
first ones worth unfreezing.

A frozen block also runs in **eval mode**, always: its BatchNorm layers keep their
pretrained running statistics and its dropout is off, exactly as at prediction time.
We do this with a forward pre-hook on the frozen modules (it switches them back to
eval mode whenever something, such as `model.train()`, turned them to train mode), so
it holds even if you write your own training loop.  `set_train_mode(model)` is what
`fit` calls at the start of every epoch: `model.train()` and frozen blocks to eval.
This also makes the frozen part deterministic, which is what lets `ftkit.cache`
compute it only once.

`param_groups(model, lr, ...)` gives the optimizer one group per trained block: the
head at `lr`, unfrozen blocks at `lr * backbone_lr_mult` (the seed recipe: 10x
smaller), with no weight decay on biases and normalization weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from torch import nn

from .errors import ConfigError

__all__ = [
    "blocks",
    "max_depth",
    "freeze",
    "unfreeze",
    "set_train_mode",
    "trainable_summary",
    "TrainableSummary",
    "param_groups",
    "HEAD_NAMES",
]

# Attribute names that hold a task head in the model families the lessons use.
HEAD_NAMES = ("fc", "_fc", "classifier", "lm_head", "score", "head")
# What BatchNorm layers of trained blocks do with their running statistics (see freeze()).
BN_STATS = ("pretrained", "update")


# ---- which blocks a model has ----------------------------------------------------------------
@dataclass
class BlockPlan:
    """The blocks of a model as dotted module paths (strings only, so copies stay valid)."""

    arch: str  # "resnet", "efficientnet-lite", "bert", "decoder-lm" or "explicit"
    blocks: list  # [(block name, [module paths])], bottom -> top
    head: str | None  # module path of the head, or None
    notes: list = field(default_factory=list)  # remarks shown by trainable_summary


def _plan(model: nn.Module, head: str | None = None, explicit=None) -> BlockPlan:
    """Find the blocks of `model` (or use `explicit`), raising ConfigError if unknown."""
    if head is not None:
        _get(model, head, what="head")
    if explicit is not None:
        plan = BlockPlan("explicit", _explicit_blocks(model, explicit), _find_head(model))
    else:
        plan = getattr(model, "_ftkit_plan", None)  # remembered by freeze()
        for finder in (_resnet_plan, _efficientnet_plan, _bert_plan, _decoder_plan):
            plan = plan or finder(model)
    if plan is None:
        raise ConfigError(
            f"ftkit does not know the blocks of {type(model).__name__}. Pass them bottom to top, e.g. "
            f"freeze(model, 1, blocks=['features.0', 'features.1', 'features.2'], head='classifier')."
        )
    return plan if head is None else replace(plan, head=head)


def _find_head(model: nn.Module) -> str | None:
    """The shallowest submodule whose own name is one of HEAD_NAMES (e.g. 'fc', 'bert...classifier')."""
    candidates = [name for name, _ in model.named_modules() if name and name.split(".")[-1] in HEAD_NAMES]
    return min(candidates, key=lambda n: n.count("."), default=None)


def _get(model, path, what="module"):
    try:
        return model.get_submodule(path)
    except AttributeError:
        raise ConfigError(
            f"The model has no {what} called {path!r}. Check print(model) for the module names."
        ) from None


def _explicit_blocks(model, explicit) -> list:
    out = []
    names = {id(m): n for n, m in model.named_modules()}
    for item in explicit:
        if isinstance(item, str):
            _get(model, item, what="block")
            out.append((item, [item]))
        elif isinstance(item, tuple) and len(item) == 2:
            name, module = item
            paths = [module] if isinstance(module, str) else [names.get(id(m)) for m in _members(module)]
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
    return out


def _members(module):
    return list(module) if isinstance(module, nn.ModuleList) else [module]


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
            return BlockPlan("bert", plan, _find_head(model))
    return None


def _decoder_plan(model):
    for prefix, module in model.named_modules():
        if _has(module, "embed_tokens", "layers", "norm") and isinstance(module.layers, nn.ModuleList):
            p = f"{prefix}." if prefix else ""
            plan = [("embed_tokens", [f"{p}embed_tokens"])]
            plan += [(f"layers.{i}", [f"{p}layers.{i}"]) for i in range(len(module.layers))]
            plan.append(("norm", [f"{p}norm"]))
            result = BlockPlan("decoder-lm", plan, _find_head(model))
            head = model.get_submodule(result.head) if result.head else None
            if head is not None and getattr(head, "weight", None) is module.embed_tokens.weight:
                result.notes.append(
                    f"{result.head} is tied to embed_tokens (one shared weight): training the head also trains the embeddings."
                )
            return result
    return None


def blocks(model: nn.Module, head: str | None = None) -> list:
    """The model's blocks bottom -> top as (name, module); groups (a stem) are an nn.ModuleList."""
    plan = _plan(model, head)
    out = []
    for name, paths in plan.blocks:
        mods = [model.get_submodule(p) for p in paths]
        out.append((name, mods[0] if len(mods) == 1 else nn.ModuleList(mods)))
    return out


def max_depth(model: nn.Module, blocks=None) -> int:
    """The number of blocks: freeze(model, max_depth(model)) trains everything."""
    return len(_plan(model, explicit=blocks).blocks)


# ---- freezing ------------------------------------------------------------------------------------
def freeze(
    model: nn.Module, depth: int, head: str | None = None, blocks=None, bn_stats: str = "pretrained"
) -> TrainableSummary:
    """Train the top `depth` blocks plus the head; freeze the rest (eval mode included).

    depth=0: only the head trains.  depth=max_depth(model): everything trains.
    `head` names the head module if it is not fc/_fc/classifier/lm_head; `blocks` lists
    the blocks (module names, bottom to top) for architectures ftkit does not know.
    `bn_stats="pretrained"` keeps the BatchNorm layers of the *trained* blocks in eval mode
    too: their scale and shift learn, their running statistics stay the ImageNet ones.
    With a few hundred images and batches of 32, re-estimating them from each batch
    (`"update"`, PyTorch's default in train mode) shakes the unfrozen blocks: measured on
    the real helmet crops (EfficientNet-Lite0, last stage unfrozen), stage 2 reached 0.932
    test accuracy with "update" and 0.945 with "pretrained" (benchmarks/bench_helmet_stage2.py).
    Models without BatchNorm are not affected.
    Returns `trainable_summary(model)` (it prints nicely in a notebook).
    """
    plan = _plan(model, head, explicit=blocks)
    n = len(plan.blocks)
    if not isinstance(depth, int) or isinstance(depth, bool) or not 0 <= depth <= n:
        raise ConfigError(
            f"Freeze depth must be a whole number from 0 (head only) to {n} (all blocks of "
            f"{type(model).__name__}), got {depth!r}. Pick a depth in that range."
        )
    if bn_stats not in BN_STATS:
        raise ConfigError(
            f"bn_stats must be one of {', '.join(map(repr, BN_STATS))}, got {bn_stats!r}. "
            "Use 'pretrained' (keep ImageNet BatchNorm statistics) or 'update' (re-estimate them)."
        )
    if plan.head is None and depth == 0:
        raise ConfigError(
            f"{type(model).__name__} has no head ftkit can find, so depth 0 trains nothing. Pass head='<module name>'."
        )
    everything = depth == n
    for p in model.parameters():
        p.requires_grad_(everything)
    for _, paths in plan.blocks[n - depth :]:
        for path in paths:
            model.get_submodule(path).requires_grad_(True)
    if plan.head is not None:
        model.get_submodule(plan.head).requires_grad_(True)  # after the blocks: a tied head wins
    model._ftkit_plan = plan  # strings only: remembered for param_groups, the cache and the summary
    model._ftkit_depth = depth
    model._ftkit_bn_stats = bn_stats
    mark_frozen(model)
    return trainable_summary(model)


def unfreeze(model: nn.Module) -> TrainableSummary:
    """Make every parameter trainable again and forget the freeze depth."""
    for p in model.parameters():
        p.requires_grad_(True)
    for m in model.modules():
        m._ftkit_frozen = False
    model.__dict__.pop("_ftkit_depth", None)
    model.__dict__.pop("_ftkit_bn_stats", None)
    return trainable_summary(model)


def frozen_blocks(model: nn.Module) -> list:
    """Names of blocks whose parameters are all frozen (bottom -> top); [] if blocks are unknown."""
    try:
        plan = _plan(model)
    except ConfigError:
        return []
    return [name for name, paths in plan.blocks if _all_frozen([model.get_submodule(p) for p in paths])]


def _all_frozen(modules) -> bool:
    params = [p for m in modules for p in m.parameters()]
    return bool(params) and not any(p.requires_grad for p in params)


def mark_frozen(model: nn.Module) -> None:
    """Flag modules of fully frozen blocks so they always run in eval mode (see module doc).

    Works from `requires_grad`, so it also covers models you froze by hand.  For an
    architecture ftkit does not know, frozen normalization layers are flagged alone.
    """
    try:
        plan = _plan(model)
        groups = [[model.get_submodule(p) for p in paths] for _, paths in plan.blocks]
    except ConfigError:
        groups = [[m] for m in model.modules() if _is_norm(m)]
    for m in model.modules():
        m._ftkit_frozen = False
    for group in groups:
        if _all_frozen(group):
            for module in group:
                for sub in module.modules():
                    _pin_eval(sub)
    if (
        getattr(model, "_ftkit_bn_stats", "update") == "pretrained"
    ):  # set by freeze(); hand-frozen models keep PyTorch's default
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                _pin_eval(m)  # its weight and bias still train; only the running statistics stay


def _pin_eval(module) -> None:
    """Run `module` in eval mode from now on (its buffers never change), whatever sets train mode."""
    module._ftkit_frozen = True
    if not getattr(module, "_ftkit_hooked", False):
        module.register_forward_pre_hook(_keep_eval)
        module._ftkit_hooked = True
    module.eval()


def _keep_eval(module, args):
    """Forward pre-hook: a frozen module always computes like at prediction time."""
    if module.training and getattr(module, "_ftkit_frozen", False):
        module.eval()


def set_train_mode(model: nn.Module) -> nn.Module:
    """`model.train()`, then every frozen module back to eval mode (BatchNorm stats stay put)."""
    model.train()
    for m in model.modules():
        if getattr(m, "_ftkit_frozen", False):
            m.training = False
    return model


def _is_norm(module) -> bool:
    return (
        isinstance(module, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm))
        or "Norm" in type(module).__name__
    )


# ---- what trains: the summary -----------------------------------------------------------------
@dataclass
class TrainableSummary:
    """Per block: trainable / total parameters; totals; Adam memory; notes."""

    rows: list  # [block, trainable, total, state] per block (see .table)
    trainable: int
    total: int
    depth: int | None
    n_blocks: int
    head: str | None
    notes: list

    @property
    def table(self):
        """pandas DataFrame: block, trainable, total, state."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["block", "trainable", "total", "state"])

    @property
    def share(self) -> float:
        """Trainable share of all parameters, in percent."""
        return 100.0 * self.trainable / self.total if self.total else 0.0

    @property
    def optimizer_mb(self) -> float:
        """Adam keeps two fp32 numbers (mean, variance) per trainable parameter."""
        return self.trainable * 2 * 4 / 1e6

    def line(self) -> str:
        depth = "" if self.depth is None else f"freeze depth {self.depth} of {self.n_blocks}: "
        return (
            f"{depth}{self.trainable:,} of {self.total:,} parameters train ({self.share:.2f}%), "
            f"Adam state ~{self.optimizer_mb:.1f} MB"
        )

    def __str__(self) -> str:
        return self.line()

    def __repr__(self) -> str:
        return "\n".join([self.line(), self.table.to_string(index=False), *self.notes])

    def to_html(self) -> str:
        notes = "".join(f"<br><i>{n}</i>" for n in self.notes)
        return f"<b>{self.line()}</b>{self.table.to_html(index=False)}{notes}"

    def _repr_html_(self) -> str:
        return self.to_html()


def trainable_summary(model: nn.Module, head: str | None = None) -> TrainableSummary:
    """Which blocks train, as a table (`.table`), one line (`str(...)`) and HTML."""
    try:
        plan = _plan(model, head)
    except ConfigError:
        plan = BlockPlan("unknown", [], head or _find_head(model))
    rows, seen = [], set()
    groups = list(plan.blocks) + ([("head", [plan.head])] if plan.head else [])
    for name, paths in groups:
        params = _unique([p for path in paths for p in model.get_submodule(path).parameters()], seen)
        rows.append(_row(model, name if name != "head" else f"head ({plan.head})", paths, params))
    other = _unique(list(model.parameters()), seen)
    if other:
        rows.append(_row(model, "other", [], other))
    notes = list(plan.notes)
    if any(
        row[3] == "frozen, eval mode" and _has_batchnorm(model, paths)
        for row, (_, paths) in zip(rows, groups)
    ):
        notes.append(
            "BatchNorm layers in frozen blocks stay in eval mode: their running statistics are not updated."
        )
    if getattr(model, "_ftkit_bn_stats", None) == "pretrained" and any(
        row[3] != "frozen, eval mode" and _has_batchnorm(model, paths)
        for row, (_, paths) in zip(rows, groups)
    ):
        notes.append(
            "BatchNorm layers in trained blocks keep their pretrained statistics (bn_stats='pretrained'); "
            "their scale and shift still learn."
        )
    trainable = sum(p.numel() for p in _unique(list(model.parameters()), set()) if p.requires_grad)
    total = sum(p.numel() for p in _unique(list(model.parameters()), set()))
    depth = getattr(model, "_ftkit_depth", None)
    return TrainableSummary(rows, trainable, total, depth, len(plan.blocks), plan.head, notes)


def _unique(params, seen) -> list:
    """Parameters not seen before (tied weights are counted once)."""
    out = []
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _row(model, name, paths, params):
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total = sum(p.numel() for p in params)
    frozen_eval = paths and all(getattr(model.get_submodule(p), "_ftkit_frozen", False) for p in paths)
    state = (
        "frozen, eval mode"
        if frozen_eval
        else ("trains" if trainable == total else ("frozen" if trainable == 0 else "partly trains"))
    )
    return [name, trainable, total, state]


def _has_batchnorm(model, paths) -> bool:
    return any(
        isinstance(m, nn.modules.batchnorm._BatchNorm)
        for p in paths
        for m in model.get_submodule(p).modules()
    )


# ---- learning-rate groups ---------------------------------------------------------------------
def param_groups(
    model: nn.Module,
    lr: float,
    backbone_lr_mult: float = 0.1,
    layer_decay: float = 1.0,
    weight_decay: float = 0.0,
) -> list:
    """Optimizer parameter groups, head first (its lr is the one `History` logs).

    head                      lr
    top unfrozen block        lr * backbone_lr_mult
    d blocks below the top    lr * backbone_lr_mult * layer_decay**d
    Biases and normalization weights go to separate "(no decay)" groups with weight_decay 0.
    Only trainable parameters are included.  For a model whose blocks ftkit does not know,
    the head (if found) gets lr and everything else is one "backbone" group at lr * mult;
    with no head either, all parameters get lr.
    """
    try:
        plan = _plan(model)
        units = [(name, paths) for name, paths in plan.blocks]
    except ConfigError:
        plan, units = BlockPlan("unknown", [], _find_head(model)), []
    no_decay = _no_decay_ids(model)
    seen: set = set()
    groups = []
    if plan.head is not None:
        head_params = _unique(list(model.get_submodule(plan.head).parameters()), seen)
        groups += _split_decay("head", head_params, lr, weight_decay, no_decay)
    depth_from_top = 0
    for name, paths in reversed(units):
        params = _unique([p for path in paths for p in model.get_submodule(path).parameters()], seen)
        block_lr = lr * backbone_lr_mult * layer_decay**depth_from_top
        trainable = [p for p in params if p.requires_grad]
        groups += _split_decay(name, trainable, block_lr, weight_decay, no_decay)
        if trainable:
            depth_from_top += 1
    rest = _unique(list(model.parameters()), seen)  # parameters outside the blocks and the head
    if units:
        rest_name, rest_lr = "other", lr * backbone_lr_mult * layer_decay**depth_from_top
    elif plan.head is not None:
        rest_name, rest_lr = "backbone", lr * backbone_lr_mult
    else:
        rest_name, rest_lr = "model", lr
    groups += _split_decay(rest_name, rest, rest_lr, weight_decay, no_decay)
    if not groups:
        raise ConfigError(
            "The model has no trainable parameters. Use freeze(model, depth) with depth >= 0 and a head."
        )
    return groups


def _no_decay_ids(model) -> set:
    ids = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if name.endswith("bias") or _is_norm(module) or p.ndim <= 1:
                ids.add(id(p))
    return ids


def _split_decay(name, params, lr, weight_decay, no_decay) -> list:
    params = [p for p in params if p.requires_grad]
    decay = [p for p in params if id(p) not in no_decay]
    plain = [p for p in params if id(p) in no_decay]
    out = []
    if decay:
        out.append({"params": decay, "lr": lr, "weight_decay": weight_decay, "name": name})
    if plain:
        out.append({"params": plain, "lr": lr, "weight_decay": 0.0, "name": f"{name} (no decay)"})
    return out
