"""Checks for lesson 07's exercises: each works the truth out from the tables and load tests it is given.

    check_size_ratio(3.4, helmet_table)                  # fp32 file size / INT8 file size
    check_concurrency_effect("rises", calm, busy)        # what more requests in flight do to p95
    check_p95(12.5, latencies_ms)                        # a p95 you computed from raw latencies
    check_batching_gain(5.0, single, batched, 8)         # texts/s gained by 8 texts per request

Each prints one line (a hint, never the answer) and returns True or False; none raises on a
wrong or missing answer (ftkit.lessons.exercise).
"""

from __future__ import annotations

import numpy as np

from .exercise import close_to, feedback, one_of, unanswered

__all__ = ["check_size_ratio", "check_concurrency_effect", "check_p95", "check_batching_gain"]

TRENDS = ("rises", "falls", "about the same")
SAME_BAND = 0.10  # within 10 %: run-to-run noise of timings on a shared CPU (lesson 07, section 2)


def _number(answer) -> bool:
    return (
        isinstance(answer, (int, float, np.number)) and not isinstance(answer, bool) and np.isfinite(answer)
    )


def _missing(what: str, answer) -> bool:
    return feedback(False, right="", hint=f"{what} first: run the cell above it.", answer=answer)


def check_size_ratio(answer, table, fp32: str = "ORT fp32", int8: str = "ORT INT8") -> bool:
    """`answer`: how many times smaller the INT8 file is than the fp32 one, from a
    `compare_runtimes` table (column size_mb)."""
    if table is None or fp32 not in table.index or int8 not in table.index:
        return _missing(f"a table with rows {fp32!r} and {int8!r}", answer)
    truth = float(table.loc[fp32, "size_mb"] / table.loc[int8, "size_mb"])
    return feedback(
        close_to(answer, truth, rel=0.05),
        right=f"{truth:.2f}x smaller: int8 weights take 1 byte instead of 4, and what stays fp32 "
        "(biases, scales, an embedding table) keeps it from being 4x.",
        hint=f"divide the {fp32!r} row's size_mb by the {int8!r} row's (a ratio above 1).",
        answer=answer,
    )


def check_concurrency_effect(answer, calm: dict, busy: dict) -> bool:
    """`answer`: "rises", "falls" or "about the same": what p95 latency does from the load test
    `calm` (fewer requests in flight) to `busy` (more in flight). Within 10 % counts as the same."""
    if not calm or not busy:
        return _missing("both load tests", answer)
    ratio = busy["p95_ms"] / calm["p95_ms"]
    truth = "rises" if ratio > 1 + SAME_BAND else "falls" if ratio < 1 - SAME_BAND else "about the same"
    choice = one_of(answer, TRENDS)
    if choice is None and not unanswered(answer):
        return feedback(False, right="", hint=f"answer with one of: {', '.join(TRENDS)}.", answer=answer)
    return feedback(
        choice == truth,
        right=f"p95 went from {calm['p95_ms']:.1f} to {busy['p95_ms']:.1f} ms ({ratio:.1f}x) while "
        f"requests/s went from {calm['rps']:.0f} to {busy['rps']:.0f}: requests in flight wait in a queue.",
        hint="compare the two p95_ms values printed by the cell; "
        "the CPU does not get faster with more requests.",
        answer=answer,
    )


def check_p95(answer, latencies_ms) -> bool:
    """`answer`: the 95th percentile of `latencies_ms` (95 % of the calls were faster)."""
    values = np.asarray([] if latencies_ms is None else list(latencies_ms), dtype=float)
    if values.size < 20:
        return _missing("at least 20 latencies in latencies_ms", answer)
    low, high = np.percentile(values, 94), np.percentile(values, 96)  # nearest-rank and interpolated p95
    # any usual definition of p95 lies between the 94th and 96th percentiles; 2 % for rounding
    ok = _number(answer) and 0.98 * low <= float(answer) <= 1.02 * high
    return feedback(
        ok,
        right=f"p95 {np.percentile(values, 95):.2f} ms against a median of {np.median(values):.2f} ms: "
        "the slow tail is what users notice.",
        hint="sort the latencies and take the value 95 % of the way up (np.percentile(latencies_ms, 95)); "
        "not the mean, not the maximum.",
        answer=answer,
    )


def check_batching_gain(answer, single: dict, batched: dict, per_request: int) -> bool:
    """`answer`: how many times more texts per second the server handled with `per_request` texts in
    each request (`batched`) than with one text per request (`single`)."""
    if not single or not batched or per_request < 1:
        return _missing("both load tests", answer)
    truth = batched["rps"] * per_request / single["rps"]
    return feedback(
        close_to(answer, truth, rel=0.05),
        right=f"{truth:.1f}x the texts per second, "
        f"with {batched['rps'] / single['rps']:.2f}x the requests/s: "
        "one request's overhead (HTTP, JSON, a Python call, a small matrix product) is shared by the batch.",
        hint="texts/s is requests/s times texts per request; "
        "compare the batched texts/s with the single one.",
        answer=answer,
    )
