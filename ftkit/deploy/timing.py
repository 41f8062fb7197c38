"""Side-by-side speed and accuracy of PyTorch fp32, ORT fp32 and ORT INT8 (lesson 07, step 2).

    table = compare_runtimes({"PyTorch fp32": (torch_fn, bytes), "ORT fp32": (...), "ORT INT8": (...)},
                             inputs, labels)

Each variant is a function from a list (texts, or a stacked pixel array) to probabilities.
Timings are interleaved: round 1 times every variant once, round 2 again, ...; so a noisy
neighbour on a shared CPU slows every variant alike instead of one of them.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["compare_runtimes", "speedups"]


def _take(inputs, idx):
    return inputs[idx] if isinstance(inputs, np.ndarray) else [inputs[i] for i in idx]


def compare_runtimes(
    variants: dict, inputs, labels, *, batch: int = 32, single_calls: int = 60, rounds: int = 3
):
    """A DataFrame: size_mb, latency p50/p95 (ms, batch 1), items/s at `batch`, accuracy on `inputs`.

    variants: name -> (predict_fn, size_in_bytes). Accuracy uses every input; latency uses
    `single_calls` single items per round; throughput one pass over up to 4 batches per round.
    """
    import pandas as pd

    labels = np.asarray(labels)
    n = len(labels)
    rows = {}
    for name, (fn, size) in variants.items():
        pred = fn(inputs).argmax(1)  # also the warm-up (ORT allocates its arena on the first call)
        rows[name] = {
            "variant": name,
            "size_mb": size / 1e6,
            "accuracy": float((pred == labels).mean()),
            "_lat": [],
            "_thr": [],
        }
    singles = [[i % n] for i in range(single_calls)]
    chunk = [list(range(s, min(s + batch, n))) for s in range(0, min(n, 4 * batch), batch)]
    chunk = [c for c in chunk if len(c) == batch] or chunk[:1]
    for _ in range(rounds):
        for name, (fn, _size) in variants.items():
            for idx in singles[: single_calls // rounds or 1]:
                t = time.perf_counter()
                fn(_take(inputs, idx))
                rows[name]["_lat"].append(time.perf_counter() - t)
            t = time.perf_counter()
            for idx in chunk:
                fn(_take(inputs, idx))
            rows[name]["_thr"].append(sum(len(c) for c in chunk) / (time.perf_counter() - t))
    out = []
    for row in rows.values():
        lat = np.asarray(row.pop("_lat")) * 1000
        row.update(
            {
                "p50_ms": float(np.percentile(lat, 50)),
                "p95_ms": float(np.percentile(lat, 95)),
                f"items_per_s_b{batch}": float(np.median(row.pop("_thr"))),
            }
        )
        out.append(row)
    cols = ["variant", "size_mb", "p50_ms", "p95_ms", f"items_per_s_b{batch}", "accuracy"]
    return pd.DataFrame(out)[cols].set_index("variant")


def speedups(table, base: str = "PyTorch fp32", fp32: str = "ORT fp32", int8: str = "ORT INT8") -> dict:
    """ort_speedup (ORT fp32 vs PyTorch), int8_speedup (INT8 vs ORT fp32) on p50 latency at batch 1,
    the same two on batch throughput, and int8_acc_drop (ORT fp32 accuracy minus INT8 accuracy)."""
    thr = [c for c in table.columns if c.startswith("items_per_s")][0]
    return {
        "ort_speedup": table.loc[base, "p50_ms"] / table.loc[fp32, "p50_ms"],
        "int8_speedup": table.loc[fp32, "p50_ms"] / table.loc[int8, "p50_ms"],
        "ort_speedup_batch": table.loc[fp32, thr] / table.loc[base, thr],
        "int8_speedup_batch": table.loc[int8, thr] / table.loc[fp32, thr],
        "int8_acc_drop": table.loc[fp32, "accuracy"] - table.loc[int8, "accuracy"],
    }
