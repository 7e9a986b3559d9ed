"""Checks of a finished row against what LSI accepts. Pure: problems are reported, never raised."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Mapping

from .codes import AcsCodes
from .columns import COLUMNS, MARKETS, MAX_BYTES, MAX_CHARS, REQUIRED, TEXT_MAX_CHARS, Problem, Row, max_chars
from .values import quoted

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_WHOLE = re.compile(r"[0-9]{1,6}")
_PRICE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
_PERCENT = re.compile(r"(100|[0-9]{1,2})(\.[0-9]{1,4})?")
# Columns LSI reads as numbers, with what each must look like.
NUMBER_RULES = {
    **{c: (_WHOLE, "a whole number") for c in ("Pages", "# Illustrations", "Edition Number", "# in Series",
                                                "Carton Pack Quantity", "Min Age", "Max Age")},
    **{price: (_PRICE, "a price such as 19.99") for _, price, _, _ in MARKETS},
    **{discount: (_PERCENT, "a percentage from 0 to 100") for _, _, discount, _ in MARKETS},
}


def isbn13_check_digit(first12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


@lru_cache(maxsize=4096)  # a short value (a price, a code, a name) recurs in row after row
def _cell_problems(column: str, value: str) -> tuple[Problem, ...]:
    """One non-blank cell's own rules: LSI's length limit, its number shape, a start a spreadsheet would run."""
    found = []
    if len(value) > MAX_CHARS.get(column, TEXT_MAX_CHARS):
        found.append(Problem("error", column, f"{len(value)} characters, LSI allows {max_chars(column)}"))
    elif column in NUMBER_RULES and not NUMBER_RULES[column][0].fullmatch(value):
        found.append(Problem("error", column, f"{quoted(value)} is not {NUMBER_RULES[column][1]}"))
    if value[0] in FORMULA_STARTS and not _NUMBER.fullmatch(value):
        found.append(Problem("warning", column, f"starts with {value[:1]!r}: a spreadsheet would run it as a formula; "
                             "LSI receives it as written; look at rows in the review workbook (export --format "
                             "xlsx), not in this CSV"))
    return tuple(found)


def validate_row(row: Row, codes: AcsCodes | None = None) -> list[Problem]:
    return validate_cells(dict(zip(COLUMNS, row)), codes)


def validate_cells(cells: Mapping[str, str], codes: AcsCodes | None = None) -> list[Problem]:
    """LSI's rules on the ACS columns present in cells (a whole row, or a file with fewer columns)."""
    problems: list[Problem] = []

    def error(column: str, message: str) -> None:
        problems.append(Problem("error", column, message))

    for column in REQUIRED:
        if cells.get(column) == "":
            error(column, "blank, and LSI rejects the whole file when it is")

    isbn = cells.get("ISBN or SKU", "")
    if len(isbn) == 13 and isbn.isascii() and isbn.isdigit():
        if not isbn.startswith(("978", "979")):
            error("ISBN or SKU", f"ISBN {isbn} does not start with 978 or 979")
        elif isbn[12] != isbn13_check_digit(isbn[:12]):
            error("ISBN or SKU", f"ISBN {isbn} has a wrong check digit (expected {isbn13_check_digit(isbn[:12])})")

    for _, price_col, discount_col, _ in MARKETS:
        price, discount = cells.get(price_col), cells.get(discount_col)
        if price is not None and discount is not None and bool(price) != bool(discount):
            missing = discount_col if price else price_col
            error(missing, f"blank while {price_col if price else discount_col} is set")

    formulas: list[Problem] = []
    for column, value in cells.items():
        if value:
            found = _cell_problems(column, value) if len(value) <= 64 else _cell_problems.__wrapped__(column, value)
            for problem in found:
                (problems if problem.severity == "error" else formulas).append(problem)
    for column, limit in MAX_BYTES.items():
        if len(cells.get(column, "").encode()) > limit:
            error(column, f"{len(cells[column].encode())} bytes, LSI allows {limit}")
    problems.extend(formulas)
    if codes is not None:
        problems.extend(_check_codes(cells, codes))
    return problems


def _check_codes(cells: Mapping[str, str], codes: AcsCodes) -> list[Problem]:
    problems: list[Problem] = []

    def check(column: str, value: str, table: Mapping[str, str] | frozenset[str], what: str) -> None:
        if value and value not in table:
            problems.append(Problem("error", column, f"'{value}' is not {what} in LSI's code tables"))

    booktype, pages = cells.get("Rendition /Booktype", ""), cells.get("Pages", "")
    check("Rendition /Booktype", booktype, codes.book_types, "a book type")
    if booktype in codes.book_types and pages.isascii() and pages.isdigit():
        low, high = codes.book_types[booktype]
        if not low <= int(pages) <= high:
            problems.append(Problem("error", "Pages", f"{pages} pages is outside {low}-{high} for '{booktype}'"))
    for column in ("BISAC Category", "BISAC Category 2", "BISAC Category 3"):
        check(column, cells[column], codes.bisac_names, "a BISAC subject")
    for column in ("Thema Subject 1", "Thema Subject 2", "Thema Subject 3"):
        check(column, cells[column], codes.thema, "a Thema subject")
    check("Language Code", cells.get("Language Code", "").upper(), codes.languages, "a language code")
    check("Audience", cells.get("Audience", ""), codes.audiences, "an audience code")
    for column in ("Contributor One Role", "Contributor Two Role", "Contributor Three Role"):
        check(column, cells[column], codes.roles, "a contributor role")
    check("Contributor One Location Type Code", cells.get("Contributor One Location Type Code", ""),
          codes.location_types, "a location type code")
    return problems
