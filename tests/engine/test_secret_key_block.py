"""The token encryption keys from a Prefect Secret block (``TRESTLE_SECRET_KEY_BLOCK``), on a real Prefect API."""

from __future__ import annotations

from pathlib import Path

import pytest

from trestle.crypto import KEY_FILE_NAME, TokenCipher, cipher_for, new_key
from trestle.settings import ConfigError, TrestleSettings

SHARED_DATABASE = "postgresql://trestle@db.example/trestle"  # not local: no key file may be made


@pytest.fixture
def no_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRESTLE_SECRET_KEY", raising=False)


def test_keys_come_from_the_block_the_setting_names(
    prefect_harness: None, no_key_variable: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.blocks.system import Secret

    newest, older = new_key(), new_key()
    Secret(value=f"{newest},{older}").save("trestle-token-keys", overwrite=True)
    monkeypatch.setenv("TRESTLE_SECRET_KEY_BLOCK", "trestle-token-keys")
    settings = TrestleSettings(home=tmp_path, database_url=SHARED_DATABASE)
    assert settings.secret_key_block == "trestle-token-keys"

    cipher = cipher_for(settings)
    stored = cipher.encrypt("ACCESS-TOKEN")
    assert TokenCipher([newest]).decrypt(stored) == "ACCESS-TOKEN", "the block's first key encrypts"
    assert cipher.decrypt(TokenCipher([older]).encrypt("OLD")) == "OLD", "every key in the block decrypts"
    assert not (tmp_path / KEY_FILE_NAME).exists()
    assert newest not in repr(cipher)


def test_the_environment_key_beats_the_block(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.blocks.system import Secret

    in_block, in_env = new_key(), new_key()
    Secret(value=in_block).save("trestle-token-keys-2", overwrite=True)
    monkeypatch.setenv("TRESTLE_SECRET_KEY", in_env)
    settings = TrestleSettings(home=tmp_path, database_url=SHARED_DATABASE, secret_key_block="trestle-token-keys-2")
    assert TokenCipher([in_env]).decrypt(cipher_for(settings).encrypt("x")) == "x"


def test_a_missing_block_is_named_with_its_setting(
    prefect_harness: None, no_key_variable: None, tmp_path: Path
) -> None:
    settings = TrestleSettings(home=tmp_path, database_url=SHARED_DATABASE, secret_key_block="no-such-block")
    with pytest.raises(ConfigError) as raised:
        cipher_for(settings)
    assert "TRESTLE_SECRET_KEY_BLOCK" in str(raised.value) and "no-such-block" in str(raised.value)
    assert not (tmp_path / KEY_FILE_NAME).exists()
