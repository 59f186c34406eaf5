"""When each deployment runs: the catalog's default schedule, overridden by configuration.

A ``[schedules.NAME]`` table in ``trestle.toml`` (or ``TRESTLE_SCHEDULES_NAME`` holding the
same table as JSON) sets the schedule of the deployment ``NAME`` (``nightly``,
``payments-hourly``, ``weekly-full-refresh``, ``vendors``, ``cost-codes``, …; ``_`` and ``-``
are the same in a name)::

    [schedules.vendors]          # the vendors integration on its own, every hour
    interval = "1h"
    [schedules.nightly]
    cron = "30 1 * * *"
    timezone = "Pacific/Auckland"
    [pairs.acme.schedules.payments-hourly]
    active = false               # acme's copy of the deployment is paused

Each table has ``cron`` *or* ``interval`` (seconds, ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"``,
``"1w"`` or ISO 8601 ``"PT1H"``; at least 60 s), ``timezone`` (an IANA name; default
``TRESTLE_TIMEZONE``, else ``Australia/Sydney``) and ``active`` (false: the schedule exists
but is paused). A table without ``cron`` or ``interval`` keeps the catalog's default and
changes only what it names. A pair's table is laid over the top-level one field by field.

The configuration is the truth: ``trestle serve`` (and so ``trestle up``) sends every
deployment's schedules on each start, replacing whatever was edited in the Prefect UI, and a
deployment without a schedule is sent an empty list (a schedule added in the UI is removed).
Intervals count from midnight, 1 January 2000, in the schedule's time zone, so ``1h`` fires
on the hour and a restart does not shift it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

if TYPE_CHECKING:
    from trestle.deployments.catalog import DeploymentSpec

DEFAULT_TIMEZONE = "Australia/Sydney"
TIMEZONE_VARIABLE = "TRESTLE_TIMEZONE"
MIN_INTERVAL = dt.timedelta(seconds=60)
INTERVAL_ANCHOR = dt.datetime(2000, 1, 1)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SHORT_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_TIMEDELTA = TypeAdapter(dt.timedelta)


class ScheduleSettings(BaseModel):
    """One deployment's ``[schedules.NAME]`` table; unset fields keep the default."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(None, description="cron expression (5 fields, Prefect's dialect)")
    interval: dt.timedelta | None = Field(None, description="seconds or a duration: 90s, 15m, 1h, 1d, 1w, PT1H")
    timezone: str | None = Field(None, description="IANA time zone (default TRESTLE_TIMEZONE)")
    active: bool | None = Field(None, description="false: the schedule is paused")

    @field_validator("interval", mode="before")
    @classmethod
    def _parse_interval(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str | int | float) else value

    @field_validator("interval")
    @classmethod
    def _long_enough(cls, value: dt.timedelta | None) -> dt.timedelta | None:
        if value is not None and value < MIN_INTERVAL:
            raise ValueError(f"interval must be at least {MIN_INTERVAL.seconds} s (got {value.total_seconds():g} s)")
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            from prefect.client.schemas.schedules import CronSchedule
            from pydantic import ValidationError

            try:
                CronSchedule(cron=value)  # the rules the Prefect server applies
            except ValidationError as exc:
                raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            check_timezone(value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSettings:
        if self.cron is not None and self.interval is not None:
            raise ValueError("set cron or interval, not both")
        return self


def parse_duration(value: str | int | float) -> dt.timedelta:
    """Seconds, ``"15m"``-style shorthand or ISO 8601 (``"PT1H"``) as a timedelta."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    text = str(value).strip()
    short = _SHORT_DURATION.match(text)
    if short:
        return dt.timedelta(seconds=float(short.group(1)) * _UNITS[short.group(2).lower()])
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return dt.timedelta(seconds=float(text))
    try:
        return _TIMEDELTA.validate_python(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a duration (use seconds, 90s, 15m, 1h, 1d, 1w or PT1H)") from None


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone, else a ValueError that says so."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Australia/Sydney or UTC)") from None
    return name


def normalise_name(name: str) -> str:
    """Deployment names use ``-``; environment variables cannot, so ``_`` means the same."""
    return name.strip().lower().replace("_", "-")


def merge_tables(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Lay a pair's ``schedules`` tables over the top-level ones, field by field.

    A pair that sets ``cron`` or ``interval`` replaces the other kind from the top level.
    """
    merged = {normalise_name(name): dict(table) for name, table in base.items() if isinstance(table, Mapping)}
    for name, table in override.items():
        if not isinstance(table, Mapping):
            merged[normalise_name(name)] = table
            continue
        current = merged.setdefault(normalise_name(name), {})
        if "cron" in table or "interval" in table:
            current.pop("cron", None)
            current.pop("interval", None)
        current.update(table)
    return merged


@dataclass(frozen=True)
class Schedule:
    """A deployment's effective schedule, as it goes to Prefect."""

    cron: str | None
    interval: dt.timedelta | None
    timezone: str
    active: bool = True

    def to_prefect(self) -> Any:
        """A ``prefect.schedules.Schedule`` for ``flow.to_deployment(schedules=[...])``."""
        from prefect.schedules import Cron, Interval

        if self.cron is not None:
            return Cron(self.cron, timezone=self.timezone, active=self.active)
        return Interval(
            self.interval or MIN_INTERVAL, anchor_date=self.anchor, timezone=self.timezone, active=self.active
        )

    def to_yaml(self) -> dict[str, Any]:
        """The schedule as an entry of a deployment's ``schedules`` list in ``prefect.yaml``."""
        if self.cron is not None:
            return {"cron": self.cron, "timezone": self.timezone, "active": self.active}
        seconds = (self.interval or MIN_INTERVAL).total_seconds()
        return {
            "interval": int(seconds) if seconds.is_integer() else seconds,
            "anchor_date": self.anchor.isoformat(),
            "timezone": self.timezone,
            "active": self.active,
        }

    @property
    def anchor(self) -> dt.datetime:
        return INTERVAL_ANCHOR.replace(tzinfo=ZoneInfo(self.timezone))

    def describe(self) -> str:
        """``cron 0 2 * * * (Australia/Sydney)`` or ``every 3600 s (UTC), paused``."""
        when = f"cron {self.cron}" if self.cron else f"every {(self.interval or MIN_INTERVAL).total_seconds():g} s"
        return f"{when} ({self.timezone})" + ("" if self.active else ", paused")


def default_timezone(timezone: str | None = None) -> str:
    """``timezone`` (a ``--timezone`` flag), else ``TRESTLE_TIMEZONE``, else Australia/Sydney; checked."""
    name = timezone or os.environ.get(TIMEZONE_VARIABLE) or DEFAULT_TIMEZONE
    try:
        return check_timezone(name)
    except ValueError as exc:
        from trestle.settings import ConfigError

        where = "--timezone" if timezone else TIMEZONE_VARIABLE
        raise ConfigError(f"{where}: {exc}") from None


def effective_schedule(default_cron: str | None, configured: ScheduleSettings | None, timezone: str) -> Schedule | None:
    """The catalog default with the configured fields laid over it; None when there is no schedule."""
    cron, interval, active = default_cron, None, True
    if configured is not None:
        if configured.cron is not None or configured.interval is not None:
            cron, interval = configured.cron, configured.interval
        if configured.active is not None:
            active = configured.active
        timezone = configured.timezone or timezone
    if cron is None and interval is None:
        return None
    return Schedule(cron=cron, interval=interval, timezone=timezone, active=active)


def configured_schedules(pair: str | None) -> dict[str, ScheduleSettings]:
    """The ``schedules`` tables in force for ``pair`` (None: a single-pair install)."""
    from trestle.settings import load_settings

    return load_settings(pair, secrets=False).schedules


def unknown_names(configured: Iterable[str], known: Iterable[str]) -> list[str]:
    """Configured schedule names that match no deployment in the catalog."""
    return sorted(set(configured) - set(known))


def schedules_for(specs: Sequence[DeploymentSpec], timezone: str | None = None) -> list[Schedule | None]:
    """Each spec's effective schedule, in order (its pair's configuration over the catalog's default).

    Raises ``ConfigError`` naming the setting when a table names no deployment.
    """
    from trestle.settings import ConfigError

    fallback_timezone = default_timezone(timezone)
    by_pair: dict[str | None, dict[str, ScheduleSettings]] = {}
    base_names = {_base_name(spec) for spec in specs}
    result = []
    for spec in specs:
        pair = spec.parameters.get("pair")
        if pair not in by_pair:
            by_pair[pair] = configured_schedules(pair)
            unknown = unknown_names(by_pair[pair], base_names)
            if unknown:
                raise ConfigError(
                    f"{', '.join(_setting(name, pair) for name in unknown)}: no such deployment; "
                    f"schedulable: {', '.join(sorted(base_names))}"
                )
        configured = by_pair[pair].get(_base_name(spec))
        result.append(effective_schedule(spec.cron, configured, fallback_timezone))
    return result


def _base_name(spec: DeploymentSpec) -> str:
    """The catalog name of a spec (a pair's copy is ``<name>-<pair>``)."""
    pair = spec.parameters.get("pair")
    return spec.name.removesuffix(f"-{pair}") if pair else spec.name


def _setting(name: str, pair: str | None) -> str:
    return f"schedules.{name}" + (f" (for pair {pair!r})" if pair else "")
