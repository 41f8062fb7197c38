"""`ftkit estimate CONFIG.yaml`: memory (and compute) per training step from a simple, written-out model.

memory = weights + gradients + optimizer state + activations (+ logits), per GPU, no sharding:
- weights      all parameters x bytes per value (bf16: 2, fp32: 4);
- gradients    trainable parameters x 4 (LoRA/PEFT and mixed-precision training keep fp32 gradients);
- optimizer    AdamW: two fp32 moments per trainable parameter (8 bytes), plus an fp32 master copy
               (4 bytes) when the weights themselves are bf16 and fully trained;
- activations  per layer and token ~34 x hidden values at 2 bytes (Korthikanti et al. 2022, "Reducing
               activation recomputation", no flash attention, attention scores left out), x2 in fp32;
               with activation checkpointing only each layer's input is kept (hidden values per token);
- logits       batch x length x vocabulary x 4 bytes (the loss is computed in fp32; big for Qwen's
               151k-token vocabulary).
compute = 6 x trained-through parameters x tokens (forward 2, backward 4); with LoRA the weight
gradients of the frozen matrices are skipped: ~4 x parameters x tokens.
It ignores the framework's own memory (CUDA context ~0.5 GB, allocator fragmentation): add ~10-20 %.
ZeRO/FSDP divide gradients + optimizer (ZeRO-2) and also weights (ZeRO-3 / FSDP FULL_SHARD) by the
number of GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ARCHS", "Arch", "estimate_step", "estimate_table", "arch_of"]


@dataclass(frozen=True)
class Arch:
    name: str
    params: int  # all parameters (embeddings included)
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


# From the models' config.json on the Hugging Face hub (Qwen/Qwen2.5-*-Instruct).
ARCHS = {
    "qwen2.5-0.5b": Arch("Qwen2.5-0.5B", 494_032_768, 896, 24, 14, 2, 151_936),
    "qwen2.5-1.5b": Arch("Qwen2.5-1.5B", 1_543_714_304, 1536, 28, 12, 2, 151_936),
    "qwen2.5-7b": Arch("Qwen2.5-7B", 7_615_616_512, 3584, 28, 28, 4, 152_064),
}


def arch_of(model) -> Arch:
    """An Arch from a loaded transformers causal LM (for checks against a measured run)."""
    cfg = model.config
    return Arch(
        getattr(cfg, "name_or_path", "") or type(model).__name__,
        sum(p.numel() for p in model.parameters()),
        cfg.hidden_size,
        cfg.num_hidden_layers,
        cfg.num_attention_heads,
        getattr(cfg, "num_key_value_heads", cfg.num_attention_heads),
        cfg.vocab_size,
    )


def lora_params(arch: Arch, r: int, targets=("q_proj", "v_proj")) -> int:
    """A (r x in) + B (out x r) per targeted projection per layer (q and v; o, k by name too)."""
    out = {"q_proj": arch.hidden, "k_proj": arch.kv_heads * arch.head_dim}
    out["v_proj"], out["o_proj"] = out["k_proj"], arch.hidden
    return arch.layers * sum(r * (arch.hidden + out[t]) for t in targets if t in out)


def estimate_step(
    arch: Arch,
    mode: str,
    batch: int,
    length: int,
    r: int = 8,
    precision: str = "bf16",
    activation_checkpointing: bool = False,
) -> dict:
    """GB per GPU and TFLOPs per optimizer step for one micro-batch of `batch` x `length` tokens."""
    wbytes = 2 if precision == "bf16" else 4
    trainable = lora_params(arch, r) if mode == "lora" else arch.params
    weights = arch.params * wbytes + (trainable * wbytes if mode == "lora" else 0)
    grads = trainable * 4
    optim = trainable * 8 + (trainable * 4 if mode == "full" and wbytes == 2 else 0)
    tokens = batch * length
    per_token_layer = arch.hidden * (wbytes if activation_checkpointing else 34 * 2 * wbytes / 2)
    acts = arch.layers * tokens * per_token_layer
    logits = tokens * arch.vocab * 4
    flops = (4 if mode == "lora" else 6) * arch.params * tokens
    gb = 1e9
    return {
        "model": arch.name,
        "mode": mode,
        "trainable_M": round(trainable / 1e6, 2),
        "weights_GB": round(weights / gb, 2),
        "grads_GB": round(grads / gb, 2),
        "optimizer_GB": round(optim / gb, 2),
        "activations_GB": round((acts + logits) / gb, 2),
        "total_GB": round((weights + grads + optim + acts + logits) / gb, 2),
        "TFLOP_per_micro_batch": round(flops / 1e12, 2),
    }


def estimate_table(batch: int, length: int, r: int = 8, precision="bf16", activation_checkpointing=False):
    """A pandas table: Qwen2.5 0.5B / 1.5B / 7B x LoRA / full fine-tuning."""
    import pandas as pd

    rows = [
        estimate_step(a, mode, batch, length, r, precision, activation_checkpointing)
        for a in ARCHS.values()
        for mode in ("lora", "full")
    ]
    return pd.DataFrame(rows)
