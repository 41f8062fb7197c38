"""1 vs 2 processes for `ftkit train` (helmet recipe, Accelerate/DDP over gloo): examples/s, ratio, agreement.

    python benchmarks/bench_ddp.py [--profile smoke|default] [--steps N]

Both runs train the same recipe with the same global batch; examples/s counts training examples over
the training time recorded in History (model loading and process start-up excluded). On this 2-core
machine the two processes share the same 2 cores (torchrun sets 1 thread each) that the single process
uses, so a speed-up is not expected: the point is that two processes give the same loss curve.
On N GPUs each process has its own device and the examples/s scale with N (minus gradient all-reduce).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, machine_line


def run(n: int, out: Path, profile: str, steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    launch = (
        [sys.executable]
        if n == 1
        else [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={n}"]
    )
    cmd = [*launch, "-m", "ftkit", "train", str(REPO / "configs" / "helmet.yaml"), "--profile", profile]
    cmd += [
        "--output-dir",
        str(out),
        "head.epochs=1",
        f"head.max_steps_per_epoch={steps}",
        "finetune.epochs=1",
    ]
    cmd += [f"finetune.max_steps_per_epoch={steps}"]
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=REPO)
    res = json.loads((out / "results.json").read_text())
    rows = {}
    for h in res["histories"]:
        batch, steps_ = h["config"]["batch_size"], h["steps"]
        rows[h["label"]] = {
            "examples_per_s": batch * len(steps_) / h["epochs"][-1]["time_s"],
            "losses": [s["train_loss"] for s in steps_],
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = run(1, Path(tmp) / "one", args.profile, args.steps)
        two = run(2, Path(tmp) / "two", args.profile, args.steps)
    lines = [
        f"## bench_ddp.py ({machine_line()}, profile {args.profile}, {args.steps} steps per stage)",
        "",
        "| stage | 1 process ex/s | 2 processes ex/s | ratio 2/1 | max abs loss difference |",
        "|---|---|---|---|---|",
    ]
    for stage in one:
        a, b = one[stage], two[stage]
        diff = max(abs(x - y) for x, y in zip(a["losses"], b["losses"], strict=True))
        lines.append(
            f"| {stage} | {a['examples_per_s']:.1f} | {b['examples_per_s']:.1f} | "
            f"{b['examples_per_s'] / a['examples_per_s']:.2f}x | {diff:.2e} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
