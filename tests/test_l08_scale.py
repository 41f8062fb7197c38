"""Lesson 08's guard for memory-capped profiles: how many `ftkit train` processes fit beside the kernel."""

import pytest

from ftkit.errors import ConfigError
from ftkit.infra.runtime import get_profile
from ftkit.lessons.l08_scale import processes_that_fit


def test_uncapped_profiles_keep_the_requested_processes(capsys):
    assert processes_that_fit(2, get_profile("default")) == 2
    assert processes_that_fit(4, get_profile("smoke")) == 4
    assert capsys.readouterr().out == ""


def test_binder_runs_one_process_and_says_why(capsys):
    assert processes_that_fit(2, get_profile("binder")) == 1
    said = capsys.readouterr().out
    assert "binder profile allows 2 GB" in said and "1 process" in said and len(said.splitlines()) == 1
    assert processes_that_fit(1, get_profile("binder")) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_process_count_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="PROCESSES must be a whole number"):
        processes_that_fit(bad, get_profile("default"))
