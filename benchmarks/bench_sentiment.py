"""Benchmark: the BERT lesson's recipe against a plain training loop, on real sentiment data.

    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_sentiment.py [--rows 8000] [--no-results]

SST-2 (GLUE, English; `<shared>/sentiment_en`):
  plain   a bare PyTorch loop: AdamW at one constant learning rate (2e-5), 2 epochs, on
          `--baseline-rows` sampled training rows, no warm-up, no weight decay, no validation;
  recipe  the lesson's recipe (notebooks/03): Hugging Face Trainer, lr 5e-5 with 10 % linear
          warm-up then linear decay, weight decay 0.01, dynamic padding, evaluation every epoch
          on a validation sample, early stopping (patience 1) with the best epoch restored;
          on `--rows` sampled training rows.
  Both are scored on the whole dev set (872 sentences), max_length 64.
ChnSentiCorp (Chinese; `<shared>/sentiment_zh`): the recipe only, scored on the test split,
  max_length 128. The packaged MiniLM has an English vocabulary: almost every Chinese
  character becomes [UNK], so expect little better than chance (the [UNK] share is printed).

Model: the offline preset (packaged MiniLM-L6). The shared data folder is
$FTKIT_SHARED_DATA, else ../shared/datasets next to the repo, else /work/shared/datasets;
the script skips cleanly when it is absent. Ends with one `RESULT ...` line and appends its
table to benchmarks/RESULTS.md (machine, torch version, date, wall time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import ftkit  # noqa: E402
from ftkit.text import TextData, load_text_table  # noqa: E402

SEED = 0  # same seed, same numbers
VAL_ROWS = 800  # validation sample for the recipe's per-epoch evaluation (the dev set stays untouched)


def shared_data(name: str) -> Path | None:
    roots = [os.environ.get("FTKIT_SHARED_DATA"), str(REPO.parent / "shared" / "datasets"), "/work/shared/datasets"]
    for root in filter(None, roots):
        path = Path(root) / name
        if path.is_dir():
            return path
    return None


def sample(frame: pd.DataFrame, n: int | None) -> pd.DataFrame:
    if n is None or n >= len(frame):
        return frame.reset_index(drop=True)
    return frame.sample(n=n, random_state=SEED).reset_index(drop=True)


def scores(model, tokenizer, test: pd.DataFrame, max_length: int) -> dict:
    from ftkit.plots import metrics_summary
    from ftkit.textlab import predict_proba

    probs = predict_proba(model, tokenizer, test["text"], max_length=max_length)
    m = metrics_summary(test["label"].to_numpy(), probs.argmax(axis=1), probs)
    return {"accuracy": m["accuracy"], "f1": m["f1"]}


def plain_loop(train: pd.DataFrame, test: pd.DataFrame, classes, max_length: int, epochs: int = 2, lr: float = 2e-5,
               batch_size: int = 32) -> dict:
    """The reference: the simplest fine-tuning loop a tutorial shows."""
    from transformers import DataCollatorWithPadding

    ftkit.seed_everything(SEED)
    loaded = ftkit.load_text_classifier("minilm-l6", num_labels=len(classes), id2label=dict(enumerate(classes)), seed=SEED)
    model, tok = loaded.model, loaded.tokenizer
    collate = DataCollatorWithPadding(tok)
    encoded = [dict(tok(t, truncation=True, max_length=max_length), labels=int(y)) for t, y in zip(train["text"], train["label"])]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(SEED)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(encoded), generator=gen).tolist()
        for i in range(0, len(order), batch_size):
            batch = collate([encoded[j] for j in order[i:i + batch_size]])
            loss = model(**batch).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    train_s = time.perf_counter() - start
    return dict(scores(model, tok, test, max_length), train_s=train_s, rows=len(train), epochs=epochs)


def recipe_run(data: TextData, max_length: int, epochs: int, out: Path) -> dict:
    """The lesson's recipe (ftkit.textlab.train_text = the notebook's Trainer set-up)."""
    from ftkit.textlab import TextRecipe, train_text

    ftkit.seed_everything(SEED)
    loaded = ftkit.load_text_classifier("minilm-l6", num_labels=data.num_labels, id2label=data.id2label, seed=SEED)
    ds = data.to_hf(loaded.tokenizer, max_length=max_length)
    recipe = TextRecipe(epochs=epochs, lr=5e-5, batch_size=32, weight_decay=0.01, warmup=0.1, patience=1, seed=SEED,
                        logging_steps=50)
    run = train_text(loaded.model, loaded.tokenizer, ds, recipe, "recipe", out)
    h = run.history
    return dict(scores(run.trainer.model, loaded.tokenizer, data.test, max_length), train_s=run.time_s, rows=len(data.train),
                epochs=len(h), best_epoch=h.best_epoch)


def unk_share(tokenizer, texts) -> float:
    pieces = [tokenizer.tokenize(str(t)) for t in texts]
    return sum(p == tokenizer.unk_token for ps in pieces for p in ps) / max(1, sum(len(ps) for ps in pieces))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8000, help="training rows for the recipe (sampled)")
    parser.add_argument("--baseline-rows", type=int, default=4000, help="training rows for the plain loop (sampled)")
    parser.add_argument("--zh-rows", type=int, default=2000, help="ChnSentiCorp training rows (long texts: costly)")
    parser.add_argument("--epochs", type=int, default=3, help="recipe epochs (early stopping may stop sooner)")
    parser.add_argument("--eval-rows", type=int, default=None, help="cap on dev/test rows (only to try the script quickly)")
    parser.add_argument("--skip-zh", action="store_true", help="SST-2 only")
    parser.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = parser.parse_args()

    en, zh = shared_data("sentiment_en"), shared_data("sentiment_zh")
    if en is None and zh is None:
        print("SKIP: no shared sentiment data (set FTKIT_SHARED_DATA to the folder holding sentiment_en/ and sentiment_zh/)")
        print("RESULT skipped=1")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    wall = time.perf_counter()
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "ftkit_bench_sentiment"
    rows, result = [], {}

    if en is not None:
        full = load_text_table(en / "sst2_train.tsv", eval_file=en / "sst2_dev.tsv", seed=SEED)
        train = sample(full.train, args.rows)
        dev = sample(full.test, args.eval_rows)
        data = TextData(train, sample(full.val, min(VAL_ROWS, args.eval_rows or VAL_ROWS)), dev, full.classes)
        base = plain_loop(train.iloc[: args.baseline_rows], dev, full.classes, max_length=64)
        rows.append(dict(data="SST-2 dev", run="plain loop (lr 2e-5, 2 epochs)", **base))
        print(rows[-1], flush=True)
        rec = recipe_run(data, max_length=64, epochs=args.epochs, out=work / "sst2")
        rows.append(dict(data="SST-2 dev", run="lesson recipe", **rec))
        print(rows[-1], flush=True)
        result.update(sst2_plain=round(base["accuracy"], 4), sst2_recipe=round(rec["accuracy"], 4),
                      sst2_gain=round(rec["accuracy"] - base["accuracy"], 4))

    if zh is not None and not args.skip_zh:
        full = load_text_table(zh / "ChnSentiCorp_train.csv", eval_file=zh / "ChnSentiCorp_test.csv", seed=SEED)
        val = pd.read_csv(zh / "ChnSentiCorp_validation.csv").dropna(subset=["text", "label"])
        val["label"] = val["label"].astype(str).map(full.label2id)  # the same ids as the train file's classes
        data = TextData(sample(full.train, args.zh_rows), sample(val[["text", "label"]], min(VAL_ROWS // 2, args.eval_rows or VAL_ROWS)),
                        sample(full.test, args.eval_rows), full.classes)
        tok = ftkit.load_text_classifier("minilm-l6", num_labels=2, seed=SEED).tokenizer
        share = unk_share(tok, data.test["text"])
        rec = recipe_run(data, max_length=128, epochs=min(args.epochs, 2), out=work / "chnsenticorp")
        majority = float((data.test["label"] == data.train["label"].value_counts().idxmax()).mean())
        rows.append(dict(data="ChnSentiCorp test", run=f"lesson recipe ([UNK] {share:.0%} of tokens)", **rec))
        print(rows[-1], f"majority baseline {majority:.3f}", flush=True)
        result.update(zh_recipe=round(rec["accuracy"], 4), zh_majority=round(majority, 4), zh_unk=round(share, 3))

    wall_s = time.perf_counter() - wall
    table = pd.DataFrame(rows)
    for col in ("accuracy", "f1"):
        table[col] = table[col].round(4)
    table["train_s"] = table["train_s"].round(0)
    print(table.to_string(index=False))
    if not args.no_results:
        append_results(table, wall_s, args)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()) + f" wall_s={wall_s:.0f}")
    return 0


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub markdown table (pandas' to_markdown needs the optional tabulate package)."""
    head = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def append_results(table: pd.DataFrame, wall_s: float, args) -> None:
    machine = f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), torch {torch.__version__}"
    lines = [
        "",
        f"## bench_sentiment.py: lesson recipe vs plain loop ({dt.date.today().isoformat()})",
        "",
        f"Machine: {machine}, threads {torch.get_num_threads()}. Model: packaged MiniLM-L6 (offline preset). "
        f"Recipe rows {args.rows}, plain-loop rows {args.baseline_rows}, ChnSentiCorp rows {args.zh_rows}. "
        f"Wall time {wall_s / 60:.1f} min.",
        "",
        markdown_table(table),
        "",
    ]
    with open(REPO / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
