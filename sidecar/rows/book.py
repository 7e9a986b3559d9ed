"""A processed JSON file's bytes become a book, then an encoded row with every problem found. Pure.

book_to_row() is the fault boundary of one book: whatever reading, converting, validating or encoding
it raises, the caller gets a BookError with a reason, and the run goes on with the next book.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BookError, InputError
from ..inputs import load_json
from .columns import Dialect, Problem, Severity, encode_record
from .convert import Conversion, convert_book
from .profile import Profile
from .validate import validate_row


@dataclass(frozen=True)
class BookRow:
    conversion: Conversion
    problems: tuple[Problem, ...]  # the conversion's source problems, then the cell rules' (validate.py)
    record: bytes  # the row as the checkpoint holds it


def book_to_row(data: bytes, profile: Profile, strict: bool, dialect: Dialect) -> BookRow:
    """A source file's bytes to its row and every problem found; BookError when it cannot be a row."""
    try:
        conversion = convert_book(parse_book(data), profile)
        problems = (*conversion.problems, *validate_row(conversion.row, profile.context))
        record = encode_record(conversion.row, dialect)
    except BookError:
        raise
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start:exc.end].encode("unicode_escape").decode()
        raise BookError(f"it holds text that is not Unicode ('{bad}', a lone surrogate written as a JSON "
                        "escape); correct that text in the file") from None
    except Exception as exc:  # noqa: BLE001 - one book must never stop the run (see the module docstring)
        raise BookError(f"it could not be converted ({type(exc).__name__}: {str(exc)[:200]}); "
                        "check its values, and report the file if they look right") from exc
    errors = [p for p in problems if p.severity == Severity.ERROR]
    if strict and errors:
        raise BookError("strict mode: " + "; ".join(f"{p.column}: {p.message}" for p in errors))
    return BookRow(conversion, problems, record)


def parse_book(data: bytes) -> dict[str, Any]:
    """The book in a processed JSON file: a JSON object, or the object under a top-level 'metadata' key."""
    if not data or data.isspace():  # not data.strip(): that copies a whole book to look at its first bytes
        raise BookError("it is empty (the pipeline may still be writing it)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and b"\x00" in data[:2]):
        raise BookError("it is not UTF-8 (it looks like UTF-16); save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BookError(f"it is not valid UTF-8 (bad byte at offset {exc.start}); save it as UTF-8") from None
    try:
        value = load_json(text)
    except InputError as exc:
        raise BookError(str(exc)) from None
    if not isinstance(value, dict):
        raise BookError(f"its JSON is {_kind(value)}, expected an object with the book's fields")
    inner = value.get("metadata")
    return inner if isinstance(inner, dict) else value


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(type(value), "a number")
