"""Trestle's one validated settings model.

Settings come, highest priority first, from keyword arguments, ``TRESTLE_*`` environment
variables (``TRESTLE_PROCORE_CLIENT_ID`` sets ``procore.client_id``: the first underscore after
the section name splits section from field), a TOML file (``TRESTLE_CONFIG``, default
``trestle.toml`` in the working directory when present), and the defaults below.

:func:`load_settings` turns a validation failure into :class:`ConfigError`, whose message names
every bad setting by its environment variable so a user can fix it without reading code.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "TRESTLE_"
DEFAULT_HOME = Path(".trestle")
INTEGRATIONS = (
    "vendors",
    "projects",
    "cost_codes",
    "commitments",
    "progress_claims",
    "payments",
    "direct_invoices",
)


class ConfigError(Exception):
    """A missing or invalid setting; the message names each one by its environment variable."""


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class ProcoreSettings(BaseModel):
    """How to reach one Procore company."""

    api_url: str = "https://api.procore.com"
    login_url: str = "https://login.procore.com"
    web_url: str = "https://app.procore.com"
    company_id: int | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    auth_mode: Literal["client_credentials", "refresh_token"] = "client_credentials"
    refresh_token: SecretStr | None = Field(None, description="first refresh token (refresh_token mode)")

    _urls = field_validator("api_url", "login_url", "web_url")(_http_url)


class XeroSettings(BaseModel):
    """How to reach one Xero organisation (tenant)."""

    api_url: str = "https://api.xero.com"
    identity_url: str = "https://identity.xero.com"
    web_url: str = "https://go.xero.com"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    auth_mode: Literal["client_credentials", "refresh_token"] = "client_credentials"
    refresh_token: SecretStr | None = None
    scopes: str | None = None

    _urls = field_validator("api_url", "identity_url", "web_url")(_http_url)


class EmailSettings(BaseModel):
    """Where the run summary goes. Without ``smtp_host`` it is written to the outbox folder."""

    recipients: Annotated[list[str], NoDecode] = Field(default_factory=list)
    sender: str = "Trestle <trestle@localhost>"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    outbox_dir: Path | None = None
    send_on: Literal["always", "issues", "never"] = "always"

    @field_validator("recipients", mode="before")
    @classmethod
    def _split_recipients(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class SyncSettings(BaseModel):
    """What varies between clients: names, gates, tax, accounts, which integrations run."""

    contact_group: str = "Procore"
    project_category: str = "Project"
    cost_code_category: str = "Cost Code"
    cost_code_list: str | None = Field(
        None, description="Procore standard cost code list to send (default: the ERP list, else the only or first)"
    )
    project_stage: str = "Send to Xero"
    tax_mode: Literal["exclusive", "inclusive", "none"] = "exclusive"
    tax_map: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="Procore tax code -> Xero TaxType"
    )
    default_tax_type: str = "INPUT"
    bill_account_code: str = "320"
    purchase_order_account_code: str = "320"
    retainage_account_code: str | None = None
    bill_status: Literal["DRAFT", "AUTHORISED"] = "DRAFT"
    bill_due_days: int = Field(30, ge=0, le=365)
    payments_include_tax: bool = False
    payments_delete_removed: bool = False
    integrations: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(INTEGRATIONS))
    overlap_minutes: int = Field(5, ge=0, le=24 * 60)
    fuzzy_threshold: float = Field(92.0, ge=50, le=100)
    currency_dp: int = 2

    @field_validator("integrations", mode="before")
    @classmethod
    def _split_integrations(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("integrations")
    @classmethod
    def _known_integrations(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(INTEGRATIONS))
        if unknown:
            raise ValueError(f"unknown integration(s) {', '.join(unknown)}; known: {', '.join(INTEGRATIONS)}")
        return value

    @field_validator("tax_map", mode="before")
    @classmethod
    def _parse_tax_map(cls, value: Any) -> Any:
        if isinstance(value, str):  # "GST=INPUT,FRE=EXEMPTEXPENSES" from the environment
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("expected CODE=TAXTYPE pairs separated by commas")
            return {code.strip(): tax_type.strip() for code, tax_type in pairs}
        return value

    @property
    def rounding_quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.currency_dp)


class TrestleSettings(BaseSettings):
    """Everything Trestle reads at start; see the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

    home: Path = DEFAULT_HOME
    database_url: str | None = None
    pair: str = Field("default", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    procore: ProcoreSettings = Field(default_factory=ProcoreSettings)
    xero: XeroSettings = Field(default_factory=XeroSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _defaults_under_home(self) -> TrestleSettings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.home / 'trestle.db'}"
        if self.email.outbox_dir is None:
            self.email.outbox_dir = self.home / "outbox"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = config_file_path()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    def require_connections(self) -> None:
        """Fail with :class:`ConfigError` unless both systems' credentials are configured."""
        missing = [
            env_name(("procore", name))
            for name in ("company_id", "client_id", "client_secret")
            if getattr(self.procore, name) is None
        ] + [
            env_name(("xero", name))
            for name in ("tenant_id", "client_id", "client_secret")
            if getattr(self.xero, name) is None
        ]
        if missing:
            raise ConfigError(
                "missing settings: "
                + ", ".join(missing)
                + " (run `trestle sandbox --env-file .trestle/sandbox.env` for a local sandbox, "
                "or see the README's 'Connecting to real Procore and Xero')"
            )


def config_file_path() -> Path | None:
    """The TOML config file: ``TRESTLE_CONFIG`` if set (it must exist), else ``./trestle.toml`` if present."""
    explicit = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{ENV_PREFIX}CONFIG points at {path}, which is not a file")
        return path
    default = Path("trestle.toml")
    return default if default.is_file() else None


def env_name(loc: tuple[Any, ...]) -> str:
    """The environment variable for a settings location.

    ``("procore", "client_id")`` → ``TRESTLE_PROCORE_CLIENT_ID``.
    """
    parts = [str(part) for part in loc[:2] if not isinstance(part, int)]
    return ENV_PREFIX + "_".join(parts).upper()


def load_settings(**overrides: Any) -> TrestleSettings:
    """Read and validate settings, raising :class:`ConfigError` with every problem named."""
    try:
        return TrestleSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            value = error.get("input")
            shown = "" if isinstance(value, dict) or "secret" in str(error["loc"]) else f" (got {value!r})"
            problems.append(f"{env_name(error['loc'])}: {message}{shown}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from None
    except SettingsError as exc:
        raise ConfigError(f"invalid settings: {exc}") from None
