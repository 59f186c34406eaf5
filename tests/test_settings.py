"""Settings for several Procore company / Xero tenant pairs, and secrets from Prefect blocks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trestle.deployments.catalog import DEPLOYMENTS, deployment_specs, prefect_yaml
from trestle.settings import ConfigError, install_settings, load_settings, pair_names

TWO_PAIRS = """
database_url = "sqlite:///shared.db"

[procore]
client_id = "one-dmsa-app"
client_secret = "procore-secret"

[email]
recipients = ["office@example.com"]

[pairs.acme]
title = "Acme Builders"
[pairs.acme.procore]
company_id = 11
[pairs.acme.xero]
tenant_id = "tenant-acme"
client_id = "xero-acme"
client_secret = "xero-acme-secret"
[pairs.acme.email]
recipients = ["acme-accounts@example.com"]

[pairs.bolt.procore]
company_id = 22
[pairs.bolt.xero]
tenant_id = "tenant-bolt"
client_id = "xero-bolt"
client_secret_block = "xero-bolt-secret"
[pairs.bolt.sync]
bill_status = "AUTHORISED"
"""


@pytest.fixture
def two_pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for key in list(os.environ):
        if key.startswith("TRESTLE_") and key not in ("TRESTLE_TEST_POSTGRES_URL", "TRESTLE_REQUIRE_POSTGRES"):
            monkeypatch.delenv(key)
    config = tmp_path / "trestle.toml"
    config.write_text(TWO_PAIRS)
    monkeypatch.setenv("TRESTLE_CONFIG", str(config))
    yield config


def test_a_pair_lays_its_tables_over_the_shared_sections(two_pairs: Path) -> None:
    acme = load_settings("acme")
    assert (acme.pair, acme.pair_title) == ("acme", "Acme Builders")
    assert (acme.procore.company_id, acme.procore.client_id) == (11, "one-dmsa-app")
    assert acme.xero.tenant_id == "tenant-acme" and acme.xero.client_secret.get_secret_value() == "xero-acme-secret"
    assert acme.email.recipients == ["acme-accounts@example.com"]
    assert acme.sync.bill_status == "DRAFT"
    bolt = load_settings("bolt", secrets=False)
    assert (bolt.procore.company_id, bolt.xero.tenant_id, bolt.sync.bill_status) == (22, "tenant-bolt", "AUTHORISED")
    assert bolt.email.recipients == ["office@example.com"], "what a pair does not set comes from the shared section"
    assert bolt.pair_title == "bolt"


def test_the_environment_chooses_the_pair_and_an_unknown_one_is_named(
    two_pairs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pair_names() == ["acme", "bolt"]
    monkeypatch.setenv("TRESTLE_PAIR", "bolt")
    assert load_settings(secrets=False).procore.company_id == 22
    monkeypatch.setenv("TRESTLE_PAIR", "zeta")
    with pytest.raises(ConfigError) as raised:
        load_settings(secrets=False)
    assert "TRESTLE_PAIR" in str(raised.value) and "acme, bolt" in str(raised.value)
    monkeypatch.delenv("TRESTLE_PAIR")
    with pytest.raises(ConfigError, match="pair 'default' is not configured"):
        load_settings(secrets=False)
    assert install_settings().database_url == "sqlite:///shared.db", "install-wide settings need no pair"


def test_a_missing_secret_block_is_named_with_its_setting(two_pairs: Path, prefect_harness: None) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings("bolt")
    assert "TRESTLE_XERO_CLIENT_SECRET_BLOCK" in str(raised.value) and "xero-bolt-secret" in str(raised.value)


def test_secrets_come_from_prefect_secret_blocks(two_pairs: Path, prefect_harness: None) -> None:
    from prefect.blocks.system import Secret

    Secret(value="from-the-block").save("xero-bolt-secret", overwrite=True)
    bolt = load_settings("bolt")
    assert bolt.xero.client_secret is not None
    assert bolt.xero.client_secret.get_secret_value() == "from-the-block"
    assert "from-the-block" not in repr(bolt) + str(bolt.model_dump())


def test_deployments_exist_once_per_pair(two_pairs: Path) -> None:
    specs = deployment_specs(pair_names())
    assert len(specs) == 2 * len(DEPLOYMENTS)
    nightly = {spec.name: spec for spec in specs if spec.flow == "nightly" and spec.cron == "0 2 * * *"}
    assert set(nightly) == {"nightly-acme", "nightly-bolt"}
    assert nightly["nightly-bolt"].parameters["pair"] == "bolt" and "pair:bolt" in nightly["nightly-bolt"].tags
    names = [item["name"] for item in prefect_yaml(pairs=pair_names())["deployments"]]
    assert len(names) == len(set(names)), "deployment names are unique across pairs"
    assert deployment_specs() == list(DEPLOYMENTS), "a single-pair install keeps the plain names"


def test_a_pairs_own_secret_block_beats_a_shared_secret(two_pairs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRESTLE_XERO_CLIENT_SECRET", "shared-xero-secret")
    bolt = load_settings("bolt", secrets=False)
    assert bolt.xero.client_secret is None and bolt.xero.client_secret_block == "xero-bolt-secret"
    acme = load_settings("acme")
    assert acme.xero.client_secret is not None
    assert acme.xero.client_secret.get_secret_value() == "xero-acme-secret", "the pair's own secret wins"
