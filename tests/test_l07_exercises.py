"""Lesson 07's exercise checks work the truth out from the tables and load tests they are given."""

import numpy as np
import pandas as pd

from ftkit.lessons.l07_exercises import (
    check_batching_gain,
    check_concurrency_effect,
    check_p95,
    check_size_ratio,
)

TABLE = pd.DataFrame(
    {"variant": ["PyTorch fp32", "ORT fp32", "ORT INT8"], "size_mb": [16.0, 16.0, 4.0], "p50_ms": [9, 3, 2]}
).set_index("variant")


def load(rps, p95):
    return {"rps": rps, "p95_ms": p95}


def test_check_size_ratio(capsys):
    assert check_size_ratio(4.0, TABLE) and check_size_ratio(4.1, TABLE)
    assert capsys.readouterr().out.startswith("Right: 4.00x")
    assert not check_size_ratio(0.25, TABLE)  # the ratio the other way round
    assert "4" not in capsys.readouterr().out.split("Not yet:")[1]  # a hint, not the number
    assert not check_size_ratio(None, TABLE) and "No answer yet" in capsys.readouterr().out
    assert not check_size_ratio(4.0, TABLE.drop("ORT INT8"))  # no INT8 row: a hint, no exception


def test_check_concurrency_effect_reads_the_two_p95s(capsys):
    assert check_concurrency_effect("rises", load(100, 10.0), load(110, 40.0))
    assert check_concurrency_effect("About the same", load(100, 10.0), load(100, 10.5))
    assert check_concurrency_effect("falls", load(100, 10.0), load(100, 5.0))
    assert not check_concurrency_effect("falls", load(100, 10.0), load(110, 40.0))
    assert not check_concurrency_effect("doubles", load(100, 10.0), load(110, 40.0))
    assert "one of" in capsys.readouterr().out.splitlines()[-1]
    assert not check_concurrency_effect("rises", None, load(1, 1))


def test_check_p95_accepts_the_usual_definitions_and_not_the_mean_or_max():
    lat = np.arange(1.0, 101.0)  # 1..100 ms
    assert check_p95(np.percentile(lat, 95), lat) and check_p95(95, list(lat)) and check_p95(96.0, lat)
    assert not check_p95(float(lat.mean()), lat) and not check_p95(100.0, lat)
    assert not check_p95(None, lat) and not check_p95("95", lat) and not check_p95(True, lat)
    assert not check_p95(95, []) and not check_p95(95, lat[:5])  # too few latencies: a hint


def test_check_batching_gain():
    assert check_batching_gain(5.0, load(100, 10), load(62.5, 30), 8)  # 500 texts/s vs 100
    assert not check_batching_gain(0.625, load(100, 10), load(62.5, 30), 8)  # the requests/s ratio
    assert not check_batching_gain(None, load(100, 10), load(62.5, 30), 8)
    assert not check_batching_gain(5.0, None, load(62.5, 30), 8)
