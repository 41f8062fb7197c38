"""Benchmark: the BERT lesson's recipe against a plain training loop, on real sentiment data.

    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_sentiment.py --part sst2   # ~15 min
    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_sentiment.py --part zh     # ~10 min

SST-2 (GLUE, English; `<shared>/sentiment_en`), both runs in one invocation:
  plain   the issue's reference: a bare PyTorch loop, AdamW at one constant learning rate
          (2e-5), batch 32, 2 epochs, on `--baseline-rows` (4,000) sampled training rows; no
          warm-up, no weight decay, no validation;
  recipe  the lesson's recipe (notebooks/03, section 5): Hugging Face Trainer, lr 1e-4 (the
          notebook's value for MiniLM), batch 16, 10 % linear warm-up then linear decay, weight
          decay 0.01, dynamic padding, evaluation every epoch on a validation sample (taken
          from the training file, disjoint from the training rows), early stopping (patience 2)
          with the best epoch restored; on `--rows` (8,000) sampled training rows (the plain
          loop's rows are the first half of them). One addition for speed only: batches of
          similar length (`TextRecipe(train_sampling_strategy="group_by_length")`), which cuts
          padding on SST-2's mix of 2-word phrases and 50-word sentences.
  Both are scored on the whole dev set (872 sentences), max_length 64 (the longest dev
  sentence is about 60 word pieces).
ChnSentiCorp (Chinese; `<shared>/sentiment_zh`): the same recipe on `--zh-rows` sampled
  training rows, scored on the whole test split (1,200 reviews), max_length 128, next to the
  majority-class baseline. The packaged MiniLM has an English vocabulary: most Chinese
  characters become [UNK] (the share is measured and printed), so the model sees little of
  the text.

Model: the offline preset (packaged MiniLM-L6). Threads: `--threads` (2: measured 24 training
rows/s against 17 with 1 thread on this 2-core machine). The shared data folder is found by
`benchmarks/_common.shared_data`; the script skips cleanly when it is absent. Ends with one
`RESULT ...` line and appends its table to benchmarks/RESULTS.md (machine, date, wall time).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import append_results, shared_data  # noqa: E402  (benchmarks/_common.py)

import ftkit  # noqa: E402
from ftkit.data.text import TextData, load_text_table  # noqa: E402

SEED = 0  # same seed, same numbers
VAL_ROWS = 800  # validation sample for the recipe's per-epoch evaluation (the dev/test set stays untouched)
LR = 1e-4  # the notebook's learning rate for MiniLM (22 M weights learn faster than BERT-base's 2e-5..5e-5)
PLAIN_LR = 2e-5  # the reference loop: the usual BERT tutorial value, held constant


def sample(frame: pd.DataFrame, n: int | None) -> pd.DataFrame:
    if n is None or n >= len(frame):
        return frame.reset_index(drop=True)
    return frame.sample(n=n, random_state=SEED).reset_index(drop=True)


def scores(model, tokenizer, test: pd.DataFrame, max_length: int) -> dict:
    from ftkit.metrics import metrics_summary
    from ftkit.textcls import predict_proba

    start = time.perf_counter()
    probs = predict_proba(model, tokenizer, test["text"], max_length=max_length)
    m = metrics_summary(test["label"].to_numpy(), probs.argmax(axis=1), probs)
    return {"accuracy": m["accuracy"], "f1": m["f1_macro"], "eval_s": time.perf_counter() - start}


def plain_loop(
    train: pd.DataFrame,
    test: pd.DataFrame,
    classes,
    max_length: int,
    epochs: int = 2,
    lr: float = PLAIN_LR,
    batch_size: int = 32,
) -> dict:
    """The reference: the simplest fine-tuning loop a tutorial shows."""
    from transformers import DataCollatorWithPadding

    ftkit.seed_everything(SEED)
    loaded = ftkit.load_text_classifier(
        "minilm-l6", num_labels=len(classes), id2label=dict(enumerate(classes)), seed=SEED
    )
    model, tok = loaded.model, loaded.tokenizer
    collate = DataCollatorWithPadding(tok)
    encoded = [
        dict(tok(t, truncation=True, max_length=max_length), labels=int(y))
        for t, y in zip(train["text"], train["label"], strict=True)
    ]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(SEED)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(encoded), generator=gen).tolist()
        for i in range(0, len(order), batch_size):
            batch = collate([encoded[j] for j in order[i : i + batch_size]])
            loss = model(**batch).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    train_s = time.perf_counter() - start
    return dict(scores(model, tok, test, max_length), train_s=train_s, rows=len(train), epochs=epochs, lr=lr)


def recipe_run(data: TextData, max_length: int, epochs: int, out: Path) -> dict:
    """The lesson's recipe (ftkit.textcls.train_text = the notebook's Trainer set-up)."""
    from ftkit.textcls import TextRecipe, train_text

    ftkit.seed_everything(SEED)
    loaded = ftkit.load_text_classifier(
        "minilm-l6", num_labels=data.num_labels, id2label=data.id2label, seed=SEED
    )
    ds = data.to_hf(loaded.tokenizer, max_length=max_length)
    recipe = TextRecipe(
        num_train_epochs=epochs,
        learning_rate=LR,
        per_device_train_batch_size=16,
        weight_decay=0.01,
        warmup_steps=0.1,
        early_stopping_patience=2,
        seed=SEED,
        logging_steps=50,  # thousands of steps: a point every 50 is plenty
        train_sampling_strategy="group_by_length",
    )
    run = train_text(loaded.model, loaded.tokenizer, ds, recipe, "recipe", out)
    h = run.history
    return dict(
        scores(run.trainer.model, loaded.tokenizer, data.test, max_length),
        train_s=run.time_s,
        rows=len(data.train),
        epochs=len(h),
        lr=LR,
        best_epoch=h.best_epoch,
    )


def unk_share(tokenizer, texts) -> float:
    pieces = [tokenizer.tokenize(str(t)) for t in texts]
    return sum(p == tokenizer.unk_token for ps in pieces for p in ps) / max(1, sum(len(ps) for ps in pieces))


def run_sst2(en: Path, args, work: Path) -> tuple[list, dict]:
    full = load_text_table(en / "sst2_train.tsv", eval_file=en / "sst2_dev.tsv", seed=SEED)
    train = sample(full.train, args.rows)
    dev = sample(full.test, args.eval_rows)
    data = TextData(train, sample(full.val, min(VAL_ROWS, args.eval_rows or VAL_ROWS)), dev, full.classes)
    rows = []
    start = time.perf_counter()
    base = plain_loop(train.iloc[: args.baseline_rows], dev, full.classes, max_length=64)
    rows.append(
        dict(
            data="SST-2 dev",
            run="plain loop (constant lr, batch 32)",
            **base,
            part_s=time.perf_counter() - start,
        )
    )
    print(rows[-1], flush=True)
    start = time.perf_counter()
    rec = recipe_run(data, max_length=64, epochs=args.epochs, out=work / "sst2")
    rows.append(dict(data="SST-2 dev", run="lesson recipe", **rec, part_s=time.perf_counter() - start))
    print(rows[-1], flush=True)
    result = dict(
        sst2_plain=round(base["accuracy"], 4),
        sst2_recipe=round(rec["accuracy"], 4),
        sst2_acc_ratio=round(rec["accuracy"] / base["accuracy"], 3),
        sst2_f1_ratio=round(rec["f1"] / base["f1"], 3),
        sst2_time_ratio=round(rec["train_s"] / base["train_s"], 2),
    )
    return rows, result


def run_zh(zh: Path, args, work: Path) -> tuple[list, dict]:
    full = load_text_table(zh / "ChnSentiCorp_train.csv", eval_file=zh / "ChnSentiCorp_test.csv", seed=SEED)
    val = pd.read_csv(zh / "ChnSentiCorp_validation.csv").dropna(subset=["text", "label"])
    val["label"] = val["label"].astype(str).map(full.label2id)  # the same ids as the train file's classes
    data = TextData(
        sample(full.train, args.zh_rows),
        sample(val[["text", "label"]], min(VAL_ROWS // 2, args.eval_rows or VAL_ROWS)),
        sample(full.test, args.eval_rows),
        full.classes,
    )
    tok = ftkit.load_text_classifier("minilm-l6", num_labels=2, seed=SEED).tokenizer
    share = unk_share(tok, data.test["text"])
    start = time.perf_counter()
    rec = recipe_run(data, max_length=128, epochs=args.zh_epochs, out=work / "chnsenticorp")
    majority = float((data.test["label"] == data.train["label"].value_counts().idxmax()).mean())
    row = dict(
        data="ChnSentiCorp test",
        run=f"lesson recipe ([UNK] {share:.0%} of tokens; majority class {majority:.3f})",
        **rec,
        part_s=time.perf_counter() - start,
    )
    print(row, flush=True)
    return [row], dict(
        zh_recipe=round(rec["accuracy"], 4), zh_majority=round(majority, 4), zh_unk=round(share, 3)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        choices=("sst2", "zh", "all"),
        default="all",
        help="which data set (each part fits a 20-minute slot on 2 cores)",
    )
    parser.add_argument("--rows", type=int, default=8000, help="SST-2 training rows for the recipe (sampled)")
    parser.add_argument(
        "--baseline-rows", type=int, default=4000, help="SST-2 training rows for the plain loop (sampled)"
    )
    parser.add_argument(
        "--epochs", type=int, default=3, help="SST-2 recipe epochs (early stopping may stop sooner)"
    )
    parser.add_argument(
        "--zh-rows", type=int, default=2000, help="ChnSentiCorp training rows (long texts: costly)"
    )
    parser.add_argument("--zh-epochs", type=int, default=2, help="ChnSentiCorp recipe epochs")
    parser.add_argument(
        "--eval-rows", type=int, default=None, help="cap on dev/test rows (only to try the script quickly)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (2 measured faster than 1 here)"
    )
    parser.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = parser.parse_args()

    en, zh = shared_data("sentiment_en"), shared_data("sentiment_zh")
    if en is None and zh is None:
        print(
            "SKIP: no shared sentiment data (set FTKIT_SHARED_DATA to the folder holding sentiment_en/ and "
            "sentiment_zh/)"
        )
        print("RESULT skipped=1")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    wall = time.perf_counter()
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "ftkit_bench_sentiment"
    rows, result = [], {}
    if en is not None and args.part in ("sst2", "all"):
        r, res = run_sst2(en, args, work)
        rows, result = rows + r, {**result, **res}
    if zh is not None and args.part in ("zh", "all"):
        r, res = run_zh(zh, args, work)
        rows, result = rows + r, {**result, **res}

    wall_s = time.perf_counter() - wall
    table = pd.DataFrame(rows)
    for col in ("accuracy", "f1"):
        table[col] = table[col].round(4)
    for col in ("train_s", "eval_s", "part_s"):
        table[col] = table[col].round(0).astype(int)
    print(table.to_string(index=False))
    if not args.no_results:
        sizes = {
            "sst2": f"SST-2: recipe {args.rows:,} rows / {args.epochs} epochs max, plain loop "
            "{args.baseline_rows:,} rows / 2 epochs",
            "zh": f"ChnSentiCorp: {args.zh_rows:,} rows / {args.zh_epochs} epochs",
        }
        parts = [sizes[p] for p in ("sst2", "zh") if args.part in (p, "all")]
        notes = ""
        if "sst2_recipe" in result:
            notes += (
                f"\n\nSST-2 dev: recipe / plain accuracy ratio {result['sst2_acc_ratio']}, F1 ratio "
                f"{result['sst2_f1_ratio']}, "
                f"training time ratio {result['sst2_time_ratio']} (the recipe trains on twice the rows)."
            )
        if "zh_recipe" in result:
            notes += (
                f"\n\nChnSentiCorp: {result['zh_unk']:.0%} of MiniLM's word pieces on the test reviews "
                "are [UNK] "
                f"(English vocabulary); accuracy {result['zh_recipe']} against {result['zh_majority']} "
                "for always "
                "answering the majority class "
                f"({100 * (result['zh_recipe'] - result['zh_majority']):+.1f} points). "
                "Use bert-base-chinese (the lesson picks it for Chinese text when the hub is reachable)."
            )
        what = "the lesson recipe on Chinese" if args.part == "zh" else "lesson recipe vs plain loop"
        append_results(
            f"bench_sentiment.py --part {args.part}: {what} (MiniLM-L6, offline preset)",
            f"Threads {torch.get_num_threads()}; {'; '.join(parts)}; eval rows "
            f"{args.eval_rows or 'all'}. Wall time {wall_s / 60:.1f} min (part_s: each run's load + "
            "tokenize + "
            f"train + score).\n\n{markdown_table(table)}{notes}\n",
        )
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()) + f" wall_s={wall_s:.0f}")
    return 0


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub markdown table (pandas' to_markdown needs the optional tabulate package)."""
    head = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = [
        "| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([head, rule, *body])


if __name__ == "__main__":
    raise SystemExit(main())
