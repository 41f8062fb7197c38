"""`make lab`'s class defaults (ftkit.infra.lab): written where this JupyterLab reads them, valid for
its settings schema, and never in the way of a teacher's own overrides.  The browser test
(tests/browser/test_class_lab.py) checks that they keep the news question away in Chromium."""

import json
import sys
from pathlib import Path

from jupyterlab_server.settings_utils import _get_overrides

from ftkit.infra.cli import main
from ftkit.infra.lab import CLASS_SETTINGS, FIRST_LESSON, lab_settings_dir, write_lab_settings

ROOT = Path(__file__).resolve().parent.parent


def test_written_where_jupyterlab_reads_overrides_and_a_teachers_own_stay(tmp_path):
    own = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}
    (tmp_path / "overrides.json").write_text(json.dumps(own))
    path = write_lab_settings(tmp_path)
    assert path == tmp_path / "overrides.d" / "ftkit.json"
    assert json.loads(path.read_text()) == CLASS_SETTINGS
    assert json.loads((tmp_path / "overrides.json").read_text()) == own
    overrides, error = _get_overrides(str(tmp_path))
    assert not error and overrides == {**own, **CLASS_SETTINGS}
    assert write_lab_settings(tmp_path) == path and json.loads(path.read_text()) == CLASS_SETTINGS


def test_the_settings_exist_in_this_jupyterlab_schema():
    """A JupyterLab upgrade that renames the setting fails here, not silently in class."""
    from jupyterlab.commands import get_app_dir

    for plugin, values in CLASS_SETTINGS.items():
        package, name = plugin.split(":")
        schema = json.loads((Path(get_app_dir()) / "schemas" / package / f"{name}.json").read_text())
        for key, value in values.items():
            prop = schema["properties"][key]
            if "oneOf" in prop:
                assert value in [c["const"] for c in prop["oneOf"]], (key, value)
            else:
                assert prop["type"] == "boolean" and isinstance(value, bool), (key, value)


def test_default_place_is_this_environment_and_the_cli_writes_it(tmp_path, capsys):
    assert lab_settings_dir() == Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    assert main(["lab-settings", "--settings-dir", str(tmp_path)]) == 0
    assert str(tmp_path / "overrides.d" / "ftkit.json") in capsys.readouterr().out
    assert (ROOT / FIRST_LESSON).is_file()
    makefile = (ROOT / "Makefile").read_text()
    assert "-m ftkit lab-settings" in makefile and f"FIRST_LESSON := {FIRST_LESSON}" in makefile
