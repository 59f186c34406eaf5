"""A small parser for Xero's ``where=`` filter language, compiled to a predicate over records.

Supported: ``==`` (``=`` too), ``!=``, ``>``, ``<``, ``>=``, ``<=``; ``AND``/``OR``/``NOT`` and
``&&``/``||``/``!``; parentheses; string (double-quoted, backslash escapes), number, ``true``/
``false`` and ``null`` literals; ``Guid("...")`` and ``DateTime(y,m,d[,h,m,s])``; dotted paths
(``Contact.ContactID``); and the string methods ``Contains``, ``StartsWith``, ``EndsWith``,
``ToLower()``/``ToUpper()``. A bare path is read as a boolean (``IsSupplier``).

Choice where Xero's docs are silent: string comparisons are case-insensitive (Xero's store
compares that way in practice; GUIDs differ only in case anyway). A date-only field compares as
midnight UTC, so ``Date>=DateTime(2024,01,31)`` includes that day. Anything unparseable raises
:class:`WhereError`, which the API turns into a 400 that is not a ValidationException.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

Predicate = Callable[[dict[str, Any]], Any]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|>=|<=|&&|\|\||[=<>!(),.])
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_COMPARATORS = {"==", "=", "!=", ">", "<", ">=", "<="}
_STRING_METHODS = {"contains", "startswith", "endswith"}
_CASE_METHODS = {"tolower", "toupper"}


class WhereError(ValueError):
    """The ``where`` expression could not be parsed."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenise(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise WhereError(f"unexpected character at position {position}: {text[position : position + 10]!r}")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


def comparable(value: Any) -> Any:
    """Bring a record or literal value to a form that compares as Xero does (also used by ``order``)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        return value.casefold()
    return value


def _compare(operator: str, left: Any, right: Any) -> bool:
    left, right = comparable(left), comparable(right)
    if operator in {"==", "="}:
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if operator == ">":
            return bool(left > right)
        if operator == "<":
            return bool(left < right)
        if operator == ">=":
            return bool(left >= right)
        return bool(left <= right)
    except TypeError:
        return False


def _resolve(record: dict[str, Any], path: list[str]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenise(text)
        self.index = 0

    def peek(self, offset: int = 0) -> _Token | None:
        position = self.index + offset
        return self.tokens[position] if position < len(self.tokens) else None

    def take(self, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None:
            raise WhereError("unexpected end of expression")
        if text is not None and token.text.upper() != text.upper():
            raise WhereError(f"expected {text!r} but found {token.text!r}")
        self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind in {"ident", "op"} and token.text.upper() in words

    def parse(self) -> Predicate:
        if not self.tokens:
            raise WhereError("empty expression")
        predicate = self.parse_or()
        if self.peek() is not None:
            raise WhereError(f"unexpected {self.peek().text!r}")  # type: ignore[union-attr]
        return predicate

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.at_keyword("OR", "||"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda record: any(bool(p(record)) for p in parts))

    def parse_and(self) -> Predicate:
        parts = [self.parse_not()]
        while self.at_keyword("AND", "&&"):
            self.take()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else (lambda record: all(bool(p(record)) for p in parts))

    def parse_not(self) -> Predicate:
        if self.at_keyword("NOT", "!"):
            self.take()
            inner = self.parse_not()
            return lambda record: not inner(record)
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        token = self.peek()
        if token is not None and token.text == "(":
            self.take("(")
            inner = self.parse_or()
            self.take(")")
            return inner
        left = self.parse_operand()
        token = self.peek()
        if token is None or token.kind != "op" or token.text not in _COMPARATORS:
            return left
        operator = self.take().text
        right = self.parse_operand()
        return lambda record: _compare(operator, left(record), right(record))

    def parse_operand(self) -> Predicate:
        token = self.take()
        if token.kind == "string":
            text = re.sub(r"\\(.)", r"\1", token.text[1:-1])
            return lambda _record: text
        if token.kind == "number":
            number = Decimal(token.text)
            return lambda _record: number
        if token.kind != "ident":
            raise WhereError(f"unexpected {token.text!r}")
        word = token.text.lower()
        if word in {"true", "false"}:
            flag = word == "true"
            return lambda _record: flag
        if word == "null":
            return lambda _record: None
        if word == "guid" and self._next_is("("):
            value = self._call_arguments(kinds={"string"})[0]
            return lambda _record: value
        if word == "datetime" and self._next_is("("):
            moment = self._datetime_literal()
            return lambda _record: moment
        return self._path(token.text)

    def _next_is(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text

    def _call_arguments(self, kinds: set[str]) -> list[Any]:
        self.take("(")
        values: list[Any] = []
        while not self._next_is(")"):
            token = self.take()
            if token.kind not in kinds:
                raise WhereError(f"unexpected argument {token.text!r}")
            values.append(re.sub(r"\\(.)", r"\1", token.text[1:-1]) if token.kind == "string" else token.text)
            if not self._next_is(")"):
                self.take(",")
        self.take(")")
        if not values:
            raise WhereError("missing argument")
        return values

    def _datetime_literal(self) -> datetime:
        parts = self._call_arguments(kinds={"number"})
        if len(parts) not in {3, 6}:
            raise WhereError("DateTime() takes year, month, day and optionally hour, minute, second")
        try:
            year, month, day, hour, minute, second = [int(part) for part in parts] + [0, 0, 0][: 6 - len(parts)]
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError as exc:
            raise WhereError(f"invalid DateTime: {exc}") from exc

    def _path(self, first: str) -> Predicate:
        path = [first]
        transforms: list[Callable[[Any], Any]] = []
        while self._next_is("."):
            self.take(".")
            name = self.take().text
            if not self._next_is("("):
                if transforms:
                    raise WhereError(f"unexpected .{name} after a method call")
                path.append(name)
                continue
            method = name.lower()
            if method in _CASE_METHODS:
                self.take("(")
                self.take(")")
                transforms.append(str.lower if method == "tolower" else str.upper)
                continue
            if method not in _STRING_METHODS:
                raise WhereError(f"unsupported method {name}()")
            needle = str(self._call_arguments(kinds={"string"})[0]).casefold()
            return self._string_test(path, transforms, method, needle)

        def read(record: dict[str, Any]) -> Any:
            value = _resolve(record, path)
            for transform in transforms:
                value = transform(value) if isinstance(value, str) else value
            return value

        return read

    @staticmethod
    def _string_test(path: list[str], transforms: list[Callable[[Any], Any]], method: str, needle: str) -> Predicate:
        def test(record: dict[str, Any]) -> bool:
            value = _resolve(record, path)
            if not isinstance(value, str):
                return False
            haystack = value.casefold()
            if method == "contains":
                return needle in haystack
            if method == "startswith":
                return haystack.startswith(needle)
            return haystack.endswith(needle)

        return test


def compile_where(text: str) -> Predicate:
    """Compile a ``where`` expression into a predicate over native records."""
    return _Parser(text).parse()
