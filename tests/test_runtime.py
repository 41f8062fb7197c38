"""ftkit.infra.runtime: profiles and seeding refuse bad values with one line."""

import random

import pytest

from ftkit.errors import ConfigError
from ftkit.infra.runtime import PROFILES, get_profile, seed_everything


def test_profiles_by_name_and_environment(monkeypatch):
    assert get_profile("smoke") is PROFILES["smoke"]
    monkeypatch.setenv("FTKIT_PROFILE", "gpu")
    assert get_profile() is PROFILES["gpu"]
    with pytest.raises(ConfigError, match="Unknown profile .*'smok'. Use one of: 'smoke'"):
        get_profile("smok")


def test_seed_everything_repeats_and_checks_the_seed():
    seed_everything(3)
    a = random.random()
    seed_everything(3)
    assert random.random() == a
    for bad in (-1, 1.5, True, "0"):
        with pytest.raises(ConfigError, match="seed must be a whole number >= 0"):
            seed_everything(bad)
