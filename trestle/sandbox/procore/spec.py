"""Procore's official API description, as the sandbox reads it: one :class:`Operation` per method + path.

The source is ``reference/procore_oas_extract_finance.json``, an unmodified copy of
``../shared/reference/procore/procore_oas_extract_finance.json`` (per-operation excerpts of Procore's
OpenAPI document; a test checks the copy is identical). Where that extractor emptied a 2xx schema,
the field list of the generated SDK's model stands in (``reference/procore_models_from_generated_sdk.json``,
:data:`SDK_MODEL_FOR`), and the v1.1 project list borrows the v1.0 project list item (:data:`SCHEMA_SAME_AS`).

The extract is depth-limited: nested objects beyond its depth read ``{"type": "object",
"description": "(nested object)"}``. Those are "unknown shape" here, never "an empty object".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

REFERENCE_DIR = Path(__file__).with_name("reference")
EXTRACT_FILE = REFERENCE_DIR / "procore_oas_extract_finance.json"
SDK_MODELS_FILE = REFERENCE_DIR / "procore_models_from_generated_sdk.json"
NESTED_MARKER = "(nested object)"

_VENDOR_MODEL = "company_vendor_extended (GET /rest/v1.0/vendors item)"
_LINE_MODEL = "commitment_line_item (GET /rest/v1.0/{work_order|purchase_order}_contracts/{id}/line_items item)"
#: Operations whose 2xx schema the extractor emptied, and the SDK model that describes their records.
SDK_MODEL_FOR: dict[str, str] = {
    "GET /rest/v1.0/vendors": _VENDOR_MODEL,
    "POST /rest/v1.0/vendors": _VENDOR_MODEL,
    "GET /rest/v1.0/vendors/{id}": _VENDOR_MODEL,
    "PATCH /rest/v1.0/vendors/{id}": _VENDOR_MODEL,
    "GET /rest/v1.0/companies/{company_id}/vendors/inactive": _VENDOR_MODEL,
    "PATCH /rest/v1.0/companies/{company_id}/vendors/inactive/{id}": _VENDOR_MODEL,
    "GET /rest/v1.0/cost_codes": "cost_code (GET /rest/v1.0/cost_codes item)",
    "GET /rest/v1.0/work_order_contracts": "work_order_contract (GET /rest/v1.0/work_order_contracts item)",
    "GET /rest/v1.0/work_order_contracts/{work_order_contract_id}/line_items": _LINE_MODEL,
    "GET /rest/v1.0/work_order_contracts/{work_order_contract_id}/line_items/{id}": _LINE_MODEL,
    "GET /rest/v1.0/purchase_order_contracts/{purchase_order_contract_id}/line_items": _LINE_MODEL,
    "GET /rest/v1.0/purchase_order_contracts/{purchase_order_contract_id}/line_items/{id}": _LINE_MODEL,
}
#: The v1.1 project list has no record schema anywhere; its records are the v1.0 list's.
SCHEMA_SAME_AS: dict[str, str] = {"GET /rest/v1.1/projects": "GET /rest/v1.0/projects"}
#: Commitment change orders: both 200 schemas are emptied and no SDK model lists them. The extract's
#: one description of a (1- and 2-tier) commitment change order is the commitment show's
#: ``change_order_packages`` item: list records are exactly that; show adds ``line_items`` in the
#: commitment line item model (the narrower reading, docs/FIDELITY.md).
CHANGE_ORDER_LIST = "GET /rest/v1.0/projects/{project_id}/commitment_change_orders"
CHANGE_ORDER_SHOW = "GET /rest/v1.0/projects/{project_id}/commitment_change_orders/{id}"
CHANGE_ORDER_DESCRIBED_BY = "GET /rest/v1.0/work_order_contracts/{id}"
_SDK_TYPES = {"int": "integer", "str": "string", "bool": "boolean", "date": "string", "datetime": "string"}


@dataclass(frozen=True)
class Operation:
    """One documented operation: its parameters, request body and response schemas."""

    key: str  # "GET /rest/v1.0/vendors/{id}"
    operation_id: str
    method: str
    path: str
    query: dict[str, dict[str, Any]]  # query parameter name -> its schema (``description`` kept)
    body: dict[str, Any] | None  # request body schema, None when the operation takes none
    responses: dict[str, dict[str, Any] | None]  # status ("200", "default") -> schema (None: no body documented)
    pattern: re.Pattern[str] = field(repr=False, compare=False)
    literal_segments: int = 0

    def success_statuses(self) -> list[int]:
        """The 2xx statuses the spec documents."""
        return [int(code) for code in self.responses if code.isdigit() and code.startswith("2")]


def operation_key(method: str, path: str) -> str:
    """``"GET /rest/v1.0/vendors/{id}"``: how view tables and strict messages name an operation."""
    return f"{method.upper()} {path}"


def _compile(path: str) -> tuple[re.Pattern[str], int]:
    parts = path.strip("/").split("/")
    regex = "/".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^/{regex}/?$"), sum(not part.startswith("{") for part in parts)


def _sdk_schema(model: dict[str, Any]) -> dict[str, Any]:
    properties = {
        name: {"type": _SDK_TYPES[info["type"]]} if info.get("type") in _SDK_TYPES else {}
        for name, info in model["fields"].items()
    }
    return {"type": "object", "properties": properties}


def _is_empty(schema: dict[str, Any] | None) -> bool:
    if not schema:
        return True
    inner = schema.get("items", schema) if schema.get("type") == "array" else schema
    return not inner or (inner.get("type") in (None, "object") and not inner.get("properties"))


class ProcoreSpec:
    """Every operation of the extract, found by method and concrete request path."""

    def __init__(self, extract: dict[str, Any], sdk_models: dict[str, Any]) -> None:
        self.operations: dict[str, Operation] = {}
        for raw in extract["operations"]:
            key = operation_key(raw["method"], raw["path"])
            pattern, literals = _compile(raw["path"])
            params = raw.get("parameters") or []
            body = raw.get("requestBody") or None
            self.operations[key] = Operation(
                key=key,
                operation_id=raw["operationId"],
                method=raw["method"].upper(),
                path=raw["path"],
                query={param["name"]: param for param in params if param.get("in") == "query"},
                body=body.get("schema") if body else None,
                responses={code: (answer or {}).get("schema") for code, answer in (raw.get("responses") or {}).items()},
                pattern=pattern,
                literal_segments=literals,
            )
        self._fill_empty_schemas(sdk_models["models"])
        self._by_method: dict[str, list[Operation]] = {}
        for operation in self.operations.values():
            self._by_method.setdefault(operation.method, []).append(operation)
        for candidates in self._by_method.values():  # literal segments win: /vendors/sync before /vendors/{id}
            candidates.sort(key=lambda operation: -operation.literal_segments)

    def _fill_empty_schemas(self, models: dict[str, Any]) -> None:
        for key, model_name in SDK_MODEL_FOR.items():
            self._replace_record_schema(key, _sdk_schema(models[model_name]))
        for key, source_key in SCHEMA_SAME_AS.items():
            source = self.operations[source_key]
            record = (source.responses[str(source.success_statuses()[0])] or {}).get("items", {})
            self._replace_record_schema(key, record)
        package = self.operations[CHANGE_ORDER_DESCRIBED_BY].responses["200"] or {}
        change_order = package["properties"]["change_order_packages"]["items"]
        with_lines = {"type": "array", "items": _sdk_schema(models[_LINE_MODEL])}
        self._set_stand_in(CHANGE_ORDER_LIST, {"type": "array", "items": change_order})
        self._set_stand_in(
            CHANGE_ORDER_SHOW, {**change_order, "properties": {**change_order["properties"], "line_items": with_lines}}
        )

    def _set_stand_in(self, key: str, schema: dict[str, Any]) -> None:
        operation = self.operations[key]
        if not _is_empty(operation.responses.get("200")):
            raise ValueError(f"{key}: the extract now has a 200 schema; drop its stand-in")
        operation.responses["200"] = schema

    def _replace_record_schema(self, key: str, record: dict[str, Any]) -> None:
        operation = self.operations[key]
        status = str(operation.success_statuses()[0])
        current = operation.responses.get(status)
        if not _is_empty(current):
            raise ValueError(f"{key}: the extract now has a {status} schema; drop its stand-in")
        is_list = current is not None and current.get("type") == "array"
        operation.responses[status] = {"type": "array", "items": record} if is_list else record

    def error_status(self, method: str, path: str, wanted: int) -> int:
        """``wanted`` if the operation documents it (or a ``default``), else its documented 400.

        An error status the spec does not list for an operation (say 409 on ``POST /vendors``,
        which documents 201/400/401/403) would be a promise the real API never made.
        """
        operation = self.find(method, path)
        if operation is None or str(wanted) in operation.responses or "default" in operation.responses:
            return wanted
        return 400 if "400" in operation.responses else wanted

    def find(self, method: str, path: str) -> Operation | None:
        """The operation a request for ``method path`` is an instance of (None if undocumented)."""
        for operation in self._by_method.get(method.upper(), []):
            if operation.pattern.match(path):
                return operation
        return None


@cache
def load_spec() -> ProcoreSpec:
    """The packaged spec (parsed once per process)."""
    return ProcoreSpec(json.loads(EXTRACT_FILE.read_text()), json.loads(SDK_MODELS_FILE.read_text()))
