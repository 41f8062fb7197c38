"""Benchmark: LoRA on real instruction data within a CPU time budget.

    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_lora_real.py [--budget-s 600] [--steps 80]
        [--lr 1e-3] [--batch 2] [--max-length 256] [--threads 2] [--curve 40] [--no-results]

Data: LLaMA-Factory's `alpaca_en_demo.json` (999 alpaca records nobody on the project wrote),
found in $FTKIT_SHARED_DATA/instructions, ../shared/datasets/instructions (next to the repo) or
/work/shared/datasets/instructions; the benchmark prints SKIP and exits 0 when it is absent.
10 % of the records are held out (seeded).  The offline preset (SmolLM2-135M-Instruct, from the
packaged Q4_1 GGUF dequantized to float32) gets LoRA and trains for `--steps` optimizer steps; a
time guard stops it early if the training time budget (10 minutes by default) runs out first.

The recipe, chosen for a 2-core CPU that trains ~60 tokens/s (a batch of 4 x ~160 tokens takes
~11 s, so 10 minutes see only ~1/4 of an epoch): LoRA r=16 on all linear layers (more to adapt than
the lesson's r=8 on q,v, at nearly the same speed: the frozen base dominates the cost), lr 1e-3
(few steps, so a larger rate than the usual 2e-4), batches of 2 (with so few tokens, more and
smaller steps learn more), grouped by length (random batches would be ~1/3 padding), linear decay
to 0 over the planned steps (a first run with batches of 4 is in RESULTS.md).

Held-out loss = mean NLL per response token on the 10 % split, with the same masking and the same
max_length as training; it is timed separately from training (not part of the budget).
Checks (both printed, the exit status is 1 if one fails):
  * the held-out response loss drops by at least 20 %;
  * the saved adapter, reloaded onto a fresh base, reproduces the greedy generations exactly.
Ends with `RESULT loss_before=... loss_after=... drop=... train_s=... wall_s=... peak_rss_mb=...
reload_identical=...`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import append_results, shared_data  # benchmarks/_common.py  # noqa: E402

from ftkit.callbacks import Callback  # noqa: E402
from ftkit.data.instructions import load_instructions  # noqa: E402
from ftkit.data.sft_encoding import build_sft_dataset  # noqa: E402
from ftkit.infra.presets import load_causal_lm  # noqa: E402
from ftkit.lessons.l04_lora import peak_rss_mb  # noqa: E402
from ftkit.lora import LoraSettings, apply_lora, load_adapter, save_adapter  # noqa: E402
from ftkit.sft import generate, response_loss, train_sft  # noqa: E402

TARGET_DROP = 0.20  # the goal: held-out loss at least 20 % lower after the budget
N_PROMPTS = 3  # held-out prompts generated before saving and after reloading the adapter
MAX_NEW = 40  # tokens per greedy answer: enough to tell two models apart, cheap on a CPU


class TimeBudget(Callback):
    """Stop training cleanly once another step would end after `seconds` of training (the last
    step's time predicts the next one's).  With `curve_every`, also measure the held-out loss every
    that many steps; those evaluations are timed apart and do not count against the budget."""

    def __init__(self, seconds: float, curve_every: int = 0, held_out_loss=None):
        self.seconds, self.curve_every, self.held_out_loss = seconds, curve_every, held_out_loss
        self.start = self.last = None
        self.curve, self.eval_s = [], 0.0  # (step, training seconds so far, held-out loss)

    def on_train_begin(self, state):
        self.start = self.last = time.perf_counter()

    def on_step_end(self, state):
        now = time.perf_counter()
        step_s, self.last = now - self.last, now
        if self.curve_every and state.step % self.curve_every == 0:
            loss = self.held_out_loss(state.model)
            spent = time.perf_counter() - now
            self.eval_s += spent
            self.start += spent  # the budget counts training time only
            self.last += spent
            self.curve.append((state.step, now - self.start, loss))
            print(
                f"  step {state.step}: held-out loss {loss:.4f} after {now - self.start:.0f} s of training",
                flush=True,
            )
        if time.perf_counter() - self.start + step_s > self.seconds:
            state.should_stop = True
            state.stop_reason, state.stop_message = "completed", f"time budget of {self.seconds:.0f} s spent"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget-s", type=float, default=600, help="training time budget in seconds (10 min)"
    )
    parser.add_argument("--steps", type=int, default=100, help="planned optimizer steps (~6 s each here)")
    parser.add_argument(
        "--lr", type=float, default=1e-3, help="peak learning rate (linear warm-up, then decay)"
    )
    parser.add_argument(
        "--batch", type=int, default=2, help="examples per optimizer step (few tokens: more, smaller steps)"
    )
    parser.add_argument(
        "--max-length", type=int, default=256, help="tokens per example; 31 %% of responses are cut at 256"
    )
    parser.add_argument(
        "--rank", type=int, default=16, help="LoRA rank (alpha = 2 x rank) on all linear layers"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (the class machines have 2 cores)"
    )
    parser.add_argument(
        "--curve",
        type=int,
        default=0,
        help="also measure the held-out loss every N steps (timed apart from the budget)",
    )
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    path = shared_data("instructions/alpaca_en_demo.json")
    if path is None:
        print(
            "SKIP alpaca_en_demo.json not found (set FTKIT_SHARED_DATA to the folder holding instructions/)"
        )
        return 0
    torch.set_num_threads(args.threads)
    wall_start = time.perf_counter()
    data = load_instructions(path, eval_fraction=0.1, seed=0)
    held_out = data.eval
    loaded = load_causal_lm("smollm2-135m-instruct")
    tok = loaded.tokenizer
    train_ds = build_sft_dataset(tok, data.train, max_length=args.max_length)
    prompts = held_out[:N_PROMPTS]

    t = time.perf_counter()
    loss_before = response_loss(loaded.model, tok, held_out, max_length=args.max_length)
    eval_s = time.perf_counter() - t
    print(f"held-out loss before: {loss_before:.4f} ({len(held_out)} records, {eval_s:.0f} s)", flush=True)

    settings = LoraSettings(
        r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.05, target_modules="all linear"
    )
    model = apply_lora(loaded.model, settings)
    budget = TimeBudget(
        args.budget_s, args.curve, lambda m: response_loss(m, tok, held_out, max_length=args.max_length)
    )
    run = train_sft(
        model,
        tok,
        train_ds,
        None,
        max_steps=args.steps,
        learning_rate=args.lr,
        per_device_train_batch_size=args.batch,
        gradient_accumulation_steps=1,
        warmup_steps=0.05,
        max_length=args.max_length,
        seed=0,
        callbacks=[budget],
        train_sampling_strategy="group_by_length",
    )
    train_s = run.time_s - budget.eval_s
    stopped_early = run.steps < args.steps
    losses = [s["train_loss"] for s in run.history.steps]
    print(
        f"training loss, first 5 steps: {[round(x, 3) for x in losses[:5]]}; last 5: "
        f"{[round(x, 3) for x in losses[-5:]]}"
    )
    t = time.perf_counter()
    loss_after = response_loss(model, tok, held_out, max_length=args.max_length)
    eval_s += time.perf_counter() - t + budget.eval_s
    drop = 1 - loss_after / loss_before
    print(
        f"held-out loss after {run.steps} steps ({train_s:.0f} s of training): {loss_after:.4f}, drop "
        f"{drop:.1%}",
        flush=True,
    )

    answers = generate(model, tok, prompts, max_new_tokens=MAX_NEW)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_adapter(model, Path(tmp) / "adapter")
        reloaded = load_adapter(load_causal_lm("smollm2-135m-instruct").model, folder)
        reload_identical = generate(reloaded, tok, prompts, max_new_tokens=MAX_NEW) == answers
    wall = time.perf_counter() - wall_start
    peak = peak_rss_mb()
    ok = drop >= TARGET_DROP and reload_identical and train_s <= args.budget_s * 1.05
    examples_seen = run.steps * args.batch
    table = "\n".join(
        [
            "| records train / held out | steps (examples) | train s | s/step | eval s (before + after) | "
            "loss before | "
            "loss after | drop | reload identical | peak RSS MB | wall s |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {len(data.train)} / {len(held_out)} | {run.steps} ({examples_seen}) | {train_s:.0f} | "
            f"{train_s / max(run.steps, 1):.1f} | {eval_s:.0f} | {loss_before:.4f} | {loss_after:.4f} | "
            f"{drop:.1%} | "
            f"{reload_identical} | {peak:.0f} | {wall:.0f} |",
        ]
    )
    if budget.curve:
        table += "\n\nHeld-out loss during training (step, training s, loss): " + ", ".join(
            f"{step} / {sec:.0f} s / {loss:.4f}" for step, sec, loss in [(0, 0, loss_before), *budget.curve]
        )
    print(table)
    print(
        f"check: drop >= {TARGET_DROP:.0%}: {'PASS' if drop >= TARGET_DROP else 'FAIL'}; "
        f"reload reproduces greedy answers: {'PASS' if reload_identical else 'FAIL'}; "
        f"{'stopped by the time budget' if stopped_early else 'all planned steps done'}"
    )
    print(
        f"RESULT loss_before={loss_before:.4f} loss_after={loss_after:.4f} drop={drop:.4f} "
        f"train_s={train_s:.0f} "
        f"wall_s={wall:.0f} peak_rss_mb={peak:.0f} reload_identical={reload_identical}"
    )
    if not args.no_results:
        note = (
            f"LoRA r={args.rank}, alpha {2 * args.rank}, all linear layers, lr {args.lr:g}, batch "
            f"{args.batch} grouped "
            f"by length, max_length {args.max_length}, {args.threads} torch threads, "
            f"{'stopped by' if stopped_early else 'within'} the {args.budget_s:.0f} s training budget "
            f"({examples_seen / len(data.train):.0%} of one epoch). Eval = mean NLL per response "
            "token on the "
            f"held-out 10 %, same masking and max_length as training. Other jobs may have shared the CPU."
        )
        append_results(
            f"bench_lora_real.py: LoRA on alpaca_en_demo (SmolLM2-135M-Instruct), "
            f"{args.budget_s:.0f} s training budget",
            f"{note}\n\n{table}",
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
