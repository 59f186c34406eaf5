"""Trestle's one validated settings model.

Settings come, highest priority first, from keyword arguments, ``TRESTLE_*`` environment
variables (``TRESTLE_PROCORE_CLIENT_ID`` sets ``procore.client_id``: the first underscore after
the section name splits section from field), a TOML file (``TRESTLE_CONFIG``, default
``trestle.toml`` in the working directory when present), and the defaults below.

Several Procore company / Xero tenant *pairs* can share one install: ``[pairs.NAME]`` tables
hold what differs per pair (``[pairs.acme.xero] tenant_id = ...``) over the top-level sections,
and ``TRESTLE_PAIR`` (or a flow's ``pair`` parameter) picks one. Links, cursors, tokens and
review issues are kept apart by pair name.

Secrets can live in Prefect Secret blocks instead of the environment: ``client_secret_block``
(and ``smtp_password_block``) name the block, read when the settings are loaded.

:func:`load_settings` turns a validation failure into :class:`ConfigError`, whose message names
every bad setting by its environment variable so a user can fix it without reading code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from trestle.deployments.schedules import ScheduleSettings, merge_tables, normalise_name

ENV_PREFIX = "TRESTLE_"
DEFAULT_HOME = Path(".trestle")


def integration_names() -> list[str]:
    """Every declared integration, in nightly order (imported late: integrations read settings)."""
    from trestle.integrations import names

    return names()


class ConfigError(Exception):
    """A missing or invalid setting; the message names each one by its environment variable."""


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class OAuthAppSettings(BaseModel):
    """An app's credentials, the same for both systems."""

    client_id: str | None = None
    client_secret: SecretStr | None = None
    client_secret_block: str | None = Field(None, description="Prefect Secret block holding client_secret")
    auth_mode: Literal["client_credentials", "refresh_token"] = "client_credentials"
    refresh_token: SecretStr | None = Field(None, description="first refresh token (refresh_token mode)")


class ProcoreSettings(OAuthAppSettings):
    """How to reach one Procore company."""

    api_url: str = "https://api.procore.com"
    login_url: str = "https://login.procore.com"
    web_url: str = "https://app.procore.com"
    company_id: int | None = None

    _urls = field_validator("api_url", "login_url", "web_url")(_http_url)


