"""Benchmark: LoRA on real instruction data within a CPU time budget.

    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_lora_real.py [--budget-s 600] [--no-results]

Data: LLaMA-Factory's `alpaca_en_demo.json` (999 alpaca records nobody on the project wrote),
found in $FTKIT_SHARED_DATA/instructions, ../shared/datasets/instructions (next to the repo) or
/work/shared/datasets/instructions; the benchmark prints SKIP and exits 0 when it is absent.
10 % of the records are held out (seeded).  The offline preset (SmolLM2-135M-Instruct) gets LoRA
on all linear layers and trains until the time budget is spent (10 minutes of CPU by default).

Checks (both printed, the exit status is 1 if one fails):
  * the held-out response loss (mean NLL per response token) drops by at least 20 %;
  * the saved adapter, reloaded onto a fresh base, reproduces the greedy generations exactly.
Ends with `RESULT loss_before=... loss_after=... drop=... wall_s=... peak_rss_mb=... reload_identical=...`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ftkit.callbacks import Callback  # noqa: E402
from ftkit.instructions import build_sft_dataset, load_instructions  # noqa: E402
from ftkit.lora import (LoraSettings, apply_lora, generate, load_adapter, peak_rss_mb,  # noqa: E402
                        response_loss, save_adapter, train_sft)
from ftkit.presets import load_causal_lm  # noqa: E402

from _common import append_results, shared_data  # benchmarks/_common.py

MAX_LENGTH = 256  # alpaca answers run long; 256 tokens keeps a CPU step short (longer answers are cut)
TARGET_DROP = 0.20  # the goal: held-out loss at least 20 % lower after the budget


class TimeBudget(Callback):
    """Stop training (cleanly, after the current step) once `seconds` have passed."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.start = None

    def on_train_begin(self, state):
        self.start = time.perf_counter()

    def on_step_end(self, state):
        if time.perf_counter() - self.start > self.seconds:
            state.should_stop = True
            state.stop_reason, state.stop_message = "completed", f"time budget of {self.seconds:.0f} s spent"





def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=600, help="training time budget in seconds (10 min)")
    parser.add_argument("--max-steps", type=int, default=1000, help="upper bound; the budget normally stops first")
    parser.add_argument("--eval-records", type=int, default=None, help="cap on held-out records scored (None = all)")
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    path = shared_data("instructions/alpaca_en_demo.json")
    if path is None:
        print("SKIP alpaca_en_demo.json not found (set FTKIT_SHARED_DATA to the folder holding instructions/)")
        return 0
    wall_start = time.perf_counter()
    data = load_instructions(path, eval_fraction=0.1, seed=0)
    held_out = data.eval[: args.eval_records] if args.eval_records else data.eval
    loaded = load_causal_lm("smollm2-135m-instruct")
    tok = loaded.tokenizer
    train_ds = build_sft_dataset(tok, data.train, max_length=MAX_LENGTH)
    prompts = held_out[:3]

    t = time.perf_counter()
    loss_before = response_loss(loaded.model, tok, held_out, max_length=MAX_LENGTH)
    print(f"held-out loss before: {loss_before:.4f} ({len(held_out)} records, {time.perf_counter() - t:.0f} s)", flush=True)

    settings = LoraSettings(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all linear")
    model = apply_lora(loaded.model, settings)
    run = train_sft(model, tok, train_ds, None, steps=args.max_steps, lr=5e-4, batch_size=4, grad_accum=1,
                    warmup_ratio=0.02, max_length=MAX_LENGTH, seed=0, callbacks=[TimeBudget(args.budget_s)])
    train_s = run.wall_s
    loss_after = response_loss(model, tok, held_out, max_length=MAX_LENGTH)
    drop = 1 - loss_after / loss_before
    print(f"held-out loss after {run.steps} steps ({train_s:.0f} s): {loss_after:.4f}, drop {drop:.1%}", flush=True)

    answers = generate(model, tok, prompts, max_new_tokens=40)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_adapter(model, Path(tmp) / "adapter")
        reloaded = load_adapter(load_causal_lm("smollm2-135m-instruct").model, folder)
        reload_identical = generate(reloaded, tok, prompts, max_new_tokens=40) == answers
    wall = time.perf_counter() - wall_start
    peak = peak_rss_mb()
    ok = drop >= TARGET_DROP and reload_identical
    table = "\n".join([
        "| records train / held out | steps | train s | loss before | loss after | drop | reload identical | peak RSS MB | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {len(data.train)} / {len(held_out)} | {run.steps} | {train_s:.0f} | {loss_before:.4f} | {loss_after:.4f} | "
        f"{drop:.1%} | {reload_identical} | {peak:.0f} | {wall:.0f} |",
    ])
    print(table)
    print(f"check: drop >= {TARGET_DROP:.0%}: {'PASS' if drop >= TARGET_DROP else 'FAIL'}; "
          f"reload reproduces greedy answers: {'PASS' if reload_identical else 'FAIL'}")
    print(f"RESULT loss_before={loss_before:.4f} loss_after={loss_after:.4f} drop={drop:.4f} wall_s={wall:.0f} "
          f"peak_rss_mb={peak:.0f} reload_identical={reload_identical}")
    if not args.no_results:
        append_results(f"bench_lora_real.py: LoRA (r=16, all linear, lr 5e-4) on alpaca_en_demo, "
                       f"{args.budget_s:.0f} s budget", f"Shared CPU: other jobs may have run at the same time.\n\n{table}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
