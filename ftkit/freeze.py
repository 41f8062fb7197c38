"""Freeze depth: which pretrained blocks learn, and at which learning rate.

A pretrained network is a stack of *blocks* bottom (near the input) to top, plus a task
*head* that we replace and always train; which blocks a model has is written once, in the
table of model families in `ftkit/archs.py` (ResNet: stem, layer1..layer4, head fc; ...).

`freeze(model, depth)` trains the top `depth` blocks plus the head: depth 0 = head only,
depth `max_depth(model)` = everything (`check_depth` is the one rule for a valid depth).
Low blocks learn generic features (edges, word pieces) that transfer well; top blocks are
the most task-specific, so they are the first ones worth unfreezing.

A frozen block also runs in **eval mode**, always: its BatchNorm layers keep their
pretrained running statistics and its dropout is off, exactly as at prediction time.
A forward pre-hook on the frozen modules switches them back to eval mode whenever
something (`model.train()`, your own loop) turned them to train mode; `set_train_mode`
is what `fit` calls every epoch.  This also makes the frozen part deterministic, which is
what lets `ftkit.infra.cache` compute it only once.

What freeze decided is kept in one visible place, a registry beside your model (nothing is
written onto it): `freeze_state(model)` gives its `FreezeState`, `runs_in_eval(module)`
asks about one module.  A copy of a model (copy.deepcopy) does not carry it: freeze the copy.

`param_groups(model, lr, ...)` gives the optimizer one group per trained block: the head at
`lr`, unfrozen blocks at `lr * backbone_lr_mult` (the seed recipe: 10x smaller), with no
weight decay on biases and normalization weights.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from .archs import BlockPlan, block_plan, explicit_plan, find_head, get_module, is_batchnorm, is_norm
from .checks import check_choice, check_int
from .errors import ConfigError

__all__ = ["blocks", "max_depth", "check_depth", "freeze", "unfreeze", "mark_frozen", "frozen_blocks"]
__all__ += ["set_train_mode", "snapshot", "restore", "freeze_state", "runs_in_eval", "FreezeState"]
__all__ += ["trainable_summary", "TrainableSummary", "param_groups"]

# What BatchNorm layers of trained blocks do with their running statistics (see freeze()).
BN_STATS = ("pretrained", "update")


# ---- the freeze state: one registry, nothing stored on your model ------------------------------
@dataclass
class FreezeState:
    """What `freeze` / `mark_frozen` decided for one model; read it with `freeze_state(model)`."""

    plan: BlockPlan | None  # blocks and head (None: ftkit does not know this model's blocks)
    depth: int | None = None  # the freeze depth; None after unfreeze or when frozen by hand
    bn_stats: str = "update"  # "pretrained": BatchNorm running statistics never change
    eval_modules: list = field(default_factory=list)  # names of the modules pinned to eval mode


_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its FreezeState
_EVAL_PINNED: weakref.WeakSet = weakref.WeakSet()  # modules that always run in eval mode
_HOOKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # pinned module -> its pre-hook handle


def freeze_state(model: nn.Module) -> FreezeState | None:
    """The model's `FreezeState`, or None if freeze / fit never saw it."""
    return _STATES.get(model)


def runs_in_eval(module: nn.Module) -> bool:
    """True if `module` is pinned to eval mode (a frozen block, or a BatchNorm that keeps its statistics)."""
    return module in _EVAL_PINNED


# ---- which blocks a model has ----------------------------------------------------------------
def _plan(model: nn.Module, head: str | None = None, explicit=None) -> BlockPlan:
    """The model's blocks: `explicit` ones, else those freeze remembered, else its family's."""
    if head is not None:
        get_module(model, head, what="head")
    state = _STATES.get(model)
    if explicit is not None:
        plan = explicit_plan(model, explicit)
    elif state is not None and state.plan is not None:
        plan = state.plan
    else:
        plan = block_plan(model)
    return plan if head is None else replace(plan, head=head)


