"""ftkit.sample_path: the repository's data_samples, found from the kit's location, from any folder."""

import subprocess
import sys
from pathlib import Path

import pytest

import ftkit
from ftkit.errors import DataError
from ftkit.infra import paths
from ftkit.infra.cli import main

REPO = Path(__file__).resolve().parent.parent


def test_sample_path_resolves_from_the_kit_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an unrelated folder: ../data_samples would point nowhere
    assert ftkit.sample_path() == REPO / "data_samples"
    assert ftkit.sample_path("helmet") == REPO / "data_samples" / "helmet"
    assert ftkit.sample_path("sentiment", "sentiment_zh.csv").is_file()
    assert paths.repo_root() == REPO and (paths.repo_root() / "notebooks").is_dir()


def test_sample_path_from_a_subprocess_in_another_folder(tmp_path):
    code = "import ftkit; print(ftkit.sample_path('helmet', 'train'))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert Path(out.stdout.strip()) == REPO / "data_samples" / "helmet" / "train"


def test_sample_path_errors_name_what_is_missing(tmp_path, monkeypatch):
    with pytest.raises(
        DataError, match=r"No 'helmett' in data_samples: .*In data_samples/: .*\bhelmet\b.*sentiment"
    ):
        ftkit.sample_path("helmett")
    with pytest.raises(DataError, match="sentiment/nope.csv.*sentiment_en.csv"):
        ftkit.sample_path("sentiment", "nope.csv")
    for bad in ("..", "/etc", "", 3):
        with pytest.raises(DataError, match="names inside data_samples"):
            ftkit.sample_path(bad)
    monkeypatch.setattr(paths, "_REPO", tmp_path)  # ftkit installed without the repository
    with pytest.raises(DataError, match="data_samples folder is missing.*clone of the repository"):
        ftkit.sample_path("helmet")


def test_cli_samples_default_is_the_repository_folder(tmp_path, monkeypatch, capsys):
    import ftkit.samples.helmet as helmet

    written = []
    monkeypatch.setattr(helmet, "generate_helmet_dataset", lambda out, **kw: written.append(out))
    monkeypatch.chdir(tmp_path)
    assert main(["samples", "--n-train", "2"]) == 0
    assert written == [REPO / "data_samples" / "helmet"]
