"""Benchmark: dynamic padding (DataCollatorWithPadding) vs padding every text to max_length=512.

    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_padding.py [--texts 96] [--no-results]

The seed article tokenizes with `padding="max_length", max_length=512`; the lesson pads each
batch to its own longest text. Both sides run the same texts through the same model for a
training step (forward + backward, gradients thrown away), batch 16, after one warm-up batch
each. Texts: the sample reviews (data_samples/sentiment/sentiment_en.csv) and, when the shared
data is present, SST-2 dev sentences. Model: the default profile's text preset (packaged
MiniLM-L6 offline). Prints both throughputs and their ratio, ends with `RESULT ratio=...`, and
appends a table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import append_results, shared_data  # noqa: E402  (benchmarks/_common.py)

import ftkit  # noqa: E402
from ftkit.lessons.l03_sentiment import time_padding  # noqa: E402

BATCH = 16  # the lesson's batch size
MAX_LENGTH = 512  # the seed article's padding length (BERT's limit)


def text_sets(n: int) -> dict:
    sets = {"sample reviews": pd.read_csv(REPO / "data_samples" / "sentiment" / "sentiment_en.csv")["text"]}
    dev = shared_data("sentiment_en/sst2_dev.tsv")
    if dev is not None:
        sets["SST-2 dev"] = pd.read_csv(dev, sep="\t")["content"]
    return {name: texts.sample(n=min(n, len(texts)), random_state=0).tolist() for name, texts in sets.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=32, help="texts per set (2 batches of 16)")
    parser.add_argument(
        "--model", default=None, help="preset or folder; default: the default profile's text model"
    )
    parser.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ftkit.seed_everything(0)
    loaded = ftkit.load_text_classifier(args.model, num_labels=2, profile="default")
    rows = []
    for name, texts in text_sets(args.texts).items():
        time_padding(
            loaded.model, loaded.tokenizer, texts[:BATCH], MAX_LENGTH, BATCH
        )  # warm-up: first calls allocate
        r = time_padding(loaded.model, loaded.tokenizer, texts, MAX_LENGTH, BATCH)
        rows.append(
            {
                "texts": name,
                "n": len(texts),
                "dynamic texts/s": round(r["dynamic_texts_per_s"], 1),
                "dynamic mean length": round(r["dynamic_mean_length"], 1),
                "max_length=512 texts/s": round(r["max_length_texts_per_s"], 2),
                "ratio": round(r["ratio"], 1),
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if not args.no_results:
        head = "| " + " | ".join(table.columns) + " |\n|" + "|".join("---" for _ in table.columns) + "|\n"
        body = "".join(
            "| " + " | ".join(str(v) for v in row) + " |\n" for row in table.itertuples(index=False)
        )
        append_results(
            "bench_padding.py: dynamic padding vs max_length=512",
            f"Threads {torch.get_num_threads()}. Model: {loaded.name}. Training step (forward + backward), "
            f"batch {BATCH}.\n\n{head}{body}",
        )
    print(
        f"RESULT ratio={rows[0]['ratio']} "
        + " ".join(f"ratio_{r['texts'].replace(' ', '_').replace('-', '')}={r['ratio']}" for r in rows)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
