"""Xero batch writes: chunking, idempotency keys and per-element results.

Xero answers a ``summarizeErrors=false`` batch with every element echoed and marked
``OK|WARNING|ERROR``; a summarised 400 ValidationException lists only the failing elements. Both
are turned here into one :class:`BatchResult` per input element, in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from trestle.clients.errors import ValidationFailed
from trestle.models.xero import XeroModel

BATCH_SIZE = 50
"""Elements per write request (Xero's recommendation) and GUIDs per ``IDs`` filter (gateway URL cap)."""
MAX_IDEMPOTENCY_KEY = 128

ModelT = TypeVar("ModelT", bound=XeroModel)


@dataclass
class BatchResult(Generic[ModelT]):
    """The outcome of one element of a batch write.

    ``ok`` is False when Xero reported errors for the element; ``record`` is what Xero echoed
    (with its new ID when saved); ``outcome_unknown`` marks elements of a rejected summarised batch
    that Xero did not list, which may or may not have been saved.
    """

    ok: bool
    record: ModelT | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outcome_unknown: bool = False


@dataclass(frozen=True)
class Collection:
    """A Xero collection that takes batch writes, and the keys that identify an echoed element."""

    path: str
    envelope: str
    match_keys: tuple[str, ...]


def idempotency_keys(key: str, chunks: int) -> list[str]:
    """The key itself for one chunk, ``{key}-{n}`` (n from 1) for several; each ≤ 128 characters."""
    keys = [key] if chunks <= 1 else [f"{key}-{n}" for n in range(1, chunks + 1)]
    if not key or any(len(each) > MAX_IDEMPOTENCY_KEY for each in keys):
        raise ValueError(f"idempotency key must be 1–{MAX_IDEMPOTENCY_KEY} characters including any suffix")
    return keys


def validation_messages(element: dict[str, Any]) -> list[str]:
    """Every ValidationErrors message of an element and of the objects nested in it."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for entry in value.get("ValidationErrors") or []:
                if isinstance(entry, dict) and entry.get("Message"):
                    found.append(str(entry["Message"]))
            for key, nested in value.items():
                if key != "ValidationErrors":
                    walk(nested)
        elif isinstance(value, list):
            for nested in value:
                walk(nested)

    walk(element)
    return list(dict.fromkeys(found))


def _warnings(element: dict[str, Any]) -> list[str]:
    return [str(entry.get("Message")) for entry in element.get("Warnings") or [] if isinstance(entry, dict)]


def element_result(element: dict[str, Any], model: type[ModelT]) -> BatchResult[ModelT]:
    errors = validation_messages(element)
    failed = (
        element.get("StatusAttributeString") == "ERROR"
        or bool(element.get("HasErrors"))
        or bool(element.get("HasValidationErrors"))
        or bool(errors)
    )
    return BatchResult(
        ok=not failed,
        record=model.model_validate(element),
        errors=errors,
        warnings=_warnings(element),
    )


def summarised_results(
    chunk: Sequence[dict[str, Any]],
    failure: ValidationFailed,
    collection: Collection,
    model: type[ModelT],
) -> list[BatchResult[ModelT]]:
    """Attribute a summarised 400 to input elements: positionally, else by ID/number/name."""
    if len(failure.elements) == len(chunk):
        return [element_result(element, model) for element in failure.elements]
    unknown = "the batch was rejected in summary; Xero may or may not have saved this element"
    results: list[BatchResult[ModelT]] = [
        BatchResult(ok=False, record=None, errors=[unknown], outcome_unknown=True) for _ in chunk
    ]
    for element in failure.elements:
        for index, sent in enumerate(chunk):
            if results[index].record is None and _same_element(sent, element, collection):
                results[index] = element_result(element, model)
                break
    return results


def _same_element(sent: dict[str, Any], echoed: dict[str, Any], collection: Collection) -> bool:
    return any(sent.get(key) and sent.get(key) == echoed.get(key) for key in collection.match_keys)
