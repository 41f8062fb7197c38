"""Benchmark: lesson 06's recipe on the made-up English triage file, every freezing/LoRA variant, 3 seeds.

    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_triage.py                  # all variants
    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_triage.py --variants full  # 348 s, 2 cores
    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_triage.py --seeds 0        # one seed

For each seed (the split AND the classifier head's initialisation change with it), exactly as the notebook
does: read `data_samples/triage/triage_en.csv`, clean it (`triage.clean_table`: personal data replaced,
short rows, contradictory copies and duplicates dropped), split 7:1.5:1.5 stratified, load the packaged
MiniLM-L6, and train with the lesson's recipe (`TextRecipe`: AdamW lr 1e-4, batch 16, 10 % warm-up then
linear decay, weight decay 0.01, gradient clipping 1.0, weighted cross-entropy, early stopping on
validation macro-F1 with patience 2 and the best epoch restored) for `--epochs` epochs (4, the main run's):
  full        every weight trains;
  lower half  embeddings + the lower half of the encoder layers frozen;
  LoRA        r=8, alpha 16 on query/value, classifier trained in full, lr x10 (1e-3).
Scored once on the test split: macro-F1, urgent recall (most likely class), and two threshold rules with
their test recall and false-alarm rate: the lesson's (out-of-fold p(urgent) on train+val from `--folds`
models of the same recipe trained for the main run's best epoch; the highest threshold whose 95 %
Clopper-Pearson lower bound on recall reaches 0.9; computed for the variants in `--oof-variants`, it costs
`--folds` runs each) and the old one (the highest threshold that catches every urgent validation
message, 18 of them); train time is the wall time of `trainer.train()`. The data is made up: these numbers
say how the recipe behaves on it, not how a clinical model would do.

Prints one row per run, the means over seeds, and ends with
`RESULT macro_f1=... urgent_recall=... urgent_recall_at_threshold=...` for the full variant (the lesson's
main run and rule); `--append` adds the table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import append_results  # noqa: E402  (benchmarks/_common.py)

import ftkit  # noqa: E402
from ftkit.lessons import l06_triage as triage  # noqa: E402

LR = 1e-4  # the notebook's rate for MiniLM (22 M weights)


def one_run(variant: str, seed: int, data, ds, tokenizer, epochs: int, out: Path, folds: int = 0) -> dict:
    import numpy as np
    from sklearn.metrics import f1_score, recall_score

    def make_model():
        return ftkit.load_text_classifier("minilm-l6", num_labels=3, id2label=data.id2label, seed=seed).model

    model = make_model()
    recipe = ftkit.TextRecipe(num_train_epochs=epochs, learning_rate=LR, seed=seed, early_stopping_patience=2)
    if variant == "lower half":
        triage.freeze_lower_half(model)
    elif variant == "LoRA":
        settings = ftkit.LoraSettings(
            task_type="SEQ_CLS",
            r=8,
            lora_alpha=16,
            lora_dropout=0.1,
            target_modules=["query", "value"],
            modules_to_save=["classifier"],
        )
        model = ftkit.apply_lora(model, settings, verbose=False)
        recipe = recipe.replace(learning_rate=10 * LR)
    weights = ftkit.class_weights(data.train, data.num_labels)
    if variant != "full" and folds:
        raise SystemExit("--oof-variants: only 'full' (the lesson's main run) is supported")
    run = ftkit.train_text(
        model,
        tokenizer,
        ds,
        recipe,
        variant,
        out / f"{variant}-{seed}",
        trainer_cls=ftkit.WeightedLossTrainer,
        class_weights=weights,
        keep_trainer=False,
    )
    val = ftkit.predict_proba(model, tokenizer, data.val["text"])
    test = ftkit.predict_proba(model, tokenizer, data.test["text"])
    urgent = data.classes.index("urgent")
    choice = ftkit.pick_threshold(*ftkit.one_vs_rest(data.val["label"], val, urgent), min_recall=1.0)
    y_test, s_test = ftkit.one_vs_rest(data.test["label"], test, urgent)
    at = ftkit.at_threshold(y_test, s_test, choice.threshold)
    oof = dict(urgent_recall_at_threshold=np.nan, false_alarm_rate_at_threshold=np.nan, threshold=np.nan)
    if folds:
        pool = pd.concat([data.train, data.val], ignore_index=True)
        probs = ftkit.out_of_fold_proba(
            make_model,
            tokenizer,
            pool,
            recipe.replace(num_train_epochs=run.history.best_epoch),
            out / f"{variant}-{seed}-folds",
            folds=folds,
            seed=seed,
            trainer_cls=ftkit.WeightedLossTrainer,
            class_weights=weights,
        )
        pick = ftkit.pick_threshold(*ftkit.one_vs_rest(pool["label"], probs, urgent), 0.9, confidence=0.95)
        at_oof = ftkit.at_threshold(y_test, s_test, pick.threshold)
        oof = dict(
            urgent_recall_at_threshold=at_oof.recall,
            false_alarm_rate_at_threshold=at_oof.false_alarm_rate,
            threshold=pick.threshold,
        )
    pred = test.argmax(axis=1)
    return {
        "variant": variant,
        "seed": seed,
        "macro_f1": f1_score(data.test["label"], pred, average="macro"),
        "urgent_recall": recall_score(y_test, pred == urgent),
        **oof,
        "urgent_recall_val_rule": at.recall,
        "false_alarm_rate_val_rule": at.false_alarm_rate,
        "threshold_val_rule": choice.threshold,
        "trainable_pct": 100 * run.trainable / run.total,
        "epochs_run": len(run.history),
        "train_s": run.time_s,
    }


def markdown(table: pd.DataFrame) -> str:
    head = "| variant | " + " | ".join(table.columns) + " |\n|---|" + "---|" * len(table.columns)
    return head + "".join(
        f"\n| {name} | " + " | ".join(map(str, row)) + " |" for name, row in table.iterrows()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--variants", nargs="+", default=["full", "lower half", "LoRA"])
    parser.add_argument("--folds", type=int, default=3, help="folds of the out-of-fold threshold scores")
    parser.add_argument(
        "--oof-variants", nargs="*", default=["full"], help="variants that get the lesson's rule"
    )
    parser.add_argument("--out", default="/tmp/ftkit_bench_triage")
    parser.add_argument("--append", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    start = time.time()
    raw = triage.read_triage(triage.sample_file("en"))
    cleaned, _ = triage.clean_table(raw)
    print(f"{len(raw)} rows read, {len(cleaned)} after cleaning")
    rows = []
    for seed in args.seeds:
        ftkit.seed_everything(seed)
        data = triage.to_text_data(triage.stratified_split(cleaned, seed=seed))
        tokenizer = ftkit.load_text_classifier("minilm-l6", num_labels=3, id2label=data.id2label).tokenizer
        ds = data.to_hf(tokenizer, max_length=128)
        for variant in args.variants:
            folds = args.folds if variant in args.oof_variants else 0
            row = one_run(variant, seed, data, ds, tokenizer, args.epochs, Path(args.out), folds)
            rows.append(row)
            print(
                " | ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                flush=True,
            )
            ftkit.free_memory()
    table = pd.DataFrame(rows)
    means = table.drop(columns="seed").groupby("variant", sort=False).agg(["mean", "std"])
    summary = pd.DataFrame(
        {
            "macro-F1": [f"{m:.3f} ± {s:.3f}" for m, s in means["macro_f1"].values],
            "urgent recall (argmax)": [f"{m:.3f} ± {s:.3f}" for m, s in means["urgent_recall"].values],
            "urgent recall at threshold (out of fold)": [
                f"{m:.3f} ± {s:.3f}" for m, s in means["urgent_recall_at_threshold"].values
            ],
            "false alarms (out of fold)": [
                f"{m:.3f}" for m in means["false_alarm_rate_at_threshold"]["mean"]
            ],
            "urgent recall (validation rule)": [
                f"{m:.3f} ± {s:.3f}" for m, s in means["urgent_recall_val_rule"].values
            ],
            "false alarms (validation rule)": [
                f"{m:.3f}" for m in means["false_alarm_rate_val_rule"]["mean"]
            ],
            "trainable %": [f"{m:.2f}" for m in means["trainable_pct"]["mean"]],
            "epochs run": [f"{m:.1f}" for m in means["epochs_run"]["mean"]],
            "train s": [f"{m:.0f}" for m in means["train_s"]["mean"]],
        },
        index=means.index,
    )
    wall = time.time() - start
    print(summary.to_string())
    print(f"wall time {wall:.0f} s for {len(rows)} runs")
    full = table[table["variant"] == "full"]
    print(
        f"RESULT macro_f1={full['macro_f1'].mean():.3f} urgent_recall={full['urgent_recall'].mean():.3f} "
        f"urgent_recall_at_threshold={full['urgent_recall_at_threshold'].mean():.3f} "
        f"false_alarm_rate_at_threshold={full['false_alarm_rate_at_threshold'].mean():.3f} "
        f"urgent_recall_val_rule={full['urgent_recall_val_rule'].mean():.3f} "
        f"false_alarm_rate_val_rule={full['false_alarm_rate_val_rule'].mean():.3f} wall_s={wall:.0f}"
    )
    if args.append:
        note = (
            f"Made-up English triage file ({len(cleaned)} rows after cleaning), MiniLM-L6, lesson 06's "
            f"recipe, {args.epochs} epochs max (early stopping on macro-F1), seeds {args.seeds} (split + "
            f"head init); mean ± std over seeds, test split ({len(data.test)} messages, "
            f"{int((data.test['label'] == 0).sum())} urgent). Thresholds: out of fold = the lesson's rule "
            f"({args.folds} folds on train+val, highest threshold whose 95 % lower bound on recall "
            "is >= 0.9, "
            f"variants {args.oof_variants}); validation rule = the highest p(urgent) that catches every "
            "urgent validation message. "
            f"Wall time {wall:.0f} s for {len(rows)} runs."
        )
        append_results(
            "bench_triage.py: lesson 06 recipe, freezing and LoRA variants, 3 seeds",
            f"{note}\n\n{markdown(summary)}",
        )


if __name__ == "__main__":
    main()
