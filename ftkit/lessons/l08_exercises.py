"""Check helpers for lesson 08's exercises (notebooks/08_scale_up.ipynb).

Each check works the truth out from what it is given (the recipe, the estimate model), prints one line
(a hint, never the answer) and returns True/False; it never raises on a wrong or missing answer.
"""

from __future__ import annotations

import math

from ..recipes.estimate import ARCHS, estimate_step
from .exercise import close_to, feedback

__all__ = ["check_per_process_batch", "check_per_device_batch", "check_scaled_lr", "check_sharded_memory"]


def check_per_process_batch(answer, recipe, processes: int, stage: str = "head") -> bool:
    """Ex. 1: images each process takes per optimizer step in the helmet recipe (batch_size is global)."""
    truth = recipe.configs[stage].batch_size / processes
    return feedback(
        close_to(answer, truth, rel=0, abs_tol=1e-9),
        right=f"batch_size is the global batch: {processes} processes split it, the gradients are averaged.",
        hint="in configs/helmet.yaml batch_size is the GLOBAL batch (split_batches=True): who splits it?",
        answer=answer,
    )


def check_per_device_batch(answer, recipe, processes: int) -> bool:
    """Ex. 2: per_device_train_batch_size that keeps the text recipe's global batch on `processes` GPUs."""
    train = recipe.configs["train"]
    accumulation = getattr(train, "gradient_accumulation_steps", 1) or 1
    global_batch = train.per_device_train_batch_size * accumulation  # one process
    truth = global_batch / (processes * accumulation)
    return feedback(
        close_to(answer, truth, rel=0, abs_tol=1e-9),
        right=f"global batch = per-device x accumulation x processes stays {global_batch}: same recipe.",
        hint="the Trainer's batch is PER PROCESS: global = per_device x accumulation x processes.",
        answer=answer,
    )


def check_scaled_lr(answer, config, factor: float) -> bool:
    """Ex. 3: the starting learning rate when the global batch grows `factor` times (Adam: sqrt, SGD: x)."""
    rule = "linear" if config.optimizer == "sgd" else "square-root"
    truth = config.lr * (factor if rule == "linear" else math.sqrt(factor))
    return feedback(
        close_to(answer, truth, rel=0.01),
        right=f"the {rule} rule for {config.optimizer}; then check the curve (docs/SCALING.md).",
        hint=f"which rule fits {config.optimizer!r}? docs/SCALING.md 'Batch and learning rate'.",
        answer=answer,
    )


def check_sharded_memory(
    answer, model: str, mode: str, gpus: int, stage: int = 3, batch: int = 2, length: int = 256
) -> bool:
    """Ex. 4: GB per GPU under ZeRO-2 (gradients + optimizer / gpus) or ZeRO-3 (weights too), per the
    kit's estimate model (`estimate_step`, bf16, no activation checkpointing)."""
    row = estimate_step(ARCHS[model], mode, batch, length)
    sharded = row["grads_GB"] + row["optimizer_GB"] + (row["weights_GB"] if stage == 3 else 0)
    truth = sharded / gpus + row["total_GB"] - sharded
    return feedback(
        close_to(answer, truth, rel=0.03),
        right=f"ZeRO-{stage} divides what it shards by {gpus}; activations stay per GPU.",
        hint=f"start from estimate_step's row; ZeRO-{stage} shards "
        + ("weights, gradients and optimizer" if stage == 3 else "gradients and optimizer")
        + "; activations are not sharded.",
        answer=answer,
    )
