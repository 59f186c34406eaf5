"""Xero's official OpenAPI documents as a table of operations, for strict mode.

The two documents vendored in ``spec/`` (Accounting and Identity, v16.1.0) are read once per
process. Each operation is keyed by ``METHOD /path/{template}`` exactly as the document spells
it, and knows its documented query parameters, its request body schema and its response schema
per status code. Schemas stay inside their document (``$ref``s are resolved through a
``referencing`` registry), read with JSON Schema draft 4 semantics as OpenAPI 3.0 defines them
(siblings of a ``$ref`` are ignored).

Two things the documents say in vendor extensions are turned into formats so they are checked:
``x-is-msdate`` (a date-only field, ``/Date(ms+0000)/`` on the wire) and ``x-is-msdate-time`` (a
timestamp, ``/Date(ms±hhmm)/``). Responses must use them; requests may also send ISO dates, as
Xero accepts both, so those formats are not checked on requests. ``format: uuid`` is checked both
ways.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_DIR = Path(__file__).with_name("spec")
ACCOUNTING_URI = "urn:xero-accounting"
IDENTITY_URI = "urn:xero-identity"
MS_DATE_FORMAT = "xero-msdate"
MS_DATETIME_FORMAT = "xero-msdate-time"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
BINARY_MEDIA_TYPE = "application/octet-stream"  # how the document marks a file's bytes (attachments)

_MS_DATE = re.compile(r"^/Date\(-?\d+(\+0000)?\)/$")
_MS_DATETIME = re.compile(r"^/Date\(-?\d+([+-]\d{4})?\)/$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _format_checker(*, ms_dates: bool) -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("uuid")(lambda value: not isinstance(value, str) or bool(_UUID.match(value)))
    if ms_dates:
        checker.checks(MS_DATE_FORMAT)(lambda value: not isinstance(value, str) or bool(_MS_DATE.match(value)))
        checker.checks(MS_DATETIME_FORMAT)(lambda value: not isinstance(value, str) or bool(_MS_DATETIME.match(value)))
    return checker


RESPONSE_FORMATS = _format_checker(ms_dates=True)
REQUEST_FORMATS = _format_checker(ms_dates=False)


@dataclass
class Operation:
    """One documented operation: what a request may carry and what each answer must look like."""

    method: str
    template: str
    operation_id: str
    query: dict[str, dict[str, Any]]
    headers: frozenset[str]  # documented header parameters, lower case
    body: dict[str, Any] | None
    responses: dict[str, dict[str, Any] | None]
    pattern: re.Pattern[str] = field(repr=False)
    binary_body: bool = False  # the body is a file's bytes (application/octet-stream), not JSON
    binary_responses: frozenset[str] = frozenset()  # statuses whose body is a file's bytes

    @property
    def key(self) -> str:
        """``METHOD /template``, the name strict mode reports."""
        return f"{self.method} {self.template}"


def _prepare(node: Any, uri: str) -> Any:
    """Copy of ``node`` with ``x-is-msdate``/``x-is-msdate-time`` turned into checkable formats and
    local ``$ref``s made absolute (``uri#/...``), so inline schemas resolve on their own."""
    if isinstance(node, dict):
        marked = {key: _prepare(value, uri) for key, value in node.items()}
        if isinstance(marked.get("$ref"), str) and marked["$ref"].startswith("#"):
            marked["$ref"] = uri + marked["$ref"]
        if node.get("x-is-msdate"):
            marked["format"] = MS_DATE_FORMAT
        elif node.get("x-is-msdate-time"):
            marked["format"] = MS_DATETIME_FORMAT
        return marked
    if isinstance(node, list):
        return [_prepare(item, uri) for item in node]
    return node


def _template_pattern(template: str, *, ignore_case: bool) -> re.Pattern[str]:
    parts = [r"[^/]+" if part.startswith("{") else re.escape(part) for part in template.strip("/").split("/")]
    return re.compile("^/" + "/".join(parts) + "$", re.IGNORECASE if ignore_case else 0)


class SpecDocument:
    """One OpenAPI document: its operations, ``$ref`` resolution and cached validators."""

    def __init__(self, path: Path, uri: str, *, ignore_case: bool = False) -> None:
        with path.open(encoding="utf-8") as handle:
            raw = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        self.uri = uri
        self.document: dict[str, Any] = _prepare(raw, uri)
        self.registry: Registry[Any] = Registry().with_resource(
            uri, Resource.from_contents(self.document, default_specification=DRAFT4)
        )
        self.operations = list(self._read_operations(ignore_case=ignore_case))
        # More literal segments first, so ``/Invoices/{id}/pdf`` wins over a looser template.
        self.operations.sort(key=lambda op: -sum(not part.startswith("{") for part in op.template.split("/")))
        self._validators: dict[tuple[int, bool], jsonschema.Draft4Validator] = {}

    def _read_operations(self, *, ignore_case: bool) -> Iterator[Operation]:
        for template, item in self.document["paths"].items():
            shared = [self.resolve(p) for p in item.get("parameters", [])]
            for method in HTTP_METHODS:
                op = item.get(method)
                if op is None:
                    continue
                parameters = shared + [self.resolve(p) for p in op.get("parameters", [])]
                body = op.get("requestBody")
                body_schema = (
                    self.resolve(body).get("content", {}).get("application/json", {}).get("schema") if body else None
                )
                body_media = self.resolve(body).get("content", {}) if body else {}
                responses: dict[str, dict[str, Any] | None] = {}
                binary: set[str] = set()
                for status, answer in op.get("responses", {}).items():
                    content = self.resolve(answer).get("content", {})
                    responses[str(status)] = content.get("application/json", {}).get("schema") if content else None
                    if BINARY_MEDIA_TYPE in content:
                        binary.add(str(status))
                yield Operation(
                    method=method.upper(),
                    template=template,
                    operation_id=op.get("operationId", ""),
                    query={p["name"]: p.get("schema", {}) for p in parameters if p.get("in") == "query"},
                    headers=frozenset(p["name"].lower() for p in parameters if p.get("in") == "header"),
                    body=body_schema,
                    responses=responses,
                    pattern=_template_pattern(template, ignore_case=ignore_case),
                    binary_body=BINARY_MEDIA_TYPE in body_media,
                    binary_responses=frozenset(binary),
                )

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow ``$ref``s into this document until a real schema or object."""
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix(self.uri).removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def match(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method path`` (path relative to the document's server)."""
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def validator(self, schema: dict[str, Any], *, response: bool) -> jsonschema.Draft4Validator:
        """A draft 4 validator for ``schema`` (a schema of this document, or a ``$ref`` into it)."""
        # Schemas are nodes of ``self.document``, which lives as long as this object: ids are stable.
        cache_key = (id(schema), response)
        found = self._validators.get(cache_key)
        if found is None:
            found = jsonschema.Draft4Validator(
                schema, registry=self.registry, format_checker=RESPONSE_FORMATS if response else REQUEST_FORMATS
            )
            self._validators[cache_key] = found
        return found

    def element_schema(self, body: dict[str, Any]) -> dict[str, Any]:
        """The schema of one element of a write body: the wrapped array's items, or the bare object."""
        target = self.resolve(body)
        key = str(target.get("x-objectArrayKey", "")).replace("_", "").lower()
        for name, prop in target.get("properties", {}).items():
            if key and name.lower() == key and self.resolve(prop).get("type") == "array":
                items: dict[str, Any] = self.resolve(prop)["items"]
                return items
        return body

    def unknown_fields(self, instance: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
        """Paths of object keys in ``instance`` that ``schema`` does not declare, depth first."""
        schema = self.resolve(schema)
        if isinstance(instance, dict) and "properties" in schema:
            properties = schema["properties"]
            for name, value in instance.items():
                where = f"{path}.{name}" if path else name
                if name not in properties:
                    yield where
                else:
                    yield from self.unknown_fields(value, properties[name], where)
        elif isinstance(instance, list) and "items" in schema:
            for index, value in enumerate(instance):
                yield from self.unknown_fields(value, schema["items"], f"{path}[{index}]")


def query_value_problem(schema: dict[str, Any], value: str) -> str | None:
    """Why ``value`` is not a valid query value for ``schema`` (None when it is).

    Arrays are sent comma-joined (``style: form, explode: false``, as the spec declares them).
    Booleans are read case-insensitively, as Xero does (the official Python SDK sends ``True``).
    """
    kind = schema.get("type")
    if kind == "array":
        item = schema.get("items", {})
        for part in value.split(","):
            problem = query_value_problem(item, part.strip())
            if problem:
                return problem
        return None
    if kind == "integer" and not re.fullmatch(r"-?\d+", value.strip()):
        return f"{value!r} is not an integer"
    if kind == "boolean" and value.strip().lower() not in {"true", "false"}:
        return f"{value!r} is not a boolean"
    if schema.get("format") == "uuid" and not _UUID.match(value.strip()):
        return f"{value!r} is not a uuid"
    if schema.get("format") == "date" and not _ISO_DATE.match(value.strip()):
        return f"{value!r} is not a YYYY-MM-DD date"
    return None


@functools.cache
def date_fields() -> tuple[frozenset[str], frozenset[str]]:
    """Names of the Accounting API's date-only and timestamp properties, from the document itself."""
    dates: set[str] = set()
    stamps: set[str] = set()
    for schema in accounting_spec().document["components"]["schemas"].values():
        for name, prop in schema.get("properties", {}).items():
            if prop.get("format") == MS_DATE_FORMAT:
                dates.add(name)
            elif prop.get("format") == MS_DATETIME_FORMAT:
                stamps.add(name)
    return frozenset(dates), frozenset(stamps - dates)


@functools.cache
def accounting_spec() -> SpecDocument:
    """The Accounting API document (paths relative to ``/api.xro/2.0``)."""
    return SpecDocument(SPEC_DIR / "xero_accounting.yaml", ACCOUNTING_URI)


@functools.cache
def identity_spec() -> SpecDocument:
    """The Identity API document (``/Connections``; matched case-insensitively, served as ``/connections``)."""
    return SpecDocument(SPEC_DIR / "xero-identity.yaml", IDENTITY_URI, ignore_case=True)
