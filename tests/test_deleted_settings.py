"""``[sync.on_deleted]``: one policy per integration, from TOML, the environment and pair tables."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trestle.integrations import integration, registry
from trestle.settings import ConfigError, load_settings
from trestle.spec import spec_json, spec_markdown
from trestle.tasks.deleted import policy_of

CONFIG = """
[sync.on_deleted]
progress_claims = "recreate"
payments = "propagate"

[pairs.acme.sync.on_deleted]
progress_claims = "propagate"

[pairs.bolt.sync]
bill_status = "AUTHORISED"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for key in list(os.environ):
        if key.startswith("TRESTLE_") and key not in ("TRESTLE_TEST_POSTGRES_URL", "TRESTLE_REQUIRE_POSTGRES"):
            monkeypatch.delenv(key)
    path = tmp_path / "trestle.toml"
    path.write_text(CONFIG)
    monkeypatch.setenv("TRESTLE_CONFIG", str(path))
    yield path


def policies(pair: str) -> dict[str, str]:
    sync = load_settings(pair, secrets=False).sync
    return {name: policy_of(cls, sync) for name, cls in registry().items()}


def test_the_table_sets_policies_a_pair_overrides_one_key_and_the_rest_keep_their_defaults(config: Path) -> None:
    bolt, acme = policies("bolt"), policies("acme")
    assert bolt["progress_claims"] == "recreate" and bolt["payments"] == "propagate"
    assert acme["progress_claims"] == "propagate", "the pair's own choice"
    assert acme["payments"] == "propagate", "a pair's table changes its keys only, not the whole table"
    assert acme["vendors"] == "report" and acme["commitments"] == "report"
    assert acme["direct_invoices"] == "propagate", "its declared default: removing the direct cost"


def test_the_environment_variable_beats_the_table(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRESTLE_SYNC_ON_DELETED_PROGRESS_CLAIMS", "report")
    monkeypatch.setenv("TRESTLE_SYNC_ON_DELETED_DIRECT_INVOICES", "report")
    bolt = policies("bolt")
    assert (bolt["progress_claims"], bolt["direct_invoices"], bolt["payments"]) == ("report", "report", "propagate")


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("TRESTLE_SYNC_ON_DELETED_VENDORS", "propagate", "not supported by vendors; choose one of report"),
        ("TRESTLE_SYNC_ON_DELETED_PAYMENTS", "recreate", "choose one of report, propagate"),
        ("TRESTLE_SYNC_ON_DELETED_INVOICES", "report", "unknown integration 'invoices'"),
    ],
)
def test_an_unsupported_choice_is_named_with_its_setting(
    config: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings("bolt", secrets=False)
    assert variable in str(raised.value) and named in str(raised.value)


def test_the_older_payments_switch_still_means_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("TRESTLE_"):
            monkeypatch.delenv(key)
    assert policy_of(integration("payments"), load_settings(secrets=False).sync) == "report"
    monkeypatch.setenv("TRESTLE_SYNC_PAYMENTS_DELETE_REMOVED", "true")
    assert policy_of(integration("payments"), load_settings(secrets=False).sync) == "propagate"


def test_the_spec_names_each_integrations_policies_and_setting() -> None:
    specs = {spec["name"]: spec for spec in json.loads(spec_json())}
    assert specs["progress_claims"]["on_deleted"] == {
        "environment": "TRESTLE_SYNC_ON_DELETED_PROGRESS_CLAIMS",
        "choices": ["report", "recreate", "propagate"],
        "default": "report",
    }
    assert specs["vendors"]["on_deleted"]["choices"] == ["report"]
    markdown = spec_markdown(["progress_claims"])
    assert "**Deleted records**: `TRESTLE_SYNC_ON_DELETED_PROGRESS_CLAIMS` — `report` (default)" in markdown
