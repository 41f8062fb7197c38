"""Benchmark: does the tuned model write the safety-note format?  Seed recipe vs lesson 04's recipe.

    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_lora_format.py [--steps 30] [--prompts 24]
        [--langs en zh] [--batch 24] [--threads 2] [--seeds 0 1 2] [--recipes seed lesson] [--no-results]

448 s (7.5 min) on the 2-core class CPU with the defaults (2026-12-02, benchmarks/RESULTS.md); the
Chinese runs are over half of it: Chinese examples are twice as many tokens.

Data: data_samples/instructions/safety_notes_{en,zh}.json, split as lesson 04 splits it
(`load_instructions(eval_fraction=0.15, seed=0)`: 138 + 24 English, 137 + 24 Chinese records); the
held-out prompts are never trained on.  Model: the default profile's SmolLM2-135M-Instruct (offline).
For each language: the base model's greedy answers, then two LoRA runs of `--steps` optimizer steps
(batches of 2 x 2 accumulation, grouped by length, max_length 256, warm-up 10 %; per `--seeds` value,
which seeds the LoRA init and the batch order; lesson 04 uses seed 0):
  * seed    the seed article's recipe: r=8, lora_alpha=32, q_proj + v_proj, learning rate 2e-4;
  * lesson  lesson 04's recipe: r=16, lora_alpha=64, all linear layers, learning rate 1e-3.
After each run: greedy answers to the held-out prompts (64 tokens English / 150 Chinese: a note
is 34-54 / 74-132 SmolLM2 tokens; `--batch` prompts per generate call, all 24 at once by default),
`format_ok` (share of answers that are exactly the
four labelled lines with a valid risk level, `ftkit.check_safety_note`) and ROUGE-L against the
reference notes (characters for Chinese).
Ends with `RESULT format_ok_seed=... format_ok_lesson=... train_s=...` (format_ok: the lowest over the
languages and seeds; train_s: the lesson recipe's training seconds, both languages, mean over seeds), then
per language.
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

from ftkit import (  # noqa: E402
    LoraSettings,
    apply_lora,
    generate,
    generation_scores,
    load_causal_lm,
    load_instructions,
    train_sft,
)

RECIPES = {  # name -> (LoRA settings, learning rate); lesson 04's section 5 trains the same two
    "seed": (dict(r=8, lora_alpha=32, target_modules="attention q,v"), 2e-4),
    "lesson": (dict(r=16, lora_alpha=64, target_modules="all linear"), 1e-3),
}
MAX_NEW = {"en": 64, "zh": 150}  # greedy tokens per answer: the longest reference note fits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per run (lesson 04: 30)")
    parser.add_argument("--prompts", type=int, default=24, help="held-out prompts answered (24 = all)")
    parser.add_argument("--langs", nargs="+", default=["en", "zh"], choices=["en", "zh"])
    parser.add_argument("--batch", type=int, default=24, help="prompts per generate call (lesson 04: 12)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the class machines have 2)")
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=[0], help="LoRA init and batch-order seeds (lesson 04: 0)"
    )
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    wall = time.perf_counter()
    rows = []
    for lang in args.langs:
        path = REPO / "data_samples" / "instructions" / f"safety_notes_{lang}.json"
        data = load_instructions(path, eval_fraction=0.15, seed=0)
        prompts = data.eval[: args.prompts]
        refs = [m[-1]["content"] for m in prompts]
        gen = dict(max_new_tokens=MAX_NEW[lang], batch_size=args.batch)
        loaded = load_causal_lm("smollm2-135m-instruct", seed=0)
        tok = loaded.tokenizer
        t = time.perf_counter()
        base = generation_scores(generate(loaded.model, tok, prompts, **gen), refs, lang)
        gen_s = time.perf_counter() - t
        rows.append({"lang": lang, "recipe": "base", "seed": "-", "train_s": 0.0, "gen_s": gen_s, **base})
        print(rows[-1], flush=True)
        for seed, name in [(s, n) for s in args.seeds for n in args.recipes]:
            settings, lr = RECIPES[name]
            model = apply_lora(
                load_causal_lm("smollm2-135m-instruct", seed=0).model, LoraSettings(**settings, seed=seed)
            )
            run = train_sft(
                model, tok, data.train, None, max_steps=args.steps, learning_rate=lr,
                per_device_train_batch_size=2, gradient_accumulation_steps=2, warmup_steps=0.1,
                max_length=256, seed=seed,
            )  # fmt: skip
            t = time.perf_counter()
            scores = generation_scores(generate(model, tok, prompts, **gen), refs, lang)
            rows.append(
                {
                    "lang": lang,
                    "recipe": name,
                    "seed": seed,
                    "train_s": run.time_s,
                    "gen_s": time.perf_counter() - t,
                    **scores,
                }
            )
            print(rows[-1], flush=True)
            del model, run
    wall = time.perf_counter() - wall

    def runs(lang, recipe):
        return [r for r in rows if r["lang"] == lang and r["recipe"] == recipe]

    table = "\n".join(
        [
            "| lang | recipe | seed | train s | generation s | format_ok | ROUGE-L | repetition |",
            "|---|---|---|---|---|---|---|---|",
        ]
        + [
            f"| {r['lang']} | {r['recipe']} | {r['seed']} | {r['train_s']:.0f} | {r['gen_s']:.0f} | "
            f"{r['format_ok']:.2f} | {r['rougeL']:.3f} | {r['repetition']:.3f} |"
            for r in rows
        ]
    )
    print(table)
    # the lowest format_ok over languages and seeds: the recipe must work for every one of them
    result = {
        f"format_ok_{recipe}": min(r["format_ok"] for lang in args.langs for r in runs(lang, recipe))
        for recipe in args.recipes
    }
    if "lesson" in args.recipes:
        result["train_s"] = sum(r["train_s"] for lang in args.langs for r in runs(lang, "lesson")) / len(
            args.seeds
        )  # mean over seeds of the lesson recipe's training time, both languages
    for lang in args.langs:
        for recipe in ["base", *args.recipes]:
            result[f"format_ok_{recipe}_{lang}"] = min(r["format_ok"] for r in runs(lang, recipe))
    print("RESULT " + " ".join(f"{k}={v:.2f}" if "format" in k else f"{k}={v:.0f}" for k, v in result.items())
          + f" seeds={','.join(map(str, args.seeds))} wall_s={wall:.0f}")  # fmt: skip
    if not args.no_results:
        append_results(
            f"bench_lora_format.py: safety-note format after {args.steps} LoRA steps, seed vs lesson recipe",
            f"SmolLM2-135M-Instruct (offline), {args.prompts} held-out prompts per language (greedy, "
            f"{args.batch} per generate call), {args.steps} steps of batches 2 x 2, seeds "
            f"{', '.join(map(str, args.seeds))}, {args.threads} torch "
            f"threads; wall {wall:.0f} s. Other jobs "
            f"may have shared the CPU.\n\n{table}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
