"""encrypt stored OAuth tokens; remember which configured token seeded them

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 22:20:00

Existing plain-text access and refresh tokens are encrypted with the install's key (see
:mod:`trestle.crypto`; ``trestle db upgrade`` passes it, else it is read from
``TRESTLE_SECRET_KEY`` or the key file). ``configured_fingerprint`` starts empty: the first run
adopts the configured refresh token's fingerprint without replacing the stored, newer token.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from trestle.crypto import TokenCipher, install_cipher

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ROWS = sa.table(
    "oauth_tokens",
    sa.column("pair", sa.String),
    sa.column("system", sa.String),
    sa.column("access_token", sa.Text),
    sa.column("refresh_token", sa.Text),
)


def _cipher(bind: sa.Connection) -> TokenCipher:
    given = context.config.attributes.get("token_cipher")
    if isinstance(given, TokenCipher):
        return given
    from trestle.settings import install_settings

    settings = install_settings()
    local = bind.dialect.name == "sqlite"
    return install_cipher(settings.home, local_database=local, key_block=settings.secret_key_block)


def _convert(convert_name: str) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_ROWS)).all()
    if not rows:
        return  # no key is needed (or made) for an empty table
    cipher = _cipher(bind)
    convert = getattr(cipher, convert_name)
    for row in rows:
        bind.execute(
            _ROWS.update()
            .where(_ROWS.c.pair == row.pair, _ROWS.c.system == row.system)
            .values(
                access_token=convert(row.access_token) if row.access_token else row.access_token,
                refresh_token=convert(row.refresh_token) if row.refresh_token else row.refresh_token,
            )
        )


def upgrade() -> None:
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.add_column(sa.Column("configured_fingerprint", sa.String(length=80), nullable=True))
    _convert("encrypt")


def downgrade() -> None:
    _convert("decrypt")
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.drop_column("configured_fingerprint")
