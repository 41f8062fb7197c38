"""Benchmark: does each lesson fit Binder's memory?  Run it under a real memory limit.

    sudo-free as root:
        .venv/bin/python benchmarks/bench_binder_memory.py [--only 03 04] [--limit-gb 2] [--no-results]

mybinder.org gives a session 2 GB (JupyterHub's "2G" = 2 GiB): a memory cgroup around the Jupyter server
and its kernels.  Going over it kills the kernel ("Kernel died").  A process's peak RSS (what the lessons
report as `peak_rss_mb`) does not answer the question: it counts a file mapped twice twice
(two copies of a model loaded from the same safetensors cache share their pages), and it
ignores the page cache the cgroup is charged for.  So this benchmark does what Binder does:
each lesson runs headless (papermill, `binder` profile, a fresh process) inside a new memory
cgroup limited to `--limit-gb` (swap limited the same: no swap escape), with the page cache
dropped first so the lesson pays for every file it reads, as on a fresh Binder.

After the last cell, the widgets' buttons are pressed the way a learner would (`LEARNER_CLICKS`:
Train with deeper unfreezing in 02/03, Train - Compare - Train in 04's LoRA panel).
Per lesson it reports: finished or not, OOM kills, the cgroup's peak usage (page cache
included: the kernel evicts cache near the limit, so a value close to the limit is normal),
and the peak of anonymous + mapped-file memory sampled every 0.2 s (the memory the lesson
really holds).  Needs root and a writable cgroup (v1 `memory` or v2); prints SKIP otherwise.
Ends with `RESULT fits=<lessons that finished>/<lessons> worst_held_mb=... limit_mb=...`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import append_results  # benchmarks/_common.py  # noqa: E402

from ftkit.infra.run_lessons import lesson_notebooks  # noqa: E402
from ftkit.infra.runtime import get_profile  # noqa: E402


class MemoryCgroup:
    """A child memory cgroup of this process's own cgroup, v1 or v2, with a hard limit."""

    def __init__(self, limit_bytes: int, name: str):
        self.v2, parent = self._parent()
        self.path = parent / name
        self.path.mkdir(exist_ok=True)
        if self.v2:
            (self.path / "memory.max").write_text(str(limit_bytes))
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")
        else:
            (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            if (self.path / "memory.memsw.limit_in_bytes").exists():
                (self.path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))

    @staticmethod
    def _parent():
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        for line in lines:
            _, controllers, rel = line.split(":", 2)
            if "memory" in controllers.split(","):
                return False, Path("/sys/fs/cgroup/memory") / rel.lstrip("/")
        for line in lines:
            if line.startswith("0::"):
                for root in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
                    if (root / "cgroup.controllers").exists():
                        return True, root / line[3:].lstrip("/")
        raise OSError("no memory cgroup found in /proc/self/cgroup")

    def stat(self) -> dict:
        pairs = (line.split() for line in (self.path / "memory.stat").read_text().splitlines())
        return {k: int(v) for k, v in pairs}

    def held_bytes(self) -> int:
        """Anonymous memory plus mapped file pages: what the processes use, not evictable cache."""
        s = self.stat()
        return s["anon"] + s["file_mapped"] if self.v2 else s["rss"] + s["mapped_file"]

    def peak_bytes(self) -> int:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        return int((self.path / name).read_text()) if (self.path / name).exists() else 0

    def oom_kills(self) -> int:
        if self.v2:
            events = dict(line.split() for line in (self.path / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", 0))
        fields = dict(line.split() for line in (self.path / "memory.oom_control").read_text().splitlines())
        return int(fields.get("oom_kill", 0))

    def kill_all(self):
        for pid in (self.path / "cgroup.procs").read_text().split():
            try:
                os.kill(int(pid), 9)
            except OSError:
                pass
        for _ in range(50):  # a killed process leaves the group a moment later
            if not (self.path / "cgroup.procs").read_text().strip():
                return
            time.sleep(0.1)

    def remove(self):
        try:
            self.path.rmdir()
        except OSError:
            pass


def drop_page_cache() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("1")
        return True
    except OSError:
        return False


# What a learner does after the last cell, run as extra cells: the widgets' Train (and Compare)
# buttons call these methods, so the memory a click costs is measured too.
LEARNER_CLICKS = {
    "02": "lab.run(depth=3)\ntext_lab.run(depth=3)",
    "03": "lab.run(depth=3)",
    "04": "panel.train()\npanel.compare()\npanel.train()",
}


def with_clicks(notebook: Path, folder: Path) -> Path:
    """A copy of the notebook with the learner's clicks appended as code cells."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    code = LEARNER_CLICKS.get(notebook.stem[:2])
    if code:
        nb.cells.append(nbformat.v4.new_code_cell(code))
    path = folder / notebook.name
    nbformat.write(nb, path)
    return path


def run_lesson(notebook: Path, limit_bytes: int, out: Path) -> dict:
    group = MemoryCgroup(limit_bytes, f"ftkit-binder-{notebook.stem[:2]}-{os.getpid()}")
    dropped = drop_page_cache()
    source = with_clicks(notebook, out)
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(source),
        str(out / f"ran_{notebook.name}"),
        "--cwd",
        str(notebook.parent),
        "-p",
        "PROFILE",
        "binder",
        "-p",
        "OUTPUT_DIR",
        str(out / notebook.stem),
        "-k",
        "python3",
        "--no-progress-bar",
    ]
    # the child joins the cgroup before it execs: papermill and its kernel both start inside it
    script = f'echo $$ > "{group.path / "cgroup.procs"}" && exec "$@"'
    start = time.perf_counter()
    held = [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.2):
            try:
                held[0] = max(held[0], group.held_bytes())
            except (OSError, KeyError):
                pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        proc = subprocess.Popen(
            ["sh", "-c", script, "sh", *cmd],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        log = proc.communicate()[0]
        clicked = " + clicks" if notebook.stem[:2] in LEARNER_CLICKS else ""
        row = {
            "lesson": notebook.stem + clicked,
            "finished": proc.returncode == 0,
            "oom_kills": group.oom_kills(),
            "held_mb": held[0] / 2**20,
            "cgroup_peak_mb": group.peak_bytes() / 2**20,
            "wall_s": time.perf_counter() - start,
            "cache_dropped": dropped,
        }
    finally:  # also on Ctrl-C: stop the kernel left in the group, then remove the group
        done.set()
        sampler.join()
        group.kill_all()
        group.remove()
    if proc.returncode != 0:
        print(log[-3000:])
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="lesson prefixes, e.g. 03 04 (default: all)")
    parser.add_argument(
        "--limit-gb",
        type=float,
        default=get_profile("binder").memory_gb,
        help="memory limit in GiB (Binder: 2)",
    )
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    limit = int(args.limit_gb * 2**30)
    try:
        MemoryCgroup(limit, f"ftkit-probe-{os.getpid()}").remove()
    except OSError as err:
        print(f"SKIP: cannot create a memory cgroup here ({err}); run as root on Linux with cgroups mounted.")
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for nb in lesson_notebooks(REPO / "notebooks", args.only):
            row = run_lesson(nb, limit, Path(tmp))
            rows.append(row)
            print(
                f"{row['lesson']}: finished {row['finished']}, OOM kills {row['oom_kills']}, held "
                f"{row['held_mb']:.0f} MB, "
                f"cgroup peak {row['cgroup_peak_mb']:.0f} MB, {row['wall_s']:.0f} s",
                flush=True,
            )
    table = "\n".join(
        [
            "| lesson | finished under the limit | OOM kills | held MB (anon + mapped, peak) | cgroup peak "
            "MB (incl. cache) | wall s |",
            "|---|---|---|---|---|---|",
        ]
        + [
            f"| {r['lesson']} | {r['finished']} | {r['oom_kills']} | {r['held_mb']:.0f} | "
            f"{r['cgroup_peak_mb']:.0f} | "
            f"{r['wall_s']:.0f} |"
            for r in rows
        ]
    )
    print(table)
    fits = sum(r["finished"] and r["oom_kills"] == 0 for r in rows)
    worst = max(r["held_mb"] for r in rows)
    print(f"RESULT fits={fits}/{len(rows)} worst_held_mb={worst:.0f} limit_mb={limit / 2**20:.0f}")
    if not args.no_results:
        note = (
            f"Each lesson ran headless (papermill, `binder` profile) in its own memory cgroup limited to "
            f"{args.limit_gb:g} GiB, swap included, page cache dropped first "
            f"({'yes' if all(r['cache_dropped'] for r in rows) else 'no: not writable'}). The "
            "papermill process "
            f"counts too, as Binder's Jupyter server does. Widget clicks after the last cell: "
            f"{'; '.join(f'{k}: ' + v.replace(chr(10), ', ') for k, v in LEARNER_CLICKS.items())}."
        )
        append_results(
            f"bench_binder_memory.py: lessons under a {args.limit_gb:g} GiB memory limit",
            f"{note}\n\n{table}",
        )
    return 0 if fits == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