def blocks(model: nn.Module, head: str | None = None) -> list:
    """The model's blocks bottom -> top as (name, module); groups (a stem) are an nn.ModuleList."""
    out = []
    for name, paths in _plan(model, head).blocks:
        mods = [model.get_submodule(p) for p in paths]
        out.append((name, mods[0] if len(mods) == 1 else nn.ModuleList(mods)))
    return out


def max_depth(model: nn.Module, blocks=None) -> int:
    """The number of blocks: freeze(model, max_depth(model)) trains everything."""
    return len(_plan(model, explicit=blocks).blocks)


def check_depth(model: nn.Module, depth, blocks=None) -> int:
    """The freeze-depth rule: a whole number from 0 (head only) to max_depth(model) (everything)."""
    n = max_depth(model, blocks)
    try:
        check_int("freeze depth", depth, minimum=0, maximum=n)
    except ConfigError:
        raise ConfigError(
            f"Freeze depth must be a whole number from 0 (head only) to {n} (all blocks of "
            f"{type(model).__name__}), got {depth!r}. Pick a depth in that range."
        ) from None
    return depth


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
    check_depth(model, depth, blocks)
    check_choice("bn_stats", bn_stats, BN_STATS)
    if plan.head is None and depth == 0:
        raise ConfigError(
            f"{type(model).__name__} has no head ftkit can find, so depth 0 trains nothing. "
            "Pass head='<module name>'."
        )
    everything = depth == n
    for p in model.parameters():
        p.requires_grad_(everything)
    for _, paths in plan.blocks[n - depth :]:
        for path in paths:
            model.get_submodule(path).requires_grad_(True)
    if plan.head is not None:
        model.get_submodule(plan.head).requires_grad_(True)  # after the blocks: a tied head wins
    _STATES[model] = FreezeState(plan, depth, bn_stats)  # remembered for param_groups, cache, summary
    mark_frozen(model)
    return trainable_summary(model)


def unfreeze(model: nn.Module) -> TrainableSummary:
    """Make every parameter trainable again and forget the freeze depth (the blocks stay known)."""
    for p in model.parameters():
        p.requires_grad_(True)
    state = _STATES.get(model)
    _STATES[model] = FreezeState(state.plan if state is not None else None)
    mark_frozen(model)  # nothing is frozen now: every module is unpinned
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


def mark_frozen(model: nn.Module) -> FreezeState:
    """Pin the modules of fully frozen blocks to eval mode (see the module doc); return the state.

    Works from `requires_grad`, so it also covers models you froze by hand.  For an
    architecture ftkit does not know, frozen normalization layers are pinned alone.
    """
    state = _STATES.get(model)
    if state is None:  # frozen by hand: PyTorch's default for BatchNorm statistics ("update")
        try:
            state = _STATES[model] = FreezeState(_plan(model))
        except ConfigError:
            state = _STATES[model] = FreezeState(None)
    if state.plan is not None:
        groups = [[model.get_submodule(p) for p in paths] for _, paths in state.plan.blocks]
    else:
        groups = [[m] for m in model.modules() if is_norm(m)]
    pinned = {id(sub) for g in groups if _all_frozen(g) for module in g for sub in module.modules()}
    if state.bn_stats == "pretrained":  # BatchNorm weight and bias still train; the statistics stay
        pinned |= {id(m) for m in model.modules() if is_batchnorm(m)}
    state.eval_modules = []
    for name, module in model.named_modules():
        if id(module) in pinned:
            state.eval_modules.append(name)
            _pin_eval(module)
        else:
            _unpin(module)
    return state


def _pin_eval(module: nn.Module) -> None:
    """Run `module` in eval mode from now on (its buffers never change), whatever sets train mode."""
    _EVAL_PINNED.add(module)
    if module not in _HOOKS:
        _HOOKS[module] = module.register_forward_pre_hook(_keep_eval)
    module.eval()


def _unpin(module: nn.Module) -> None:
    _EVAL_PINNED.discard(module)
    handle = _HOOKS.pop(module, None)
    if handle is not None:
        handle.remove()


