"""Typed coercion of client-sent attributes, shared by every entity's rules.

Each entity declares which attributes a client may write and of what kind; :func:`coerce` turns a
request body into native values, collecting Rails-style per-field errors. Unknown keys are
ignored, as Procore ignores attributes it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from .wire import parse_date, parse_decimal

Kind = Literal["str", "text", "int", "bool", "date", "decimal", "list"]
Spec = Mapping[str, Kind]


def _coerce_one(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind in ("str", "text"):
        if isinstance(value, dict | list):
            raise ValueError("must be a string")
        return str(value)
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError("must be an integer")
        try:
            return int(str(value))
        except ValueError as exc:
            raise ValueError("must be an integer") from exc
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise ValueError("must be true or false")
    if kind == "date":
        return parse_date(value) if value != "" else None
    if kind == "decimal":
        return parse_decimal(value)
    if not isinstance(value, list):
        raise ValueError("must be an array")
    return value


def coerce(attrs: Mapping[str, Any], spec: Spec) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Native values for the attributes ``spec`` knows, and per-field errors for bad ones."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, kind in spec.items():
        if name not in attrs:
            continue
        try:
            values[name] = _coerce_one(kind, attrs[name])
        except ValueError as exc:
            errors.setdefault(name, []).append(str(exc))
    return values, errors


def changed(record: Mapping[str, Any], values: Mapping[str, Any]) -> set[str]:
    """The attributes in ``values`` that differ from what ``record`` holds."""
    return {name for name, value in values.items() if record.get(name) != value}


def add_error(errors: dict[str, list[str]], name: str, message: str) -> None:
    """Append one Rails-style error message for ``name``."""
    errors.setdefault(name, []).append(message)
