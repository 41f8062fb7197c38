"""Lesson 08 (notebooks/08_scale_up.ipynb): the notebook recipe becomes a config and a script.

- `write_helmet_config`: lesson 01's knobs (two `TrainConfig` stages) as a YAML file that
  `ftkit train` reads, checked by the same classes on the way back (`load_recipe`);
- `run_script`: `python -m ftkit train CONFIG` in a subprocess, in 1 process or N CPU processes under
  torchrun (gloo), with the command a learner would type, its output tail and its results.json;
- `step_losses`, `curve_gap`, `throughput`: what the lesson compares between the runs;
- `processes_that_fit`: how many script processes a memory-capped profile (Binder) can hold.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, FtkitError
from ..infra.paths import repo_root
from ..recipes.config import Recipe, load_recipe
from ..recipes.estimate import ARCHS, estimate_step, estimate_table

__all__ = [
    "ARCHS",
    "KIT",
    "ScriptRun",
    "curve_gap",
    "estimate_step",
    "estimate_table",
    "load_recipe",
    "processes_that_fit",
    "run_script",
    "step_losses",
    "throughput",
    "write_helmet_config",
]

KIT = repo_root()
# One `ftkit train configs/helmet.yaml` process in the binder profile peaks at 0.92 GB (`/usr/bin/time -v`,
# 2026-12-03), and the lesson's kernel holds about as much: under Binder's 2 GB, the kernel and two
# processes were killed for memory (benchmarks/bench_binder_memory.py), the kernel and one process fit.
PROCESS_GB = 0.9


def processes_that_fit(processes: int, profile) -> int:
    """`processes`, or fewer (at least 1) when the profile caps memory below what the kernel and that many
    training processes need; says so in one printed line."""
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ConfigError(f"PROCESSES must be a whole number >= 1, got {processes!r}.")
    cap = profile.memory_gb
    if cap is None or (processes + 1) * PROCESS_GB <= cap:
        return processes
    fit = max(1, int(cap // PROCESS_GB) - 1)
    print(
        f"{processes} training processes and this notebook need about {(processes + 1) * PROCESS_GB:.1f} GB, "
        f"the {profile.name} profile allows {cap:g} GB: the script runs in {fit} process(es) here. "
        'PROFILE = "smoke" shows two processes with the tiny model.'
    )
    return fit


def write_helmet_config(path, *, head, finetune, data_dir, model=None, image_size=None, seed=0) -> Recipe:
    """Write lesson 01's recipe (two `ftkit.TrainConfig` stages) as a `ftkit train` YAML file.

    Only the knobs that differ from `TrainConfig()`'s defaults are written (plus `epochs` and
    `batch_size`), so the file reads like configs/helmet.yaml. Returns the recipe read back and checked.
    """
    import yaml

    from ..config import TrainConfig

    defaults = TrainConfig().to_dict()
    stages = {}
    for name, cfg in (("head", head), ("finetune", finetune)):
        if not isinstance(cfg, TrainConfig):
            raise ConfigError(f"{name} must be a ftkit.TrainConfig, got {type(cfg).__name__}.")
        values = cfg.to_dict()
        keep = {"epochs", "batch_size", "freeze_depth", "lr", "optimizer"}
        stages[name] = {
            k: v for k, v in values.items() if k != "seed" and (k in keep or v != defaults.get(k))
        }
    raw = {
        "recipe": "helmet",
        "seed": int(seed),
        "profile": None,
        "data": {"dir": str(data_dir), "image_size": image_size},
        "model": {"name": model},
        **stages,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head_line = "# Lesson 01's recipe, written by notebooks/08_scale_up.ipynb: `ftkit train THIS.yaml`\n"
    path.write_text(head_line + yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_recipe(path)


@dataclass
class ScriptRun:
    """One `ftkit train` subprocess: what was typed, how long it took, what it wrote."""

    command: str  # as you would type it in a terminal
    processes: int
    wall_s: float  # the whole subprocess: start-up, model load, training, saving
    results: dict = field(repr=False)  # its results.json
    output: str = field(repr=False, default="")  # stdout + stderr

    @property
    def metrics(self) -> dict:
        return self.results["metrics"]

    def tail(self, lines: int = 6) -> str:
        return "\n".join(self.output.strip().splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_script(
    config, output_dir, *, processes: int = 1, profile: str | None = None, overrides=()
) -> ScriptRun:
    """Run `ftkit train config` in a fresh Python: 1 process, or `processes` CPU processes via torchrun.

    The CPU's cores are shared out: each process gets cores // processes threads (at least 1).
    """
    import json

    if not isinstance(processes, int) or isinstance(processes, bool) or processes < 1:
        raise ConfigError(f"processes must be an integer >= 1, got {processes!r}.")
    out = KIT / _short(output_dir)  # the subprocess runs in the kit's folder
    args = ["-m", "ftkit", "train", _short(config), "--output-dir", _short(output_dir)]
    if profile:
        args += ["--profile", profile]
    args += list(overrides)
    threads = max(1, (os.cpu_count() or 1) // processes)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": _pythonpath()}
    if processes == 1:
        cmd, shown = [sys.executable, *args], "python " + " ".join(args)
    else:
        launcher = ["--nproc_per_node", str(processes), "--master_port", str(_free_port())]
        cmd = [sys.executable, "-m", "torch.distributed.run", *launcher, *args]
        env["ACCELERATE_USE_CPU"] = "true"
        shown = f"ACCELERATE_USE_CPU=true torchrun --nproc_per_node {processes} " + " ".join(args)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=KIT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        last = (output.strip().splitlines() or ["(no output)"])[-1]
        raise FtkitError(f"`{shown}` failed (exit {proc.returncode}): {last}")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return ScriptRun(command=shown, processes=processes, wall_s=wall, results=results, output=output)


def _short(path) -> str:
    """A path inside the kit as seen from the kit's folder (the commands read better), else as given."""
    try:
        return str(Path(path).resolve().relative_to(KIT))
    except ValueError:
        return str(path)


def _pythonpath() -> str:
    """This kit first, so the subprocess imports the same ftkit as the notebook."""
    parts = [str(KIT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    return os.pathsep.join(dict.fromkeys(parts))


def _histories(run) -> list[dict]:
    """History dicts of a ScriptRun, a results dict, or a list of ftkit.History."""
    if isinstance(run, ScriptRun):
        return run.results["histories"]
    if isinstance(run, dict):
        return run["histories"]
    return [h.to_dict() if hasattr(h, "to_dict") else h for h in run]


def step_losses(run) -> np.ndarray:
    """Every optimizer step's training loss, all stages one after the other."""
    return np.array([s["train_loss"] for h in _histories(run) for s in h["steps"] if "train_loss" in s])


def curve_gap(run_a, run_b) -> float:
    """The largest relative difference between two runs' step losses (they must have as many steps)."""
    a, b = step_losses(run_a), step_losses(run_b)
    if len(a) != len(b) or not len(a):
        raise ConfigError(f"the runs have {len(a)} and {len(b)} steps: compare runs of the same recipe.")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)))


def throughput(run, n_train: int) -> float:
    """Training examples per second of training-loop time (each stage's last record, validation included)."""
    hists = _histories(run)
    seconds = sum(h["epochs"][-1]["time_s"] for h in hists if h["epochs"])
    examples = sum(n_train * len(h["epochs"]) for h in hists)
    return examples / seconds if seconds > 0 else float("nan")
