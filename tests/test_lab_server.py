"""`make lab` (the README's main command) serves JupyterLab on 127.0.0.1 only, behind a token, ready
for class: the printed URL opens lesson 00, the repository root is served (solutions/ included), and
the environment holds the class defaults that keep the news question away (tests/browser checks the
pop-up itself in Chromium)."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from ftkit.infra.lab import CLASS_SETTINGS, FIRST_LESSON, lab_settings_dir

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str, wait_s: float = 90) -> int:
    """HTTP status of `url`, waiting up to `wait_s` for the server to start listening."""
    deadline = time.time() + wait_s
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5).status
        except urllib.error.HTTPError as err:
            return err.code
        except urllib.error.URLError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def test_make_lab_binds_localhost_with_a_token(tmp_path):
    port = _free_port()
    env = dict(
        os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config")
    )
    log = open(tmp_path / "lab.log", "w+")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"PORT={port}"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        token, deadline = None, time.time() + 120
        while token is None and time.time() < deadline and proc.poll() is None:
            time.sleep(0.5)
            found = re.search(
                rf"http://127\.0\.0\.1:{port}/lab/tree/{re.escape(FIRST_LESSON)}\?token=([0-9a-f]+)",
                Path(log.name).read_text(),
            )
            token = found.group(1) if found else None
        assert token, f"no tokenised 127.0.0.1 URL printed:\n{Path(log.name).read_text()[-2000:]}"
        assert len(token) >= 32  # a random secret, not a fixed or empty token
        base = f"http://127.0.0.1:{port}"
        assert _status(f"{base}/api/status?token={token}") == 200
        assert _status(f"{base}/api/status") == 403  # no token, no access
        assert _status(f"{base}/lab/tree/{FIRST_LESSON}?token={token}") == 200
        # The repository root is served: the lesson is where the URL says, solutions/ beside it.
        assert _status(f"{base}/api/contents/{FIRST_LESSON}?content=0&token={token}") == 200
        root = urllib.request.urlopen(f"{base}/api/contents?token={token}", timeout=10).read()
        served = {item["name"] for item in json.loads(root)["content"]}
        assert {"notebooks", "data_samples", "ftkit"} <= served, served
        if (REPO / "solutions").is_dir():
            assert "solutions" in served
        # The class defaults `make lab` wrote into the environment, as the server reads them.
        venv = REPO / os.environ.get("VENV", ".venv")  # make lab VENV=... as in the Makefile
        written = lab_settings_dir(venv) / "overrides.d" / "ftkit.json"
        assert json.loads(written.read_text()) == CLASS_SETTINGS
        notification = "@jupyterlab/apputils-extension:notification"
        answer = urllib.request.urlopen(f"{base}/lab/api/settings/{notification}?token={token}", timeout=10)
        schema = json.loads(answer.read())["schema"]["properties"]
        assert schema["fetchNews"]["default"] == "false" and schema["checkForUpdates"]["default"] is False
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        addresses = {line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines() if line.strip()}
        assert addresses == {"127.0.0.1"}, f"JupyterLab listens on {addresses}, expected 127.0.0.1 only"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
