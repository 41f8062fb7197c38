"""`ftkit estimate`'s memory model against measured CPU runs (fp32): weights and one training step.

    python benchmarks/bench_estimate.py [--models tiny-qwen2 smollm2-135m-instruct] [--batch 1] [--length 256]

Each (model, mode) runs in its own Python process: load the causal LM (fp32 on this CPU), maybe add
LoRA (r=8 on q,v: the estimate's assumption), then 2 AdamW steps on a random batch of batch x length
tokens. Measured: "weights" = RSS after loading (every weight read once) minus RSS before (the
model code already imported); "step" = peak RSS of the process
(ru_maxrss) minus RSS after loading, i.e. gradients + optimizer state + activations + logits + the
allocator's slack. Estimated: `estimate_step(arch_of(model), mode, batch, length, precision="fp32")`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from _common import REPO, machine_line


def child(model_name: str, mode: str, batch: int, length: int) -> dict:
    import gc
    import resource

    import psutil
    import torch

    from ftkit import LoraSettings, apply_lora, load_causal_lm
    from ftkit.recipes.estimate import arch_of, estimate_step

    torch.manual_seed(0)
    rss = lambda: psutil.Process().memory_info().rss / 1e9  # noqa: E731
    import transformers.models.llama.modeling_llama  # noqa: F401  the lazy imports, before measuring
    import transformers.models.qwen2.modeling_qwen2  # noqa: F401

    gc.collect()
    before = rss()
    loaded = load_causal_lm(model_name)
    model = loaded.model.float()
    sum(float(p.detach().sum()) for p in model.parameters())  # every weight page resident now
    after_load = rss()
    est = estimate_step(arch_of(model), mode, batch, length, r=8, precision="fp32")
    if mode == "lora":
        model = apply_lora(model, LoraSettings(r=8, lora_dropout=0.0), verbose=False)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    ids = torch.randint(0, model.config.vocab_size, (batch, length))
    for _ in range(2):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux
    est_step = est["total_GB"] - est["weights_GB"]
    return {
        "model": loaded.name,
        "mode": mode,
        "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "weights est GB": est["weights_GB"],
        "weights measured GB": round(after_load - before, 3),
        "step est GB": round(est_step, 3),
        "step measured GB": round(peak - after_load, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["tiny-qwen2", "smollm2-135m-instruct"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.batch, args.length)))
        return
    rows = []
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    for name in args.models:
        for mode in ("lora", "full"):
            cmd = [sys.executable, __file__, "--child", name, mode, "--batch", str(args.batch)]
            cmd += ["--length", str(args.length)]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(machine_line(), f"micro-batch {args.batch} x {args.length} tokens, fp32, 2 AdamW steps")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
