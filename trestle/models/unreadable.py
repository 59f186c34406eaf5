"""Reading one record whose field has the wrong type without losing the records around it.

A list page is parsed record by record; a field Trestle cannot read (a money field sent as an
object, a name sent as a number, a date that is no date) used to raise from the middle of the
page and take every record after it down with it. The wire models now read such a record
*tolerantly*: the top-level field holding the bad value is left out, the record parses, and what
was wrong is kept on it (:func:`problems_of`). The pipeline turns that into the named review issue
``<entity>.unreadable`` on that one record, so it is neither written nor lost, and re-reads it by
id every run until the source answers something readable.

Only what is read is tolerant: a model built in code (``Vendor(name=…)``, a write's body) is
validated :func:`strictly` and raises as before. Only the outermost model of a payload is
tolerant (a bad value inside a nested line leaves out the whole ``items`` field of its record),
and a field that cannot be left out (a required one) still raises. A record whose *own id* is
unreadable cannot be named or re-read, so it still raises: a broken API answer, not a bad record.

What was found is described without echoing words (a field may hold anything, a secret too): its
JSON type, and for a number or a short text made only of digits and punctuation (a mistyped
amount or date) its value; fields that hide their value from ``repr`` (pre-signed URLs) never
show one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

_NUMBER_LIKE = re.compile(r"[0-9 .,:/+\-TZ$€£%]{1,40}")
"""Text shown as found: what a mistyped amount or date looks like, never words that could be secrets."""
_TOP = re.compile(r"[.\[]")
_strict: ContextVar[bool] = ContextVar("trestle_strict_model", default=False)
"""Set inside an outer model's validation (nested models are never tolerant) and in code-built models."""


@contextmanager
def strictly() -> Iterator[None]:
    """Validate models strictly in this block: what code builds (a write's body) must never lose a field."""
    token = _strict.set(True)
    try:
        yield
    finally:
        _strict.reset(token)


@dataclass(frozen=True)
class FieldProblem:
    """One unreadable value: where it was (``items[0].net_amount``), what was expected, what came."""

    field: str
    expected: str  # pydantic's message less "Input should be": "a valid decimal"
    found: str  # "a JSON object", "the number 5": see _found


def read_tolerantly(
    model: type[BaseModel], value: Any, handler: Callable[[Any], BaseModel], identity: str
) -> BaseModel:
    """Validate ``value`` as ``model``; on a bad field leave it out and remember why (see module doc).

    ``identity`` is the wire key of the record's own id: a problem there is raised as it is.
    """
    if _strict.get() or not isinstance(value, dict):
        return handler(value)
    with strictly():
        try:
            return handler(value)
        except ValidationError as error:
            problems = [_problem(model, entry) for entry in error.errors()]
            bad = {entry["loc"][0] for entry in error.errors() if entry["loc"]}
            if not bad or identity in bad:
                raise
            try:
                parsed = handler({key: item for key, item in value.items() if key not in bad})
            except ValidationError:
                raise error from None
            parsed._unreadable = tuple(problems)  # type: ignore[attr-defined]  # declared by each base model
            return parsed


def problems_of(data: Any) -> tuple[FieldProblem, ...]:
    """The unreadable fields of a record's source: a wire model, or a dataclass (or list) holding some."""
    if isinstance(data, BaseModel):
        found: tuple[FieldProblem, ...] = getattr(data, "_unreadable", ())
        return found
    if isinstance(data, list | tuple):
        return tuple(problem for item in data for problem in problems_of(item))
    if is_dataclass(data) and not isinstance(data, type):
        return tuple(problem for item in fields(data) for problem in problems_of(getattr(data, item.name)))
    return ()


def _problem(model: type[BaseModel], entry: Any) -> FieldProblem:
    location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in entry["loc"]).lstrip(".")
    expected = str(entry["msg"])
    expected = expected.removeprefix("Input should be ").removeprefix("Value error, ")
    hidden = _hides_value(model, str(entry["loc"][0])) if entry["loc"] else False
    return FieldProblem(location or "(record)", expected, _found(entry.get("input"), hidden=hidden))


def _hides_value(model: type[BaseModel], key: str) -> bool:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return not info.repr
    return False


def _found(value: Any, *, hidden: bool) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the value {str(value).lower()}"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, int | float):
        return "a number" if hidden else f"the number {value!r}"
    if isinstance(value, str):
        if hidden or not _NUMBER_LIKE.fullmatch(value):
            return f"a text of {len(value)} characters"
        return f"the text {value!r}"
    return f"a {type(value).__name__}"


def unreadable_keys(data: Any) -> set[str]:
    """The top-level wire keys of ``data`` left out as unreadable (``items`` for ``items[0].net_amount``)."""
    return {_TOP.split(problem.field, maxsplit=1)[0] for problem in problems_of(data)}
