"""A book's identity is its ISBN: the ISBN-10 and the ISBN-13 of one book are the same book. Pure.

cleaned() is what the book gave, without separators (an X check digit kept); identity() is the form
the sidecar keys rows by: the ISBN-13 when the book gave a valid ISBN-10 or ISBN-13, else the cleaned
text as it is (a broken ISBN still names one book, the same one every time it is given alike).
"""

from __future__ import annotations

import re
from typing import Any

from .values import type_name

MAX_CHARS = 64  # longer text is no ISBN; a bound, so that a hostile value costs nothing
_KEPT = re.compile(r"[^0-9Xx]+")
_ISBN10 = re.compile(r"[0-9]{9}[0-9X]")
_ISBN13 = re.compile(r"97[89][0-9]{10}")


def cleaned(value: Any) -> str:
    """The ISBN as the book gave it: its digits and a final check digit X (written x or X); hyphens,
    spaces and any other characters dropped.

    Raises ValueError for a value that is not text or a whole number, is too long, or holds digits
    other than ASCII 0-9."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{type_name(value)} where an ISBN was expected")
    text = str(value)
    if len(text) > MAX_CHARS:
        raise ValueError(f"{len(text)} characters, too long to be an ISBN")
    if any(c.isdigit() and not "0" <= c <= "9" for c in text):
        raise ValueError("it has digits other than ASCII 0-9 (fullwidth or another script); write it with 0-9")
    kept = _KEPT.sub("", text).upper()
    return kept.replace("X", "") + ("X" if kept.endswith("X") else "")


def identity(text: str) -> str:
    """The key of a cleaned ISBN: the ISBN-13 of a valid ISBN-10 or ISBN-13, else the text unchanged."""
    if _ISBN13.fullmatch(text) and check13(text[:12]) == text[12]:
        return text
    if _ISBN10.fullmatch(text) and check10(text[:9]) == text[9]:
        body = "978" + text[:9]
        return body + check13(body)
    return text


def problem(text: str) -> str | None:
    """Why a cleaned ISBN cannot be LSI's 13-digit ISBN, to follow "ISBN '<as given>'"; None when it has 13
    digits (its prefix and check digit are validate.py's)."""
    if len(text) == 13 and text.isdigit():
        return None
    if identity(text) != text:
        return f"is an ISBN-10; LSI takes the ISBN-13 {identity(text)}"
    if not text:
        return "has no digits"
    return f"has {len(text)} {'digits' if text.isdigit() else 'characters'}, expected 13"


def check13(first12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def check10(first9: str) -> str:
    total = sum(int(d) * (10 - i) for i, d in enumerate(first9))
    digit = (11 - total % 11) % 11
    return "X" if digit == 10 else str(digit)