def _keep_eval(module, args):
    """Forward pre-hook: a pinned module always computes like at prediction time."""
    if module.training and module in _EVAL_PINNED:
        module.eval()


def set_train_mode(model: nn.Module) -> nn.Module:
    """`model.train()`, then every pinned module back to eval mode (BatchNorm stats stay put)."""
    model.train()
    for m in model.modules():
        if m in _EVAL_PINNED:
            m.training = False
    return model


# ---- the weights training can change (fit goes back to them) -----------------------------------
def snapshot(model: nn.Module) -> dict:
    """A CPU copy of what training can change: trainable parameters and buffers of unpinned modules."""
    snap = {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}
    for mod_name, module in model.named_modules():
        if runs_in_eval(module):
            continue  # pinned to eval mode (frozen, or BatchNorm keeping its statistics): never changes
        for name, b in module.named_buffers(recurse=False):
            snap[f"{mod_name}.{name}" if mod_name else name] = b.detach().to("cpu", copy=True)
    return snap


def restore(model: nn.Module, snap: dict) -> None:
    """Copy a `snapshot` back, touching nothing else.

    (Not `load_state_dict(strict=False)`: BatchNorm rewrites its own step counter there,
    which would look like a changed frozen weight to the feature cache.)
    """
    targets = dict(model.named_parameters())
    targets.update(model.named_buffers())
    with torch.no_grad():
        for name, value in snap.items():
            targets[name].copy_(value)


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

    __str__ = line

    def __repr__(self) -> str:
        return "\n".join([self.line(), self.table.to_string(index=False), *self.notes])

    def to_html(self) -> str:
        notes = "".join(f"<br><i>{n}</i>" for n in self.notes)
        return f"<b>{self.line()}</b>{self.table.to_html(index=False)}{notes}"

    _repr_html_ = to_html


def trainable_summary(model: nn.Module, head: str | None = None) -> TrainableSummary:
    """Which blocks train, as a table (`.table`), one line (`str(...)`) and HTML."""
    try:
        plan = _plan(model, head)
    except ConfigError:
        plan = BlockPlan("unknown", [], head or find_head(model))
    rows, seen = [], set()
    groups = list(plan.blocks) + ([("head", [plan.head])] if plan.head else [])
    for name, paths in groups:
        params = _unique([p for path in paths for p in model.get_submodule(path).parameters()], seen)
        rows.append(_row(model, name if name != "head" else f"head ({plan.head})", paths, params))
    other = _unique(list(model.parameters()), seen)
    if other:
        rows.append(_row(model, "other", [], other))
    notes = list(plan.notes)
    with_bn = [row[3] for row, (_, paths) in zip(rows, groups, strict=False) if _has_batchnorm(model, paths)]
    if "frozen, eval mode" in with_bn:
        notes.append(
            "BatchNorm layers in frozen blocks stay in eval mode: their running statistics are not updated."
        )
    state = _STATES.get(model)
    if (
        state is not None
        and state.bn_stats == "pretrained"
        and any(s != "frozen, eval mode" for s in with_bn)
    ):
        notes.append(
            "BatchNorm layers in trained blocks keep their pretrained statistics (bn_stats='pretrained'); "
            "their scale and shift still learn."
        )
    unique = _unique(list(model.parameters()), set())
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    total = sum(p.numel() for p in unique)
    depth = state.depth if state is not None else None
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
    if paths and all(runs_in_eval(model.get_submodule(p)) for p in paths):
        state = "frozen, eval mode"
    else:
        state = "trains" if trainable == total else ("frozen" if trainable == 0 else "partly trains")
    return [name, trainable, total, state]


def _has_batchnorm(model, paths) -> bool:
    return any(is_batchnorm(m) for p in paths for m in model.get_submodule(p).modules())


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
        plan, units = BlockPlan("unknown", [], find_head(model)), []
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
            if name.endswith("bias") or is_norm(module) or p.ndim <= 1:
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
