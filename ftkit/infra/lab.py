"""JupyterLab ready for a class (`make lab`): lesson 00 first, and no "news" question over it.

A fresh JupyterLab 4 greets a learner with a toast, "Would you like to get notified about
official Jupyter news?", over the first notebook.  The answer is a setting (`fetchNews` of
`@jupyterlab/apputils-extension:notification`, "none" meaning "ask"); the announcements plugin
asks only while it is "none".  `make lab` writes "Never" as a *default* into the environment's
JupyterLab overrides folder (`{sys.prefix}/share/jupyter/lab/settings/overrides.d/ftkit.json`,
read by jupyterlab_server next to `overrides.json`): nothing outside `.venv` is touched, and a
learner who turns news on in Settings still gets them (user settings win over defaults).
Update checks stay off too, so a class machine makes no request to the internet on start.

`make lab` serves the repository root (so `solutions/` is one click away) and prints the URL of
`FIRST_LESSON`; lessons still find their files, since relative paths start at `notebooks/`
(`ftkit.lesson_path`) and a kernel starts in its notebook's folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["CLASS_SETTINGS", "FIRST_LESSON", "lab_settings_dir", "write_lab_settings"]

FIRST_LESSON = "notebooks/00_start_here.ipynb"  # what the URL printed by `make lab` opens
CLASS_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}
}


def lab_settings_dir(prefix=None) -> Path:
    """JupyterLab's app settings folder of an environment (LabApp.app_settings_dir's default)."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings"


def write_lab_settings(settings_dir=None) -> Path:
    """Write CLASS_SETTINGS as JupyterLab defaults into `settings_dir/overrides.d/ftkit.json`.

    `settings_dir` defaults to this environment's (`lab_settings_dir()`).  The file is ftkit's
    own: other overrides (an `overrides.json` a teacher wrote) are left as they are.
    """
    target = Path(settings_dir or lab_settings_dir()) / "overrides.d" / "ftkit.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(CLASS_SETTINGS, indent=2) + "\n"
    if not target.exists() or target.read_text() != text:
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(text)
        tmp.replace(target)
    return target
