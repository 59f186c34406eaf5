"""Schedules as configuration: ``[schedules.NAME]`` over the catalog's defaults, per pair, in every output."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from trestle.cli import deployments_yaml
from trestle.deployments.catalog import DEPLOYMENTS, deployment_specs
from trestle.deployments.schedules import parse_duration, schedules_for
from trestle.deployments.serve import runner_deployments
from trestle.settings import ConfigError, pair_names

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
[schedules.vendors]
interval = "1h"
timezone = "Pacific/Auckland"

[schedules.payments_hourly]
active = false

[schedules.nightly]
cron = "30 1 * * *"

[pairs.acme]
title = "Acme"

[pairs.acme.schedules.vendors]
cron = "0 6 * * 1-5"

[pairs.bolt]
"""


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A trestle.toml with schedules for two pairs, and no other TRESTLE_* setting in force."""
    for key in list(os.environ):
        if key.startswith("TRESTLE_"):
            monkeypatch.delenv(key)
    config = tmp_path / "trestle.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("TRESTLE_CONFIG", str(config))
    yield config


def _yaml_schedules() -> dict[str, list[dict[str, object]]]:
    body = yaml.safe_load(deployments_yaml())
    return {item["name"]: item["schedules"] for item in body["deployments"]}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        *[("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("1.5h", 5400), ("1d", 86400), ("1w", 604800)],
        *[("PT1H", 3600), ("P1D", 86400)],
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


def test_the_configuration_sets_each_pairs_schedules_in_yaml_and_serve(configured: Path) -> None:
    schedules = _yaml_schedules()
    assert schedules["vendors-bolt"] == [
        {"interval": 3600, "anchor_date": "2000-01-01T00:00:00+13:00", "timezone": "Pacific/Auckland", "active": True}
    ], "an integration scheduled on its own, hourly, in its own time zone"
    assert schedules["vendors-acme"] == [{"cron": "0 6 * * 1-5", "timezone": "Pacific/Auckland", "active": True}], (
        "the pair's cron replaces the shared interval; the shared time zone stays"
    )
    for pair in ("acme", "bolt"):
        assert schedules[f"nightly-{pair}"] == [{"cron": "30 1 * * *", "timezone": "Australia/Sydney", "active": True}]
        assert schedules[f"payments-hourly-{pair}"] == [
            {"cron": "15 * * * *", "timezone": "Australia/Sydney", "active": False}
        ], "paused, the default cron kept"
        assert schedules[f"weekly-full-refresh-{pair}"][0]["cron"] == "0 4 * * 0", "unconfigured: the default"
        assert schedules[f"projects-{pair}"] == []

    served = {deployment.name: deployment for deployment in runner_deployments(pairs=pair_names())}
    vendors = served["vendors-bolt"].schedules[0]
    assert vendors.schedule.interval == dt.timedelta(hours=1) and vendors.schedule.timezone == "Pacific/Auckland"
    assert served["payments-hourly-acme"].schedules[0].active is False
    assert served["projects-acme"].schedules == [], "an explicit empty list: serve removes schedules added in the UI"
    assert served["vendors-acme"].schedules[0].schedule.cron == "0 6 * * 1-5"


def test_the_environment_sets_a_schedule_as_json(configured: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRESTLE_SCHEDULES_COST_CODES", '{"cron": "0 */4 * * *", "timezone": "UTC"}')
    assert _yaml_schedules()["cost-codes-bolt"] == [{"cron": "0 */4 * * *", "timezone": "UTC", "active": True}]


def test_the_timezone_flag_is_the_default_for_schedules_without_their_own(configured: Path) -> None:
    specs = deployment_specs(["bolt"])
    by_name = dict(zip((spec.name for spec in specs), schedules_for(specs, "Europe/London"), strict=True))
    assert by_name["nightly-bolt"] is not None and by_name["nightly-bolt"].timezone == "Europe/London"
    assert by_name["vendors-bolt"] is not None and by_name["vendors-bolt"].timezone == "Pacific/Auckland"


@pytest.mark.parametrize(
    ("table", "named", "reason"),
    [
        ('[schedules.nightly]\ncron = "61 * * * *"', "schedules.nightly.cron", "Invalid cron string"),
        ('[schedules.nightly]\ntimezone = "Mars/Olympus"', "schedules.nightly.timezone", "unknown time zone"),
        ('[schedules.vendors]\ninterval = "5s"', "schedules.vendors.interval", "at least 60 s"),
        ('[schedules.vendors]\ninterval = "soon"', "schedules.vendors.interval", "is not a duration"),
        ('[schedules.vendors]\ncron = "0 * * * *"\ninterval = 3600', "schedules.vendors", "not both"),
        ('[schedules.vendors]\nevery = "1h"', "schedules.vendors.every", "Extra inputs"),
        ('[pairs.bolt.schedules.nightly]\ncron = "every day"', "schedules.nightly.cron", "Invalid cron string"),
        ('[schedules.vendor]\ninterval = "1h"', "schedules.vendor (for pair 'bolt')", "no such deployment"),
    ],
)
def test_a_bad_schedule_names_its_setting(configured: Path, table: str, named: str, reason: str) -> None:
    configured.write_text(table + "\n[pairs.bolt]\n")
    with pytest.raises(ConfigError) as raised:
        deployments_yaml()
    assert f"{named} (" in str(raised.value) or f"{named}:" in str(raised.value), str(raised.value)
    assert reason in str(raised.value), str(raised.value)


def test_without_configuration_the_catalog_defaults_apply(configured: Path) -> None:
    configured.write_text("")
    specs = deployment_specs()
    for spec, schedule in zip(specs, schedules_for(specs), strict=True):
        if spec.cron is None:
            assert schedule is None, spec.name
        else:
            assert schedule is not None and (schedule.cron, schedule.timezone, schedule.active) == (
                spec.cron,
                "Australia/Sydney",
                True,
            )
    assert len(specs) == len(DEPLOYMENTS)


def test_trestle_deployments_yaml_exits_2_naming_a_bad_cron(configured: Path, tmp_path: Path) -> None:
    configured.write_text('[schedules.payments-hourly]\ncron = "15 25 * * *"\n')
    result = subprocess.run(
        [sys.executable, "-m", "trestle.cli", "deployments", "yaml"],
        capture_output=True,
        text=True,
        env={**os.environ},
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2, result
    assert "schedules.payments-hourly.cron" in result.stderr and "Traceback" not in result.stderr, result.stderr
