"""A real JupyterLab and a real (Debian) Chromium for the browser tests.

`jupyter_lab` starts `jupyter lab` on a free local port with a random token, serving a
temporary copy of the notebooks and the sample data (the run never touches the committed
notebooks), in the smoke profile.  Like a learner's first `make lab`, it starts with empty user
settings and the class defaults that `make lab` writes into the environment (no news pop-up,
`ftkit.infra.lab`), here in an app-settings folder of its own.  It is stopped at the end:
terminate, wait, kill if it hangs.

After each test the lab's kernels are shut down (through the REST API), so one lesson's
kernel never competes with the next lesson for the CPU and memory.

`page` is a Playwright page in /usr/bin/chromium (never a downloaded browser).  When a test
fails, a screenshot of the page is written to tests/_artifacts/<test name>-failure.png.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ftkit.infra.lab import write_lab_settings

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "_artifacts"
CHROMIUM = "/usr/bin/chromium"  # Debian's package; the Makefile installs it if missing
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_S = 90  # a cold JupyterLab start on a busy 2-core machine takes 5-30 s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_workspace(root: Path) -> None:
    """notebooks/ and data_samples/ side by side, as in the repository (paths like ../data_samples work)."""
    (root / "notebooks").mkdir(parents=True)
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        shutil.copy2(nb, root / "notebooks" / nb.name)
    shutil.copytree(REPO / "data_samples", root / "data_samples")


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory):
    """(base URL, token, served root folder) of a JupyterLab started for these tests."""
    jupyter = Path(sys.executable).parent / "jupyter"
    if not jupyter.exists():
        pytest.fail(f"{jupyter} not found: run `make setup` first.")
    root = tmp_path_factory.mktemp("lab")
    _copy_workspace(root / "work")
    write_lab_settings(root / "app-settings")  # what `make lab` writes into .venv/share/jupyter/lab/settings
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "FTKIT_PROFILE": "smoke",
        "HF_HUB_OFFLINE": "1",
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    log = open(root / "server.log", "w")
    server = subprocess.Popen(
        [
            str(jupyter),
            "lab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root / 'work'}",
            f"--LabApp.app_settings_dir={root / 'app-settings'}",
            f"--LabApp.user_settings_dir={root / 'user-settings'}",
            f"--LabApp.workspaces_dir={root / 'workspaces'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=root,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with code {server.returncode}:\n"
                    f"{(root / 'server.log').read_text()[-3000:]}"
                )
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"JupyterLab did not answer within {SERVER_START_S} s:\n"
                        f"{(root / 'server.log').read_text()[-3000:]}"
                    )
                time.sleep(0.5)
        yield base, token, root / "work"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / "server.log", ARTIFACTS / "jupyterlab-server.log")


def _api(base: str, token: str, method: str, path: str):
    request = urllib.request.Request(
        f"{base}{path}", method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        body = answer.read()
    return json.loads(body) if body else None


@pytest.fixture(autouse=True)
def _shut_down_kernels(request):
    yield
    if "jupyter_lab" in request.fixturenames:
        base, token, _ = request.getfixturevalue("jupyter_lab")
        for session in _api(base, token, "GET", "/api/sessions"):
            _api(base, token, "DELETE", f"/api/sessions/{session['id']}")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (`make browser` does it).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture()
def page(browser, request):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    pg = context.new_page()
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-failure.png"
        try:
            pg.screenshot(path=str(path), full_page=True)
            print(f"screenshot of the failure: {path}")
        except Exception as exc:  # noqa: BLE001 - the original failure matters more
            print(f"could not take a failure screenshot: {exc}")
    context.close()
