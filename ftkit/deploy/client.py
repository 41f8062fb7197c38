"""Call the service like a client: start it as a real process, then a bounded load test with httpx.

    with ServerProcess([text_dir]) as server:        # `ftkit serve` on 127.0.0.1, a free port
        httpx.post(server.url + "/predict/text", json={"texts": ["great stay"]}).json()
        report = load_test(server.url + "/predict/text", [{"texts": [t]} for t in texts],
                           requests=2000, concurrency=16)

`load_test` keeps at most `concurrency` requests in flight (asyncio + one httpx.AsyncClient)
and counts every non-2xx answer or transport error as failed. It runs its event loop in a
thread of its own, so it also works inside Jupyter (which already runs a loop).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import ConfigError, ModelError
from ..infra.paths import repo_root

__all__ = ["free_port", "ServerProcess", "load_test"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m ftkit serve DIRS --port N` as a subprocess, stopped on exit from the `with`."""

    def __init__(
        self,
        model_dirs,
        *,
        split: str | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        extra_args=(),
        startup_timeout: float = 90.0,
    ):
        self.host, self.port = host, port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.args = [
            sys.executable,
            "-m",
            "ftkit",
            "serve",
            *map(str, model_dirs),
            "--host",
            host,
            "--port",
            str(self.port),
            *(["--split", split] if split else []),
            *map(str, extra_args),
        ]
        self.startup_timeout = startup_timeout
        self.process = None
        self._log = None

    def start(self) -> ServerProcess:
        import httpx

        self._log = tempfile.TemporaryFile(mode="w+")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root()), os.environ.get("PYTHONPATH")])),
        }
        self.process = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ModelError(
                    f"ftkit serve exited with code {self.process.returncode}: {self.log().strip()[-400:]}"
                )
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ModelError(
            f"ftkit serve did not answer /health within {self.startup_timeout:.0f} s: {self.log()[-400:]}"
        )

    def log(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # uvicorn shuts down cleanly on SIGTERM
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


async def _run(url: str, payloads, requests: int, concurrency: int, timeout: float) -> dict:
    import httpx

    latencies, statuses, versions, errors = [], Counter(), Counter(), Counter()
    next_index = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client):
        for i in next_index:
            payload = payloads[i % len(payloads)]
            t = time.perf_counter()
            try:
                r = await client.post(url, json=payload)
                statuses[r.status_code] += 1
                if r.status_code < 300:
                    versions[r.json().get("model_version")] += 1
            except httpx.HTTPError as err:
                errors[type(err).__name__] += 1
            latencies.append(time.perf_counter() - t)

    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    ok = sum(n for s, n in statuses.items() if s < 300)
    return {
        "requests": requests,
        "concurrency": concurrency,
        "ok": ok,
        "failed_requests": requests - ok,
        "wall_s": wall,
        "rps": requests / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "statuses": dict(statuses),
        "errors": dict(errors),
        "versions": dict(versions),
    }


def load_test(url: str, payloads, requests: int = 2000, concurrency: int = 16, timeout: float = 30.0) -> dict:
    """POST `requests` JSON payloads (cycled) to `url`, at most `concurrency` at a time.

    Returns requests/s, latency p50/p95/p99 in ms (each request from send to answer), the count of
    failed requests (non-2xx or no answer), the status codes and which model versions answered.
    """
    if not payloads:
        raise ConfigError("load_test needs at least one payload, e.g. [{'texts': ['great stay']}].")
    if requests < 1 or not 1 <= concurrency <= 256:
        raise ConfigError(
            f"requests={requests}, concurrency={concurrency}: use requests >= 1 and 1..256 in flight."
        )
    with ThreadPoolExecutor(1) as pool:  # a fresh event loop, also inside Jupyter's running one
        return pool.submit(asyncio.run, _run(url, list(payloads), requests, concurrency, timeout)).result()
