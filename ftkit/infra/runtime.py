"""Where and how things run: device choice, seeding, and the run profile.

Nothing here runs at import time; lessons call `seed_everything(SEED)` themselves.
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

from ..checks import check_choice, check_int
from ..errors import ConfigError

__all__ = [
    "pick_device",
    "seed_everything",
    "Profile",
    "get_profile",
    "PROFILES",
    "memory_advice",
    "oom_guard",
    "is_out_of_memory",
    "free_memory",
]


def pick_device(prefer: str | None = None) -> str:
    """'cuda' if a GPU is usable, else 'mps' on Apple silicon, else 'cpu'.

    `prefer` (or the FTKIT_DEVICE environment variable) forces a choice, e.g. 'cpu' on a
    GPU machine to reproduce CPU numbers exactly.
    """
    import torch

    choice = prefer or os.environ.get("FTKIT_DEVICE")
    if choice:
        if choice not in ("cpu", "cuda", "mps") and not choice.startswith("cuda:"):
            raise ConfigError(f"Unknown device {choice!r}. Use 'cpu', 'cuda', 'cuda:N' or 'mps'.")
        return choice
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and torch so a CPU run gives the same numbers twice."""
    import numpy as np
    import torch

    check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return seed


@dataclass(frozen=True)
class Profile:
    """How big a run is.  `smoke` is for tests (seconds, tiny random models);
    `default` is the real lesson on this laptop-class CPU with offline pretrained models."""

    name: str
    vision_model: str  # preset used when a lesson's MODEL is left as None
    text_model: str
    lm_model: str
    image_size: int  # pixels per side fed to the CNN; 128 matches the real helmet crops
    max_rows: int | None  # cap on table rows per split (None = all)
    max_records: int | None  # cap on instruction records
    epochs: int  # default epochs for a lesson's head training
    steps: int  # default optimizer steps for LoRA lessons
    batch_size: int
    description: str
    memory_gb: float | None = (
        None  # memory the machine gives a session; lessons skip a part that cannot fit (None = no cap)
    )


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        vision_model="tiny-resnet",
        text_model="tiny-bert",
        lm_model="tiny-qwen2",
        image_size=32,  # tiny images: a test epoch takes well under a second
        max_rows=64,
        max_records=24,
        epochs=2,
        steps=4,
        batch_size=16,
        description="tests only: tiny random models and a handful of examples, seconds per lesson",
    ),
    "default": Profile(
        name="default",
        vision_model="resnet18",  # falls back to the packaged efficientnet_lite0 offline
        text_model="minilm-l6",
        lm_model="smollm2-135m-instruct",
        image_size=128,
        max_rows=None,
        max_records=None,
        epochs=5,
        # lesson 04 in 4-10 min on 2 cores (measured 235 s with 30 steps, 495 s with 20 on a slower
        # VM); the loss already falls visibly
        steps=30,
        batch_size=32,
        description="the real lesson on a 2-core CPU with pretrained models that work offline",
    ),
    "binder": Profile(
        name="binder",
        vision_model="efficientnet_lite0",  # packaged: no download at start-up on Binder
        text_model="minilm-l6",
        lm_model="smollm2-135m-instruct",
        image_size=128,
        max_rows=300,  # Binder gives ~2 GB of memory and a shared CPU: keep tables small
        max_records=120,
        epochs=4,
        steps=40,
        batch_size=16,  # image / text classification batches: half the default's activations
        description="mybinder.org: the default lessons trimmed to fit 2 GB of memory and a shared CPU",
        # mybinder.org's limit per session (2 GiB); benchmarks/bench_binder_memory.py runs every lesson
        # under it. Lesson 04 then trains LoRA with batches of 1 x 4 accumulation and skips its full
        # fine-tuning comparison (~2.2 GB)
        memory_gb=2.0,
    ),
    "gpu": Profile(
        name="gpu",
        vision_model="resnet50",
        text_model="bert-base-uncased",
        lm_model="qwen2.5-0.5b-instruct",
        image_size=224,
        max_rows=None,
        max_records=None,
        epochs=5,
        steps=200,
        batch_size=64,
        description="a CUDA machine with internet: the seed material's own model choices",
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """The profile called `name`, else $FTKIT_PROFILE, else 'default'."""
    key = name or os.environ.get("FTKIT_PROFILE") or "default"
    check_choice("profile (PROFILE or FTKIT_PROFILE)", key, tuple(PROFILES))
    return PROFILES[key]


def memory_advice(batch_size: int | None = None, gradient_accumulation_steps: int | None = None) -> str:
    """What to do when training runs out of memory, most effective first."""
    smaller = ""
    if batch_size and batch_size > 1:
        accumulate = (gradient_accumulation_steps or 1) * 2
        smaller = (
            f" (e.g. batch_size={max(1, batch_size // 2)}, gradient_accumulation_steps={accumulate}: "
            "same effective batch)"
        )
    return (
        "Out of memory. Try, in order: a smaller batch with more gradient accumulation"
        + smaller
        + "; activation_checkpointing=True (gradient checkpointing: recompute activations, ~30% slower, "
        "much less memory); a shorter "
        "max_length; LoRA instead of full fine-tuning (no gradients or Adam state for the frozen weights); "
        "on a GPU, QLoRA (the frozen base in 4 bits, see lesson 04's qlora_note())."
    )


@contextlib.contextmanager
def oom_guard(batch_size: int | None = None, gradient_accumulation_steps: int | None = None):
    """Turn a CUDA (or CPU allocator) out-of-memory error into one ftkit line with advice."""
    try:
        yield
    except RuntimeError as err:  # torch.OutOfMemoryError is a RuntimeError
        if not is_out_of_memory(err):
            raise
        raise ConfigError(memory_advice(batch_size, gradient_accumulation_steps)) from None


def is_out_of_memory(err: BaseException) -> bool:
    """True for a CUDA out-of-memory error (or the CPU allocator's), and frees cached GPU memory."""
    import torch

    oom = isinstance(err, torch.OutOfMemoryError) or (
        isinstance(err, RuntimeError)
        and ("can't allocate memory" in str(err) or "out of memory" in str(err).lower())
    )
    if oom and torch.cuda.is_available():
        torch.cuda.empty_cache()
    return oom


def free_memory() -> None:
    """Give memory that is no longer used back to the operating system.

    `del model` only drops a name: the memory comes back once nothing refers to it (a Trainer and
    its model refer to each other, so `gc.collect()` is needed too).  Even then, the C allocator
    (glibc's malloc) keeps freed blocks for reuse instead of returning them: after a few training
    runs in one kernel that is hundreds of MB the process holds but does not use, enough to break a
    2 GB Binder session.  `malloc_trim(0)` returns them (Linux); on a GPU, the cached blocks go too.
    """
    import ctypes
    import ctypes.util
    import gc
    import sys

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
            pass


def saved_tensors_mb(model, forward) -> float:
    """MB of tensors that `forward()` keeps for the backward pass (the activations), weights excluded.

    Measured with `torch.autograd.graph.saved_tensors_hooks`: every tensor autograd saves is counted
    once (by its storage), the model's own parameters left out. `forward` is a function of no
    arguments that runs the model and returns the loss; nothing is backpropagated."""
    import torch

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen, total = set(), [0]

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params and storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            total[0] += storage.nbytes()
        # detached: returning the tensor itself makes a saved output point back to the graph node
        # that saved it, a cycle in C++ that no garbage collector frees (~300 MB leaked per call)
        return tensor.detach()

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = forward()
    del loss
    return total[0] / 2**20
