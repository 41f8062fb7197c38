"""Benchmark: LoRA vs full fine-tuning of the same model, in one run.

    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_lora.py [--model smollm2-135m-instruct]
        [--batch 4] [--seq 128] [--steps 4] [--no-results]

Each side trains `--steps` AdamW steps on random tokens in its OWN Python process (a process's
peak memory never goes down, so two runs in one process would mix their peaks):
  lora  LoRA r=8, alpha=32 on q_proj, v_proj (the lesson's settings); the base is frozen
  full  every weight trains
Reported: trainable parameters, peak resident memory (MB), seconds per step, and achieved
FLOP/s against this machine's fp32 matmul peak, measured here with one large matmul
(4096 x 4096, best of 5).  The step time is the best step of two rounds (lora, full, lora,
full; the first step of each process excluded): the same estimator as the peak, because on a
shared CPU other jobs only ever slow a step down, and alternating the sides spreads their
disturbance over both.  (A first run that averaged the steps of one round measured LoRA
slower than full fine-tuning on a busy machine; a per-operator profile of one step (2 x 64
tokens) shows LoRA's matmul time at ~0.6x full's: no weight gradients for the frozen layers.)

FLOP estimate per training token (N = parameters of the matmuls the token goes through,
i.e. every weight except the input embedding lookup; with tied embeddings the output head
is the same matrix and is counted once; T = tokens; L layers, d width, s sequence length):
  forward                         2 N T  + attention scores 4 L s d T (QK^T and AV)
  full fine-tuning                3 x forward  (backward = gradient w.r.t. activations 2NT
                                               + gradient w.r.t. weights 2NT)
  LoRA                            2 x forward  (backward still needs the activation gradients
                                               through every frozen layer, down to the first
                                               adapter, but no weight gradients)
                                  + 6 N_lora T (the adapters' own forward and backward)
MFU = (FLOP per step / seconds per step) / measured matmul peak.  It is an estimate: the
softmax, norms, the optimizer and the Python overhead are not counted as useful work.
Prints both sides and their ratio, ends with `RESULT ...`, appends the table to
benchmarks/RESULTS.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import append_results  # benchmarks/_common.py  # noqa: E402

from ftkit.lessons.l04_lora import measure_train_memory  # noqa: E402
from ftkit.lora import LoraSettings  # noqa: E402


def matmul_peak_gflops(n: int = 4096, repeats: int = 5) -> float:
    """Best-of-`repeats` fp32 GFLOP/s of one n x n matmul with torch's default threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm up (thread pool, caches)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def model_shape(model_name: str) -> dict:
    """Layers, width, matmul parameters (no input embedding) of the preset, without training."""
    import contextlib
    import io

    from ftkit.infra.presets import load_causal_lm

    with contextlib.redirect_stdout(io.StringIO()):
        loaded = load_causal_lm(model_name)
    model = loaded.model
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    tied = emb.data_ptr() == head.data_ptr()
    matmul_params = (
        total if tied else total - emb.numel()
    )  # tied: the table is the head's matmul, counted once
    cfg = model.config
    return {
        "total": total,
        "matmul": matmul_params,
        "layers": cfg.num_hidden_layers,
        "width": cfg.hidden_size,
        "name": loaded.name,
    }


def flops_per_step(shape: dict, mode: str, trainable: int, batch: int, seq: int) -> float:
    tokens = batch * seq
    forward = 2 * shape["matmul"] * tokens + 4 * shape["layers"] * seq * shape["width"] * tokens
    if mode == "full":
        return 3 * forward
    return 2 * forward + 6 * trainable * tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)  # English safety-note examples are ~100-116 tokens
    parser.add_argument("--steps", type=int, default=4)  # the first is excluded from the step time
    parser.add_argument(
        "--rounds", type=int, default=2, help="lora, full pairs of processes; the best step counts"
    )
    parser.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = parser.parse_args()

    peak = matmul_peak_gflops()
    print(f"fp32 matmul peak (4096^3, {torch.get_num_threads()} threads): {peak:.1f} GFLOP/s", flush=True)
    shape = model_shape(args.model)
    print(
        f"{shape['name']}: {shape['total'] / 1e6:.1f} M parameters, {shape['matmul'] / 1e6:.1f} M "
        "in matmuls, "
        f"{shape['layers']} layers, width {shape['width']}",
        flush=True,
    )
    pair = [{"mode": "lora", "settings": LoraSettings(r=8, lora_alpha=32)}, {"mode": "full"}]
    runs = measure_train_memory(
        pair * args.rounds, model=args.model, batch_size=args.batch, seq_len=args.seq, steps=args.steps
    )
    rows = []
    for i, mode in enumerate(("lora", "full")):
        mine = runs[i::2]  # this side's processes, one per round
        r = {
            "trainable": mine[0]["trainable"],
            "peak_rss_mb": max(m["peak_rss_mb"] for m in mine),
            "load_rss_mb": max(m["load_rss_mb"] for m in mine),
            "step_s": min(m["step_best_s"] for m in mine),
        }
        flops = flops_per_step(shape, mode, r["trainable"], args.batch, args.seq)
        achieved = flops / r["step_s"] / 1e9
        rows.append(
            {
                "mode": mode,
                "trainable": r["trainable"],
                "peak_mb": r["peak_rss_mb"],
                "load_mb": r["load_rss_mb"],
                "step_s": r["step_s"],
                "tok_s": args.batch * args.seq / r["step_s"],
                "gflops": achieved,
                "mfu": achieved / peak,
                "means": [m["step_s"] for m in mine],
            }
        )
    lora, full = rows
    header = (
        "| mode | trainable params | peak RSS MB | RSS after load MB | best s/step "
        "| tokens/s | GFLOP/s | MFU |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['trainable']:,} | {r['peak_mb']:.0f} | {r['load_mb']:.0f} | "
            f"{r['step_s']:.2f} | "
            f"{r['tok_s']:.0f} | {r['gflops']:.1f} | {r['mfu']:.1%} |"
        )
    lines.append(
        f"| full / lora | {full['trainable'] / lora['trainable']:.0f}x | "
        f"{full['peak_mb'] / lora['peak_mb']:.2f}x | "
        f"| {full['step_s'] / lora['step_s']:.2f}x | | | |"
    )
    table = "\n".join(lines)
    print(table)
    print(
        "mean s/step of each round (disturbed by other jobs): "
        + "; ".join(f"{r['mode']} {', '.join(f'{m:.2f}' for m in r['means'])}" for r in rows)
    )
    print(
        f"RESULT lora_peak_mb={lora['peak_mb']:.0f} full_peak_mb={full['peak_mb']:.0f} mfu={lora['mfu']:.3f} "
        f"mfu_full={full['mfu']:.3f} lora_step_s={lora['step_s']:.2f} full_step_s={full['step_s']:.2f} "
        f"matmul_peak_gflops={peak:.1f}"
    )
    if not args.no_results:
        append_results(
            f"bench_lora.py: LoRA vs full fine-tuning ({shape['name']}, batch {args.batch} x {args.seq} "
            f"tokens, random tokens)",
            f"fp32 matmul peak {peak:.1f} GFLOP/s. Best step of {args.rounds} "
            f"alternating rounds x {args.steps - 1} timed steps; shared CPU: other jobs may have run "
            f"at the same time.\n\n{table}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
