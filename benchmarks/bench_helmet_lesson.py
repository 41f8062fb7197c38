"""Lesson 01 on real photos: does the two-stage recipe beat a linear head on frozen features?

Runs notebooks/01_helmet_classifier.ipynb headless (papermill, default profile) with
DATA_DIR pointed at real site crops (helmet_heads: 963 train / 214 val / 236 test images).
The notebook itself measures both sides on the same test images in the same run:

* head only  : stage 1, a linear head trained on frozen ImageNet features (the ~0.91 reference);
* two stages : stage 2, the top block unfrozen with a 10x smaller learning rate.

The real data lives outside the repository (`../shared/datasets` next to the repo root, or
`$FTKIT_SHARED_DATA`); without it the benchmark is skipped with a message (exit code 0).

    python benchmarks/bench_helmet_lesson.py [--profile default] [--out DIR] [--no-results]

The last line printed is `RESULT two_stage_acc=... head_only_acc=... wall_s=...`; a markdown
table is appended to benchmarks/RESULTS.md unless `--no-results` is given.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from _common import shared_data_or_skip  # benchmarks/_common.py

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_helmet_classifier.ipynb"
GOAL_S = 300  # the lesson should run in under 5 minutes on a 2-core CPU
REFERENCE_ACC = 0.91  # linear head on frozen EfficientNet-Lite0 features (shared/datasets/README.md)


def new_images(data_dir: Path) -> list:
    """Two test photos per class for the notebook's 'new photos' section."""
    return [
        str(p) for cls in ("helmet", "no_helmet") for p in sorted((data_dir / "test" / cls).iterdir())[:2]
    ]


def run_notebook(data_dir: Path, out_dir: Path, profile: str) -> tuple[dict, float]:
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the lesson must work offline
    start = time.perf_counter()
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out_dir / NOTEBOOK.name),
        cwd=str(NOTEBOOK.parent),
        parameters={
            "DATA_DIR": str(data_dir),
            "PROFILE": profile,
            "OUTPUT_DIR": str(out_dir),
            "NEW_IMAGES": new_images(data_dir),
        },
        progress_bar=False,
        kernel_name="python3",
    )
    wall = time.perf_counter() - start
    return json.loads((out_dir / "results.json").read_text()), wall


def append_results(res: dict, wall: float, profile: str) -> None:
    import torch

    m = res["metrics"]
    machine = f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}"
    lines = [
        f"\n### lesson 01 on real helmet crops ({datetime.date.today().isoformat()}, {machine})\n",
        f"profile {profile}, model {res['model']}, {res.get('image_size')} px, augment={res.get('augment')}, "
        f"unfreeze depth {res.get('unfreeze_depth')}, epochs {res.get('epochs_head')} head + "
        f"{res.get('epochs_finetune')} fine-tune; "
        "machine shared with other jobs, so times are upper bounds.\n",
        "| recipe | test accuracy | test F1 | val accuracy | time |",
        "|---|---|---|---|---|",
        f"| head only (frozen features, linear head) | {m['head_only_test_accuracy']:.3f} | | "
        f"{m['head_only_val_accuracy']:.3f} | {m['head_time_s']:.0f} s |",
        f"| two stages (+ top block at 10x smaller lr) | {m['test_accuracy']:.3f} | "
        f"{m['test_f1_macro']:.3f} | "
        f"{m['val_accuracy']:.3f} | {m['finetune_time_s']:.0f} s |",
        f"| ratio two-stage / head-only accuracy | "
        f"{m['test_accuracy'] / max(m['head_only_test_accuracy'], 1e-9):.3f} | | | |",
        f"\nWhole notebook: {wall:.0f} s (goal < {GOAL_S} s). "
        f"Reference: {REFERENCE_ACC} (datasets README).\n",
    ]
    with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="default")
    ap.add_argument(
        "--out", default=None, help="where the executed notebook and results.json go (default: a temp folder)"
    )
    ap.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)

    data_dir = shared_data_or_skip("helmet_heads")
    if data_dir is None:
        return 0
    out_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench_helmet_lesson_"))
    print(f"running {NOTEBOOK.name} on {data_dir} (profile {args.profile}) -> {out_dir}", flush=True)
    res, wall = run_notebook(data_dir, out_dir, args.profile)
    m = res["metrics"]
    head, two = m["head_only_test_accuracy"], m["test_accuracy"]
    print(f"model: {res['model']} ({res.get('model_source')}), {res.get('image_size')} px")
    print(
        f"head only : test accuracy {head:.3f} (val {m['head_only_val_accuracy']:.3f}), "
        f"{m['head_time_s']:.0f} s"
    )
    print(
        f"two stages: test accuracy {two:.3f} (val {m['val_accuracy']:.3f}), "
        f"F1 {m['test_f1_macro']:.3f}, {m['finetune_time_s']:.0f} s"
    )
    print(
        f"ratio two-stage / head-only accuracy: {two / max(head, 1e-9):.3f}; reference {REFERENCE_ACC}; "
        f"notebook wall time {wall:.0f} s (goal < {GOAL_S} s)"
    )
    if not args.no_results:
        append_results(res, wall, args.profile)
    print(f"RESULT two_stage_acc={two:.4f} head_only_acc={head:.4f} wall_s={wall:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
