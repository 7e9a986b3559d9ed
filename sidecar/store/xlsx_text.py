"""How a workbook's cell values become the text a spreadsheet shows: OOXML's `_xHHHH_` escapes undone,
numbers as openpyxl shows them, date-formatted numbers as ISO dates, column letters as numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def unescape(text: str) -> str:
    """OOXML's escapes undone: `_x0041_` is "A", `_x005F_` a literal "_" (so `_x005F_x0041_` is `_x0041_`).
    Raises ValueError when the escapes make a lone half of a UTF-16 surrogate pair."""
    if "_x" not in text:
        return text
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")  # pairs joined; a lone one raises
    return text


def column_index(letters: str) -> int:
    """A column's letters as its number: A is 1, XFD is 16,384."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


DATE_FORMATS = {*range(14, 23), 45, 46, 47}  # the built-in number formats that show a date or a time


def is_date_format(code: str) -> bool:
    """A custom number format that shows a date: d, m, y, h or s outside quotes, escapes and [colours]."""
    plain = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", code.split(";")[0]).lower()
    return any(ch in plain for ch in "dmyhs") and "general" not in plain


@dataclass(frozen=True)
class Dates:
    """The cell styles that show a number as a date, and the workbook's date system."""

    styles: set[int]
    date1904: bool

    def show(self, raw: str, style: int) -> str:
        """A number cell as text: a date style's serial as an ISO date (and time, when it has one)."""
        if style not in self.styles:
            return number_text(raw)
        try:
            moment = (datetime(1904, 1, 1) if self.date1904 else datetime(1899, 12, 30)) + timedelta(seconds=round(float(raw) * 86400))
        except (ValueError, OverflowError):
            return number_text(raw)
        return moment.strftime("%Y-%m-%d" if moment.time() == time() else "%Y-%m-%d %H:%M:%S")


def number_text(raw: str) -> str:
    """A number cell as openpyxl shows it: an integer, or a float's shortest form."""
    try:
        return str(float(raw)) if any(c in raw for c in ".eE") else str(int(raw))
    except ValueError:
        return raw
