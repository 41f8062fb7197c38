"""ftkit.infra.compat: torchvision imports after ensure_torchvision(), and the fix stays out of the way
when torchvision's ops already exist.  Each case runs in a fresh interpreter, because the fix
must happen before torchvision's first import."""

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def test_torchvision_models_work_after_fix():
    out = _run(
        """
        import ftkit.infra.compat
        status = ftkit.infra.compat.ensure_torchvision()
        import torch, torchvision
        model = torchvision.models.resnet18().eval()
        y = model(torch.zeros(1, 3, 32, 32))
        assert ftkit.infra.compat.ensure_torchvision() == status  # idempotent
        print(status, tuple(y.shape))
        """
    )
    status, shape = out.split(" ", 1)
    assert status in ("native", "schemas-declared")
    assert shape == "(1, 1000)"


def test_noop_when_ops_are_native():
    out = _run(
        """
        import torch
        lib = torch.library.Library("torchvision", "DEF")  # pretend torchvision's _C already loaded
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import ftkit.infra.compat as compat
        status = compat.ensure_torchvision()
        print(status, compat._LIB is None, compat._has_op(torch, "qnms"))
        """
    )
    assert out == "native True False"  # nothing declared: qnms stays undefined


def test_missing_when_torchvision_absent(monkeypatch):
    import importlib.util

    import ftkit.infra.compat as compat

    real = importlib.util.find_spec
    monkeypatch.setattr(compat, "_STATUS", None)  # restored afterwards: this process keeps its real status
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torchvision" else real(name, *a)
    )
    assert compat.ensure_torchvision() == "missing"


def test_doctor_reports_offline(monkeypatch, capsys):
    from ftkit.infra.doctor import doctor, main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    report = doctor(print_report=False)
    assert capsys.readouterr().out == ""
    assert report["versions"]["torch"] and report["device"] in ("cpu", "cuda", "mps")
    assert report["torchvision"] in (
        "native ops",
        "CPU fix active (op schemas declared)",
        "imported before ftkit (fine if it worked)",
    )
    assert report["widgets"]["ok"] is True  # ipywidgets 8 + jupyterlab_widgets are in the tested environment
    rows = {r["name"]: r for r in report["presets"]}
    assert rows["efficientnet_lite0"]["available"] == "offline (package)" and rows["tiny-qwen2"][
        "available"
    ].startswith("ready")
    assert report["ok"] is True and report["problems"] == [] and "HF_HUB_OFFLINE=1" in report["hub"]
    assert main() == 0 and "all good" in capsys.readouterr().out


def test_doctor_names_a_fix_for_each_problem(monkeypatch):
    doc = importlib.import_module("ftkit.infra.doctor")  # the module, not the function of the same name

    real = doc._version
    monkeypatch.setattr(
        doc, "_version", lambda name: None if name in ("jupyterlab_widgets", "peft") else real(name)
    )
    report = doc.doctor(print_report=False)
    assert report["ok"] is False and report["widgets"]["ok"] is False
    fixes = {p["problem"]: p["fix"] for p in report["problems"]}
    assert any("jupyterlab_widgets" in k and "pip install jupyterlab_widgets" in v for k, v in fixes.items())
    assert any(k.startswith("peft") and "make setup" in v for k, v in fixes.items())
    assert "problems:" in doc.format_report(report)
