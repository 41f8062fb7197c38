"""The public API: every advertised name resolves, and importing ftkit has no side effects."""

import subprocess
import sys

import ftkit


def test_every_public_name_resolves():
    missing = [name for name in ftkit.__all__ if name != "__version__" and getattr(ftkit, name, None) is None]
    assert missing == []


def test_import_is_light_and_side_effect_free():
    code = (
        "import sys, random; state = random.getstate(); import ftkit; "
        "assert 'torch' not in sys.modules, 'import ftkit pulled in torch'; "
        "assert random.getstate() == state, 'import ftkit touched the random seed'; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_functions_named_like_their_module_stay_functions():
    import importlib

    for name in ("freeze", "diagnose"):
        importlib.import_module(f"ftkit.{name}")  # importing the module must not shadow the function
        assert callable(getattr(ftkit, name)) and not isinstance(getattr(ftkit, name), type(ftkit)), name
