"""A processed JSON file's bytes become a book, then a row with every problem found. Pure."""

from __future__ import annotations

import json
from typing import Any

from ..errors import BookError
from .convert import Conversion, convert_book
from .columns import Problem
from .profile import Profile
from .validate import validate_row


def book_to_row(data: bytes, profile: Profile, strict: bool) -> tuple[Conversion, tuple[Problem, ...]]:
    """A source file's bytes to its row and every problem found; BookError when it cannot be a row."""
    conversion = convert_book(parse_book(data), profile)
    problems = (*conversion.problems, *validate_row(conversion.row, profile.codes))
    errors = [p for p in problems if p.severity == "error"]
    if strict and errors:
        raise BookError("strict mode: " + "; ".join(f"{p.column}: {p.message}" for p in errors))
    return conversion, problems


def parse_book(data: bytes) -> dict[str, Any]:
    """The book in a processed JSON file: a JSON object, or the object under a top-level 'metadata' key."""
    if not data.strip():
        raise BookError("it is empty (the pipeline may still be writing it)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and b"\x00" in data[:2]):
        raise BookError("it is not UTF-8 (it looks like UTF-16); save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BookError(f"it is not valid UTF-8 (bad byte at offset {exc.start}); save it as UTF-8") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BookError(f"it is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                        "it may be incomplete") from None
    except RecursionError:
        raise BookError("its JSON is nested too deeply to be a book") from None
    if not isinstance(value, dict):
        raise BookError(f"its JSON is {_kind(value)}, expected an object with the book's fields")
    inner = value.get("metadata")
    return inner if isinstance(inner, dict) else value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # rare: only then look for the key that came twice
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BookError(f"its JSON has the key '{key}' twice in one object")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise BookError(f"its JSON contains {name}, which is not valid JSON")


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(type(value), "a number")
