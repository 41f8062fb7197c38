"""Benchmark: lesson 07's deployment on real data: PyTorch fp32 vs ORT fp32 vs ORT INT8, and the service.

    flock /tmp/ftkit-heavy.lock .venv/bin/python benchmarks/bench_deploy.py          # ~6 min on 2 cores

Text: the packaged MiniLM-L6 fine-tuned with the lesson's recipe (3 epochs, lr 1e-4) on `--rows`
sampled SST-2 training sentences, exported to ONNX, dynamically quantised to INT8, all three scored
on the whole SST-2 dev set (872 sentences). Images: a new head on the packaged EfficientNet-Lite0
(lesson 01's stage 1, 10 epochs on cached features) trained on helmet_heads train, statically
quantised with the val images, scored on helmet_heads test (236 crops). Without the shared data the
kit's samples are used instead (and the heading says so).

Each table: file size, latency p50/p95 at batch 1 (single calls), throughput at batch 32, accuracy;
the three variants' timing rounds are interleaved. Then `ftkit serve` with the fp32 (v1) and INT8
(v2) text models at 80/20 and a load test: `--requests` requests, `--concurrency` in flight, one
dev sentence per request. Ends with one RESULT line and appends the tables to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import append_results, machine_line, shared_data  # noqa: E402  (benchmarks/_common.py)

import ftkit  # noqa: E402
from ftkit import deploy  # noqa: E402
from ftkit.lessons import l07_deploy  # noqa: E402

SEED = 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="SST-2 training sentences to fine-tune on")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--threads", type=int, default=2, help="torch and ORT threads in the tables (2 cores here)"
    )
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    ftkit.seed_everything(SEED)
    profile = ftkit.get_profile("default")
    sst2, helmets = shared_data("sentiment_en"), shared_data("helmet_heads")
    data_note = (
        (f"SST-2 ({args.rows} train sentences, dev 872)" if sst2 else "sample reviews (no SST-2 found)")
        + ", "
        + ("helmet_heads (train / val calibration / test)" if helmets else "sample helmets (no helmet_heads)")
    )
    print(machine_line(), "|", data_note, flush=True)
    out = Path(tempfile.mkdtemp(prefix="bench_deploy-"))

    if sst2:
        text = l07_deploy.text_model_for_deploy(
            profile,
            out / "train_text",
            train_file=sst2 / "sst2_train.tsv",
            eval_file=sst2 / "sst2_dev.tsv",
            max_rows=args.rows,
            seed=SEED,
        )
    else:
        text = l07_deploy.text_model_for_deploy(profile, out / "train_text", seed=SEED)
    helmet = l07_deploy.helmet_model_for_deploy(profile, data_dir=helmets, seed=SEED)
    print(
        f"trained: text {text.metrics} in {text.time_s:.0f} s; "
        f"helmet {helmet.metrics} in {helmet.time_s:.0f} s",
        flush=True,
    )

    v1 = deploy.export_text_model(
        text.model, text.tokenizer, out / "v1", name="sentiment", version="v1", metrics=text.metrics
    )
    v2 = deploy.quantize_dynamic_dir(v1.path, out / "v2", version="v2")
    h1 = deploy.export_image_model(
        helmet.model,
        out / "h1",
        name="helmet",
        version="h1",
        labels=helmet.data.classes,
        image_size=helmet.data.image_size,
        metrics=helmet.metrics,
    )
    h8 = deploy.quantize_static_dir(h1.path, out / "h8", helmet.data.val, version="h8")
    texts, labels = list(text.data.test["text"]), text.data.test["label"].to_numpy()
    parity = deploy.text_parity(text.model, text.tokenizer, v1.path, texts)
    hparity = deploy.image_parity(helmet.model, h1.path, helmet.data.test)
    print("parity:", parity, hparity, flush=True)

    t32, t8 = (deploy.OnnxClassifier(d.path, threads=args.threads) for d in (v1, v2))
    text_table = deploy.compare_runtimes(
        {
            "PyTorch fp32": (
                lambda x: deploy.torch_text_probs(text.model, text.tokenizer, x),
                v1.onnx_path.stat().st_size,
            ),
            "ORT fp32": (t32.predict_texts, v1.onnx_path.stat().st_size),
            "ORT INT8": (t8.predict_texts, v2.onnx_path.stat().st_size),
        },
        texts,
        labels,
        single_calls=150,
    )
    i32, i8 = (deploy.OnnxClassifier(d.path, threads=args.threads) for d in (h1, h8))
    pixels = np.stack([i32.preprocess_image(p) for p in helmet.data.test.paths])
    image_table = deploy.compare_runtimes(
        {
            "PyTorch fp32": (
                lambda x: deploy.torch_image_probs(helmet.model, x),
                h1.onnx_path.stat().st_size,
            ),
            "ORT fp32": (i32.predict_arrays, h1.onnx_path.stat().st_size),
            "ORT INT8": (i8.predict_arrays, h8.onnx_path.stat().st_size),
        },
        pixels,
        np.asarray(helmet.data.test.targets),
        single_calls=150,
    )
    ts, hs = deploy.speedups(text_table), deploy.speedups(image_table)
    print(
        text_table.round(3).to_string(),
        "\n",
        ts,
        "\n",
        image_table.round(3).to_string(),
        "\n",
        hs,
        flush=True,
    )

    with deploy.ServerProcess([v1.path, v2.path], split="v1=0.8,v2=0.2") as server:
        load = deploy.load_test(
            server.url + "/predict/text",
            [{"texts": [t]} for t in texts],
            requests=args.requests,
            concurrency=args.concurrency,
        )
    print({k: v for k, v in load.items() if k != "errors"}, flush=True)
    flags = deploy.cpu_flags()
    wall = time.perf_counter() - start
    result = (
        f"RESULT ort_speedup={ts['ort_speedup']:.2f} int8_speedup={ts['int8_speedup']:.2f} "
        f"int8_acc_drop={ts['int8_acc_drop']:.4f} rps={load['rps']:.0f} p95_ms={load['p95_ms']:.1f}"
    )
    if not args.no_save:
        body = (
            f"Data: {data_note}. CPU: {flags['verdict']}. Wall time {wall:.0f} s. "
            f"Parity: text {parity['labels_agree']}/{parity['examples']} labels agree "
            f"(max prob diff {parity['max_prob_diff']:.1e}), "
            f"helmet {hparity['labels_agree']}/{hparity['examples']} "
            f"({hparity['max_prob_diff']:.1e}).\n\n"
            f"Text (MiniLM-L6, {len(texts)} test sentences, {args.threads} threads):\n\n"
            f"```\n{text_table.round(3).to_string()}\n```\n\n"
            f"Helmet (EfficientNet-Lite0, {len(pixels)} test crops, static INT8 calibrated on val):\n\n"
            f"```\n{image_table.round(3).to_string()}\n```\n\n"
            f"Speed-ups at batch 1 (p50) / batch 32: "
            f"text ORT {ts['ort_speedup']:.2f}x / {ts['ort_speedup_batch']:.2f}x, "
            f"INT8 {ts['int8_speedup']:.2f}x / {ts['int8_speedup_batch']:.2f}x; "
            f"helmet ORT {hs['ort_speedup']:.2f}x / {hs['ort_speedup_batch']:.2f}x, "
            f"INT8 {hs['int8_speedup']:.2f}x / {hs['int8_speedup_batch']:.2f}x, "
            f"accuracy drop {hs['int8_acc_drop']:.4f}.\n\n"
            f"Service (`ftkit serve` v1 fp32 80 % / v2 INT8 20 %, 1 ORT thread per request, "
            f"client on the same 2 cores): {load['requests']} requests at {load['concurrency']} in flight, "
            f"{load['rps']:.0f} requests/s, "
            f"p50 {load['p50_ms']:.1f} ms, p95 {load['p95_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, "
            f"{load['failed_requests']} failed, answered by {load['versions']}.\n\n`{result}`"
        )
        append_results("bench_deploy: ONNX Runtime, INT8 and the service (lesson 07)", body)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