class XeroSettings(OAuthAppSettings):
    """How to reach one Xero organisation (tenant)."""

    api_url: str = "https://api.xero.com"
    identity_url: str = "https://identity.xero.com"
    web_url: str = "https://go.xero.com"
    tenant_id: str | None = None
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
    smtp_password_block: str | None = Field(None, description="Prefect Secret block holding smtp_password")
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

    contact_group: str = Field("Procore", description="Xero contact group whose contacts become Procore vendors")
    project_category: str = Field("Project", description="Xero tracking category for projects")
    cost_code_category: str = Field("Cost Code", description="Xero tracking category for cost codes")
    cost_code_list: str | None = Field(
        None, description="Procore standard cost code list to send (default: the ERP list, else the only or first)"
    )
    project_stage: str = Field("Send to Xero", description="Procore project stage that sends a project to Xero")
    tax_mode: Literal["exclusive", "inclusive", "none"] = Field(
        "exclusive", description="Procore amounts exclude tax (exclusive), include it (inclusive), or no tax (none)"
    )
    tax_map: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="Procore tax code -> Xero TaxType"
    )
    default_tax_type: str = Field("INPUT", description="Xero tax type for lines without a mapped tax code")
    bill_account_code: str = Field("320", description="Xero account for bill and credit note lines")
    purchase_order_account_code: str = Field("320", description="Xero account for purchase order lines")
    retainage_account_code: str | None = Field(
        None, description="when set, gross lines and a negative 'Retainage held' line on this account; else net lines"
    )
    bill_status: Literal["DRAFT", "AUTHORISED"] = Field(
        "DRAFT", description="status of new bills, credit notes and purchase orders"
    )
    bill_due_days: int = Field(30, ge=0, le=365, description="due date when the Xero contact has no bill payment terms")
    direct_cost_cost_type: str = Field(
        "O",
        description="code of the Procore cost type (line item type) new direct cost lines get, so a night's new "
        "bills go in one call per project and step; '' (or a code Procore lacks) writes them bill by bill, untyped",
    )
    payments_include_tax: bool = Field(
        False, description="send whole payments to Procore instead of their cost (excluding tax) share"
    )
    payments_delete_removed: bool = Field(
        False,
        description="delete the Procore payment when its Xero payment is deleted (else it is reported); "
        "the older switch for TRESTLE_SYNC_ON_DELETED_PAYMENTS=propagate",
    )
    integrations: Annotated[list[str], NoDecode] = Field(
        default_factory=integration_names, description="integrations the nightly run runs (default: all)"
    )
    overlap_minutes: int = Field(
        5, ge=0, le=24 * 60, description="incremental reads start this long before the last cursor"
    )
    fuzzy_threshold: float = Field(
        92.0, ge=50, le=100, description="lowest fuzzy name score (0–100) that counts as a match"
    )
    shared_limits: Literal["auto", "on", "off"] = Field(
        "auto", description="Prefect global rate limits per Xero tenant / Procore app (auto: with a Prefect server)"
    )
    xero_calls_per_minute: int = Field(55, ge=1, le=10_000, description="shared limit per Xero tenant")
    procore_calls_per_minute: int = Field(60, ge=1, le=10_000, description="shared limit per Procore app")

    # --- change feed (trestle/webhooks/): Procore webhooks pick the projects a nightly re-reads
    change_feed: bool = Field(
        False, description="per-project streams read only projects with Procore webhook events (see webhooks install)"
    )
    sweep_every_days: int = Field(
        7, ge=1, le=90, description="with the change feed: a full polling sweep at least this often"
    )
    feed_namespace: str = Field(
        "trestle", pattern=r"^[a-z-]+$", description="Procore webhooks namespace of Trestle's hook"
    )

    # --- deleted records (trestle/tasks/deleted.py): one policy per integration
    on_deleted: dict[str, str] = Field(
        default_factory=dict,
        description="per integration, what to do when a record Trestle wrote is deleted on the other side: "
        "report, recreate or propagate ([sync.on_deleted] table, or TRESTLE_SYNC_ON_DELETED_<INTEGRATION>)",
    )

    @model_validator(mode="before")
    @classmethod
    def _gather_on_deleted(cls, data: Any) -> Any:
        """``TRESTLE_SYNC_ON_DELETED_PROGRESS_CLAIMS`` arrives as the key ``on_deleted_progress_claims``:
        fold such keys into the ``on_deleted`` table (over the table's own entries)."""
        if not isinstance(data, dict):
            return data
        flat = {key: value for key, value in data.items() if isinstance(key, str) and key.startswith("on_deleted_")}
        table = data.get("on_deleted") or {}
        if not flat or not isinstance(table, dict):
            return data
        rest = {key: value for key, value in data.items() if key not in flat}
        rest["on_deleted"] = {**table, **{key.removeprefix("on_deleted_"): value for key, value in flat.items()}}
        return rest

    @model_validator(mode="after")
    def _supported_on_deleted(self) -> SyncSettings:
        """Every choice names a known integration and a policy that integration declares it supports."""
        from trestle.integrations import registry

        declared = registry()
        if self.payments_delete_removed and "payments" in declared:  # the older switch for the same choice
            self.on_deleted.setdefault("payments", "propagate")
        problems = []
        for name, policy in sorted(self.on_deleted.items()):
            where = f"{ENV_PREFIX}SYNC_ON_DELETED_{name.upper()} ([sync.on_deleted] {name})"
            if name not in declared:
                problems.append(f"{where}: unknown integration {name!r}; known: {', '.join(declared)}")
            elif policy not in declared[name].on_deleted:
                supported = ", ".join(declared[name].on_deleted)
                problems.append(f"{where}: {policy!r} is not supported by {name}; choose one of {supported}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- end of deleted records

    @field_validator("integrations", mode="before")
    @classmethod
    def _split_integrations(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("integrations")
    @classmethod
    def _known_integrations(cls, value: list[str]) -> list[str]:
        known = integration_names()
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown integration(s) {', '.join(unknown)}; known: {', '.join(known)}")
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


def _split_list(value: Any) -> Any:
    """``"a, b"`` from the environment → ``["a", "b"]``; lists pass through."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class PortalSettings(BaseModel):
    """The portal (``trestle portal``): where it listens and who may enter (per pair in ``[pairs.NAME.portal]``).

    People are named by Procore user id or login email (as ``GET /rest/v1.0/me`` reports them),
    and must also see the pair's company in ``GET /rest/v1.0/companies``. Sign-in uses the ``[procore]`` app's
    credentials, whose redirect URI must be ``<public_url>/auth/callback``.
    """

    host: str = "127.0.0.1"
    port: int = Field(4300, ge=0, le=65535)
    public_url: str | None = Field(None, description="the address browsers use (default http://host:port)")
    session_secret: SecretStr | None = Field(None, description="signs session cookies (default: a key kept in home)")
    session_minutes: int = Field(480, ge=5, le=7 * 24 * 60)
    allowed_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Procore user ids or emails who may see this pair"
    )
    run_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="of those, who may start runs (ids or emails)"
    )

    _lists = field_validator("allowed_users", "run_users", mode="before")(_split_list)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @property
    def base_url(self) -> str:
        """The portal's address as browsers see it."""
        return self.public_url or f"http://{self.host}:{self.port}"


SECTIONS = ("procore", "xero", "email", "sync", "portal")
PAIR_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class PairSettings(BaseModel):
    """One Procore company / Xero tenant pair: what differs from the top-level sections."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, description="how emails and the UI name this pair")
    procore: dict[str, Any] = Field(default_factory=dict)
    xero: dict[str, Any] = Field(default_factory=dict)
    email: dict[str, Any] = Field(default_factory=dict)
    sync: dict[str, Any] = Field(default_factory=dict)
    schedules: dict[str, Any] = Field(default_factory=dict, description="[pairs.NAME.schedules.DEPLOYMENT] tables")
    portal: dict[str, Any] = Field(default_factory=dict)


class _TrestleSources(BaseSettings):
    """Where settings come from: keyword arguments, then ``TRESTLE_*`` variables, then the TOML file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

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


class TrestleSettings(_TrestleSources):
    """Everything Trestle reads at start; see the README's configuration table."""

    home: Path = DEFAULT_HOME
    database_url: str | None = None
    secret_key_block: str | None = Field(
        None, description="Prefect Secret block holding the token encryption keys (when TRESTLE_SECRET_KEY is unset)"
    )
    pairs: dict[Annotated[str, Field(pattern=PAIR_NAME)], PairSettings] = Field(default_factory=dict)
    pair: str = Field("default", pattern=PAIR_NAME)
    procore: ProcoreSettings = Field(default_factory=ProcoreSettings)
    xero: XeroSettings = Field(default_factory=XeroSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    schedules: dict[str, ScheduleSettings] = Field(
        default_factory=dict, description="[schedules.DEPLOYMENT] tables: see trestle/deployments/schedules.py"
    )

    @field_validator("schedules", mode="before")
    @classmethod
    def _schedule_names(cls, value: Any) -> Any:
        return {normalise_name(name): table for name, table in value.items()} if isinstance(value, dict) else value

    timezone: str = Field("Australia/Sydney", description="IANA time zone of schedules and of times in summaries")
    review_stale_days: int = Field(7, ge=1, description="open review issues older than this are flagged as stale")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Australia/Sydney)") from None
        return value

    portal: PortalSettings = Field(default_factory=PortalSettings)

    @model_validator(mode="before")
    @classmethod
    def _apply_pair(cls, data: Any) -> Any:
        """Lay the chosen pair's table over the top-level sections."""
        if not isinstance(data, dict):
            return data
        pairs, chosen = data.get("pairs"), data.get("pair") or "default"
        overrides = pairs.get(chosen) if isinstance(pairs, dict) else None
        if isinstance(overrides, PairSettings):
            overrides = overrides.model_dump(exclude_unset=True)
        if not isinstance(overrides, dict):
            return data
        merged = dict(data)
        for section in SECTIONS:
            extra = overrides.get(section)
            if not extra:
                continue
            base = merged.get(section) or {}
            if isinstance(base, BaseModel):
                base = base.model_dump(exclude_unset=True)
            base = dict(base)
            for secret, block in (("client_secret", "client_secret_block"), ("smtp_password", "smtp_password_block")):
                if block in extra and secret not in extra:  # the pair's own block beats a shared secret
                    base.pop(secret, None)
            merged[section] = {**base, **extra}
            if isinstance(base.get("on_deleted"), dict) and isinstance(extra.get("on_deleted"), dict):
                merged[section]["on_deleted"] = {**base["on_deleted"], **extra["on_deleted"]}  # per key, not whole
        if overrides.get("schedules"):
            merged["schedules"] = merge_tables(merged.get("schedules") or {}, overrides["schedules"])
        return merged

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        scheme = (value or "sqlite").split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in ("sqlite", "postgresql"):
            raise ValueError(
                f"unsupported database {scheme!r}: use sqlite:///path/to/trestle.db or "
                "postgresql://user@host:5432/dbname"
            )
        return value

    @field_validator("pair")
    @classmethod
    def _configured_pair(cls, value: str, info: ValidationInfo) -> str:
        pairs = info.data.get("pairs") or {}
        if pairs and value not in pairs:
            raise ValueError(
                f"pair {value!r} is not configured; choose one of {', '.join(sorted(pairs))} "
                "(TRESTLE_PAIR, --pair, or the flow's pair parameter)"
            )
        return value

    @property
    def pair_title(self) -> str:
        """The pair's display name (its ``title``, else its name)."""
        configured = self.pairs.get(self.pair)
        return (configured.title if configured else None) or self.pair

    @model_validator(mode="after")
    def _defaults_under_home(self) -> TrestleSettings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.home / 'trestle.db'}"
        if self.email.outbox_dir is None:
            self.email.outbox_dir = self.home / "outbox"
        return self

    def require_connections(self) -> None:
        """Fail with :class:`ConfigError` unless both systems' credentials are configured."""
        missing = [
            env_name((system, name))
            for system in ("procore", "xero")
            for name in ("company_id" if system == "procore" else "tenant_id", "client_id", "client_secret")
            if getattr(getattr(self, system), name) is None
            and not (name == "client_secret" and getattr(self, system).client_secret_block)
        ]
        if missing:
            where = f" for pair {self.pair!r} (or in its [pairs.{self.pair}.*] tables)" if self.pairs else ""
            raise ConfigError(
                f"missing settings{where}: "
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


class _PairNames(_TrestleSources):
    """Only the ``pairs`` table: which pairs exist, without choosing one."""

    pairs: dict[str, Any] = Field(default_factory=dict)


def pair_names() -> list[str]:
    """The configured pairs' names, or ``[]`` for a single-pair install (pair ``default``)."""
    try:
        return sorted(_PairNames().pairs)
    except (ValidationError, SettingsError) as exc:
        raise ConfigError(f"invalid pairs table: {exc}") from None


def load_settings(pair: str | None = None, *, secrets: bool = True, **overrides: Any) -> TrestleSettings:
    """Read and validate settings for ``pair`` (default ``TRESTLE_PAIR``), every problem named.

    With ``secrets`` (the default), secrets named by ``*_block`` settings are read from their
    Prefect Secret blocks, which needs the Prefect API.
    """
    if pair:
        overrides["pair"] = pair
    try:
        settings = TrestleSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            value = error.get("input")
            hidden = isinstance(value, dict) or "secret" in str(error["loc"]) or error["loc"][0] == "database_url"
            shown = "" if hidden else f" (got {value!r})"  # a database URL may carry a password
            where = env_name(error["loc"])
            if error["loc"][0] == "schedules" and len(error["loc"]) > 1:  # the TOML key names it best
                where = f"{'.'.join(map(str, error['loc']))} ({where})"
            problems.append(f"{where}: {message}{shown}")
        if len(problems) == 1:  # one line for one problem
            raise ConfigError(f"invalid setting {problems[0]}") from None
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from None
    except SettingsError as exc:
        raise ConfigError(f"invalid settings: {exc}") from None
    if secrets:
        resolve_secret_blocks(settings)
    return settings


def install_settings() -> TrestleSettings:
    """The settings every pair shares (home, database): no pair need be chosen, no secret is read."""
    names = pair_names()
    return load_settings(os.environ.get(f"{ENV_PREFIX}PAIR") or (names[0] if names else None), secrets=False)


SECRET_BLOCKS = (
    ("procore", "client_secret"),
    ("xero", "client_secret"),
    ("email", "smtp_password"),
)


def resolve_secret_blocks(settings: TrestleSettings) -> None:
    """Fill each secret that is unset but names a Prefect Secret block from that block."""
    for section_name, field_name in SECRET_BLOCKS:
        section = getattr(settings, section_name)
        block_name = getattr(section, f"{field_name}_block")
        if not block_name or getattr(section, field_name) is not None:
            continue
        setting, instead = env_name((section_name, field_name + "_block")), env_name((section_name, field_name))
        value = read_secret_block(block_name, setting=setting, instead=instead)
        setattr(section, field_name, SecretStr(value))


def read_secret_block(block_name: str, *, setting: str, instead: str) -> str:
    """The value of the Prefect Secret block ``block_name``, which the setting ``setting`` names.

    A missing block or an unreachable Prefect API is a :class:`ConfigError` naming the setting, the
    block and ``instead`` (the environment variable that could hold the secret itself).
    """
    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_API_URL

    try:
        # Settings load in sync code, where load() returns the block itself, never a coroutine.
        return str(cast("Secret[Any]", Secret.load(block_name)).get())
    except Exception as exc:  # missing block, no API: say which setting and block
        if not PREFECT_API_URL.value():  # only this machine's temporary Prefect database was searched
            raise ConfigError(
                f"{setting}: the Prefect Secret block {block_name!r} cannot be read because no Prefect API is "
                f"configured; set PREFECT_API_URL to the server that holds it (`trestle up` prints it), "
                f"or set {instead} instead"
            ) from None
        raise ConfigError(
            f"{setting}: the Prefect Secret block {block_name!r} "
            f"could not be read ({type(exc).__name__}); create it in the Prefect UI's Blocks page or "
            f"with `Secret(value=...).save({block_name!r})` from prefect.blocks.system"
        ) from None
