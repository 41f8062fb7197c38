"""Prometheus metrics for the service, through prometheus-fastapi-instrumentator.

Two families, both at GET /metrics:

* the instrumentator's defaults: `http_requests_total{handler, method, status}`,
  `http_request_duration_seconds{handler, method}` (histogram), request / response sizes;
* ours, per model version (the A/B test): `ftkit_model_requests_total{handler, model_version,
  status}` and `ftkit_model_request_duration_seconds{handler, model_version}` (histogram).
  The version is read from the response header the prediction routes set.

Each app gets its own `CollectorRegistry`, so two apps in one process (tests) do not clash.
"""

from __future__ import annotations

__all__ = ["instrument"]

LATENCY_BUCKETS = (
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
)  # one text ~ms, a batch ~0.1-1 s


def instrument(app, version_header: str):
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_fastapi_instrumentator import Instrumentator, metrics

    registry = CollectorRegistry()
    requests = Counter(
        "ftkit_model_requests_total",
        "Prediction requests answered, per model version",
        ("handler", "model_version", "status"),
        registry=registry,
    )
    latency = Histogram(
        "ftkit_model_request_duration_seconds",
        "Prediction latency per model version",
        ("handler", "model_version"),
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )

    def per_version(info) -> None:
        if not info.modified_handler.startswith("/predict"):
            return
        version = info.response.headers.get(version_header) if info.response is not None else None
        if version is None:  # refused before a model was chosen (bad input, unknown version)
            version = "none"
        requests.labels(info.modified_handler, version, info.modified_status).inc()
        latency.labels(info.modified_handler, version).observe(info.modified_duration)

    instrumentator = Instrumentator(
        excluded_handlers=["/metrics", "/docs", "/openapi.json"], registry=registry
    )
    instrumentator.add(metrics.default(registry=registry, latency_lowr_buckets=LATENCY_BUCKETS))
    instrumentator.add(per_version)
    instrumentator.instrument(app).expose(app, endpoint="/metrics", include_in_schema=True)
    return instrumentator
