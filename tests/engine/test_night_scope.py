"""A night reads its settings once: every integration of one nightly runs on one configuration."""

from __future__ import annotations

import pytest

from trestle.tasks.context import night_scope, night_settings


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("home")
    config = home / "trestle.toml"
    config.write_text("")
    monkeypatch.setenv("TRESTLE_CONFIG", str(config))
    monkeypatch.setenv("TRESTLE_HOME", str(home))
    monkeypatch.setenv("TRESTLE_TIMEZONE", "Australia/Sydney")


def test_a_night_keeps_the_settings_it_read_first(monkeypatch: pytest.MonkeyPatch) -> None:
    with night_scope():
        first = night_settings("default")
        monkeypatch.setenv("TRESTLE_TIMEZONE", "Europe/London")  # changed while the night runs
        assert night_settings("default") is first
        assert first.timezone == "Australia/Sydney"
    assert night_settings("default").timezone == "Europe/London"  # the next run reads afresh


def test_outside_a_night_every_call_reads_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    before = night_settings(None)
    monkeypatch.setenv("TRESTLE_TIMEZONE", "Europe/London")
    assert before.timezone == "Australia/Sydney" and night_settings(None).timezone == "Europe/London"
