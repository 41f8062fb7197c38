"""Lesson 01's stage 2 on real photos: how deep to unfreeze, and what BatchNorm should do.

One run, one stage-1 head, then the same stage 2 (6 epochs, head lr 1e-3, unfrozen blocks
1e-4, best epoch by validation loss) from that same starting point, four ways:

    depth 2 (EfficientNet-Lite0 stage7 + head_conv)        BatchNorm statistics "update" / "pretrained"
    depth 3 (stage6 + stage7 + head_conv: the last stage)   BatchNorm statistics "update" / "pretrained"

"update" is PyTorch's train mode (what the seed's code does); "pretrained" keeps the ImageNet
running statistics while BatchNorm's scale and shift learn (`freeze(..., bn_stats=...)`).
Data: ../shared/datasets/helmet_heads (963 train / 214 val / 236 test); skipped without it.

    python benchmarks/bench_helmet_stage2.py [--epochs 6] [--no-results]

Ends with `RESULT best=... head_only_acc=... <variant>=<test acc> ...`.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

import torch
from _common import append_results, shared_data_or_skip  # benchmarks/_common.py

VARIANTS = [(2, "update"), (2, "pretrained"), (3, "update"), (3, "pretrained")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6, help="stage-2 epochs (the lesson's default)")
    ap.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    data_dir = shared_data_or_skip("helmet_heads")
    if data_dir is None:
        return 0

    import ftkit
    from ftkit.freeze import freeze

    torch.set_num_threads(min(torch.get_num_threads(), 4))
    data = ftkit.load_image_folder(data_dir, image_size=128, seed=0)
    loaded = ftkit.load_vision("efficientnet_lite0", num_classes=len(data.classes), seed=0)
    model = loaded.model

    def test_accuracy() -> float:
        _, preds, targets = ftkit.predict(model, data.test)
        return float((preds == targets).mean())

    freeze(model, depth=0)
    head_cfg = ftkit.TrainConfig(
        lr=1e-3, optimizer="adam", epochs=15, batch_size=32, seed=0
    )  # the lesson's stage 1
    start = time.perf_counter()
    ftkit.fit(model, data.train, data.val, head_cfg, metrics=("accuracy",), progress=False)
    head_s, head_acc = time.perf_counter() - start, test_accuracy()
    after_head = copy.deepcopy(model.state_dict())  # every stage-2 variant starts from exactly this model

    rows = []
    for depth, bn in VARIANTS:
        model.load_state_dict(after_head)  # weights and BatchNorm statistics as after stage 1
        freeze(model, depth=depth, bn_stats=bn)
        cfg = head_cfg.updated(backbone_lr_mult=0.1, epochs=args.epochs)
        start = time.perf_counter()
        history = ftkit.fit(model, data.train, data.val, cfg, metrics=("accuracy",), progress=False)
        seconds = time.perf_counter() - start
        best = history.best()
        rows.append(
            (
                depth,
                bn,
                test_accuracy(),
                best["val_accuracy"],
                best["epoch"],
                history.epochs[0]["train_loss"],
                seconds,
            )
        )
        print(
            f"depth {depth} bn_stats={bn:10s} test {rows[-1][2]:.4f} val {best['val_accuracy']:.4f} "
            f"(best epoch {best['epoch']}) first-epoch train loss {rows[-1][5]:.3f}, {seconds:.0f} s",
            flush=True,
        )

    table = [
        "| unfrozen blocks | BatchNorm statistics | test accuracy | val accuracy (best epoch) "
        "| first-epoch train loss | stage-2 time |",
        "|---|---|---|---|---|---|",
        f"| none (stage 1, linear head) | - | {head_acc:.4f} | | | {head_s:.0f} s |",
    ]
    table += [
        f"| {d} | {bn} | {acc:.4f} | {val:.4f} ({ep}) | {loss:.3f} | {s:.0f} s |"
        for d, bn, acc, val, ep, loss, s in rows
    ]
    print("\n".join(table))
    if not args.no_results:
        append_results(
            "bench_helmet_stage2.py: unfreeze depth x BatchNorm statistics "
            "(EfficientNet-Lite0, helmet_heads, 128 px)",
            f"One stage-1 head (15 epochs, 963 train images), then {args.epochs} stage-2 epochs "
            "from the same head for each row; "
            "depth 2 = stage7 + head_conv, depth 3 = stage6 + stage7 + head_conv "
            "(the stride-32 stage, like ResNet's layer4).\n\n" + "\n".join(table) + "\n",
        )
    best_row = max(rows, key=lambda r: r[3])  # chosen by validation accuracy, as a learner would
    print(
        f"RESULT best=depth{best_row[0]}_{best_row[1]} head_only_acc={head_acc:.4f} "
        + " ".join(f"depth{d}_{bn}={acc:.4f}" for d, bn, acc, *_ in rows)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
