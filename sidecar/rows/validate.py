"""LSI's cell rules (lsi_rules.py) on a finished row: the one check that conversion, `verify` of any ACS-shaped
file and the review workbook share, so that they report the same problems. Pure: problems are returned,
never raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Mapping

from . import lsi_rules as R
from .codes import AcsCodes
from .isbn import identity
from .columns import (
    ANNOTATION_SUMMARY, AUDIENCE, BISAC_CATEGORIES, CARTON_PACK_QUANTITY, COLUMNS, CONTRIBUTORS,
    CONTRIBUTOR_ONE_LOCATION_TYPE_CODE, CONTRIBUTOR_ROLES, COVER_PATH_FILENAME, EDITION_NUMBER, FLEX_FIELDS,
    ILLUSTRATION_COUNT, IMPRINT, INTERIOR_PATH_FILENAME, ISBN_OR_SKU, JACKET_PATH_FILENAME, LANGUAGE_CODE,
    LSI_SPECIAL_CATEGORY, MARKETING_IMAGE, MARKETS, MAX_AGE, MIN_AGE, NUMBER_IN_SERIES, PAGES, PARENT_ISBN,
    PUBLISHER, PUB_DATE, RENDITION_BOOKTYPE, RETURNABLE, STREET_DATE, THEMA_SUBJECTS, Problem, Row, Severity,
)
from .values import quoted

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_WHOLE = re.compile(r"[0-9]{1,6}")
_PRICE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
_PERCENT = re.compile(r"(100|[0-9]{1,2})(\.[0-9]{1,4})?")
_SCIENTIFIC = re.compile(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_US_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{2}|[0-9]{4})")
_SERIAL = re.compile(r"[0-9]{4,6}(\.[0-9]+)?")
_MARKUP = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?/?>|&(#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6}|[A-Za-z]{2,8});")
URL = re.compile(r"(?i)\b(?:https?|ftp)://[^\s<>\"']+|\bwww\.[a-z0-9-]+(?:\.[a-z0-9-]+)+")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Columns LSI reads as numbers, with what each must look like.
NUMBER_RULES = {
    **{c: (_WHOLE, "a whole number") for c in (PAGES, ILLUSTRATION_COUNT, EDITION_NUMBER, NUMBER_IN_SERIES,
                                                CARTON_PACK_QUANTITY, MIN_AGE, MAX_AGE)},
    **{m.price: (_PRICE, "a price such as 19.99") for m in MARKETS},
    **{m.discount: (_PERCENT, "a percentage from 0 to 100") for m in MARKETS},
}
ISBN_COLUMNS = (ISBN_OR_SKU, PARENT_ISBN)
DATE_COLUMNS = (PUB_DATE, STREET_DATE)
FILE_COLUMNS = (JACKET_PATH_FILENAME, INTERIOR_PATH_FILENAME, COVER_PATH_FILENAME, MARKETING_IMAGE)
BY_ARRANGEMENT = (LSI_SPECIAL_CATEGORY, *FLEX_FIELDS)
TWO_DIGIT_CODES = (AUDIENCE, CONTRIBUTOR_ONE_LOCATION_TYPE_CODE)
DELIVER_MARKETS = ("US",)  # Returns Option (LSI); IngramSpark adds CA
EXCEL_EPOCH = date(1899, 12, 30)


@dataclass(frozen=True)
class RuleContext:
    """What the cell rules need besides the row: the code tables and the publisher's own facts (config.yaml's
    lsi section and the imprint config's name)."""

    codes: AcsCodes | None = None
    imprint_name: tuple[str, str] = ("", "")  # the imprint config's name for the imprint, and its file
    registered_imprints: tuple[str, ...] = ()  # lsi.registered_imprints
    registered_publishers: tuple[str, ...] = ()  # lsi.registered_publishers
    markets: frozenset[str] | None = None  # lsi.markets: None, every priced market counts
    discount_range: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # market or "*"


def isbn13_check_digit(first12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def validate_row(row: Row, context: RuleContext = RuleContext()) -> list[Problem]:
    return validate_cells(dict(zip(COLUMNS, row)), context)


def validate_cells(cells: Mapping[str, str], context: RuleContext = RuleContext()) -> list[Problem]:
    """Every cell rule on the ACS columns present in cells (a whole row, or a file with fewer columns); a
    cell of spaces only counts as blank."""
    problems: list[Problem] = []
    stripped: dict[str, str] = {}
    for column, value in cells.items():
        if not value:
            continue
        trimmed = value.strip()
        if trimmed is not value:  # CPython hands back the same string when there is nothing to strip
            value = stripped[column] = trimmed
        if value:
            problems.extend(_cell_problems(column, value) if len(value) <= 64
                            else _cell_problems.__wrapped__(column, value))
    if stripped:
        cells = {**cells, **stripped}
    problems[:0] = [R.REQUIRED.at(column, "blank, and LSI rejects the whole file when it is")
                    for column in R.REQUIRED_COLUMNS if cells.get(column) == ""]
    if cells.get(ANNOTATION_SUMMARY) == "":
        problems.append(R.DESCRIPTION.at(ANNOTATION_SUMMARY, "blank: LSI recommends a book description of at "
                                                                 f"least {R.DESCRIPTION_MIN_CHARS} characters",
                                         Severity.WARNING))
    problems += _pages(cells, context.codes)
    problems += _prices(cells, context)
    problems += _contributors(cells)
    problems += _dates(cells)
    problems += _names(cells, context)
    if context.codes is not None:
        problems.extend(_check_codes(cells, context.codes))
    return problems


@lru_cache(maxsize=4096)  # a short value (a price, a code, a name) recurs in row after row
def _cell_problems(column: str, value: str) -> tuple[Problem, ...]:
    """One non-blank cell's own rules."""
    found: list[Problem] = []
    limit = R.LIMITS.get(column)
    if len(value) > R.CELL_LIMIT.size:
        found.append(R.LENGTH.at(column, f"{len(value):,} characters; a cell of LSI's spreadsheet holds "
                                         f"{R.CELL_LIMIT.size:,}"))
    elif limit and limit.measure(value) > limit.size:
        where = "LSI allows" if limit.source else "LSI publishes no limit; the pipeline's is"
        found.append(R.LENGTH.at(column, f"{limit.measure(value):,} {limit.unit}, {where} {limit.size:,}",
                                 None if limit.source else Severity.WARNING))
    if column in ISBN_COLUMNS:
        found += _isbn(column, value)
    elif column in DATE_COLUMNS:
        found += _date(column, value)
    elif column in NUMBER_RULES and not NUMBER_RULES[column][0].fullmatch(value):
        found.append(R.NUMBER.at(column, f"{quoted(value)} is not {NUMBER_RULES[column][1]}"))
    elif column in TWO_DIGIT_CODES and not re.fullmatch(r"0[1-8]", value):
        lost = " (a spreadsheet dropped its leading zero)" if re.fullmatch(r"[1-8]", value) else ""
        found.append(R.CODE.at(column, f"{quoted(value)} is not a code from 01 to 08{lost}"))
    elif column == ANNOTATION_SUMMARY and len(_text_of(value)) < R.DESCRIPTION_MIN_CHARS:
        found.append(R.DESCRIPTION.at(column, f"{len(_text_of(value))} characters of text; LSI asks for at "
                                              f"least {R.DESCRIPTION_MIN_CHARS}"))
    elif column != ANNOTATION_SUMMARY and ("<" in value or "&" in value) and (markup := _MARKUP.search(value)):
        found.append(R.MARKUP.at(column, f"holds the markup {quoted(markup.group())}; LSI shows it as written"))
    if column in BY_ARRANGEMENT:
        found.append(R.BY_ARRANGEMENT.at(column, f"set to {quoted(value)}: used only by prior arrangement with LSI"))
    if column not in FILE_COLUMNS:
        found += _links(column, value)
    if value[0] in FORMULA_STARTS and not _NUMBER.fullmatch(value):
        found.append(R.FORMULA.at(column, f"starts with {value[:1]!r}: a spreadsheet would run it as a formula; "
                                          "LSI receives it as written; look at rows in the review workbook "
                                          "(export --format xlsx), not in this CSV"))
    return tuple(found)


def _text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]*>", " ", html).split())


def _links(column: str, value: str) -> list[Problem]:
    found = []
    if ("://" in value or "www." in value.lower()) and (url := URL.search(value)):
        found.append(R.LINK.at(column, f"holds the web address {quoted(url.group())}; Ingram prohibits links "
                                       "in any field"))
    if "@" in value and (mail := EMAIL.search(value)):
        found.append(R.LINK.at(column, f"holds the e-mail address {quoted(mail.group())}", Severity.WARNING))
    return found


def _isbn(column: str, value: str) -> list[Problem]:
    if _SCIENTIFIC.fullmatch(value):
        return [R.ISBN.at(column, f"{quoted(value)} is a number in scientific notation: a spreadsheet rewrote "
                                  "the ISBN and its digits are lost")]
    if len(value) == 10 and identity(value) != value:
        return [R.ISBN.at(column, f"{value} is an ISBN-10; LSI takes the ISBN-13 {identity(value)}")]
    if not (value.isascii() and value.isdigit()):
        return [R.ISBN.at(column, f"{quoted(value)} is not an ISBN-13 (13 digits 0-9)")]
    if len(value) != 13:
        return [R.ISBN.at(column, f"{value} has {len(value)} digits; an ISBN-13 has 13")]
    if not value.startswith(("978", "979")):
        return [R.ISBN.at(column, f"ISBN {value} does not start with 978 or 979")]
    if value[12] != isbn13_check_digit(value[:12]):
        return [R.ISBN.at(column, f"ISBN {value} has a wrong check digit (expected {isbn13_check_digit(value[:12])})")]
    return []


def parse_cell_date(value: str) -> date | None:
    """A date cell as the checkpoint (YYYY-MM-DD) or the submission shape (M/D/YY) writes it; None otherwise."""
    try:
        if m := _ISO_DATE.fullmatch(value):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _US_DATE.fullmatch(value):
            year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
            return date(year, int(m[1]), int(m[2]))
    except ValueError:
        return None
    return None


def _date(column: str, value: str) -> list[Problem]:
    if parse_cell_date(value) is not None:
        return []
    if _SERIAL.fullmatch(value) and 1 <= float(value) < 2_958_466:
        day = date.fromordinal(EXCEL_EPOCH.toordinal() + int(float(value)))
        return [R.DATE.at(column, f"{quoted(value)} is a spreadsheet's date serial number ({day.isoformat()}): "
                                  "a spreadsheet rewrote the date")]
    return [R.DATE.at(column, f"{quoted(value)} is not a date (YYYY-MM-DD, or M/D/YY)")]


def _dates(cells: Mapping[str, str]) -> list[Problem]:
    pub, street = (parse_cell_date(cells.get(c, "")) for c in DATE_COLUMNS)
    if pub and street and pub < street:
        return [R.ON_SALE_DATE.at(PUB_DATE, f"Pub Date {pub} is before Street Date {street}: IngramSpark says the "
                                              "publication date cannot be before the on-sale date; LSI suggests "
                                              "the same date for both")]
    return []


def _pages(cells: Mapping[str, str], codes: AcsCodes | None) -> list[Problem]:
    if PAGES not in cells:
        return []
    pages = cells[PAGES]
    if not pages:
        return [R.PAGES.at(PAGES, "no page count ('page_count' is set by the pipeline's prepress stage)")]
    if not _WHOLE.fullmatch(pages):
        return []  # the number rule says why
    found = []
    if int(pages) % 2:
        found.append(R.PAGES.at(PAGES, f"{pages} pages: LSI's final page count must be even (add a blank page)"))
    booktype = cells.get(RENDITION_BOOKTYPE, "")
    if codes is not None and booktype in codes.book_types:
        low, high = codes.book_types[booktype]
        if not low <= int(pages) <= high:
            found.append(R.PAGES.at(PAGES, f"{pages} pages is outside {low}-{high} for '{booktype}'"))
    return found


def _prices(cells: Mapping[str, str], context: RuleContext) -> list[Problem]:
    found = []
    priced = []
    for market in MARKETS:
        price, discount = cells.get(market.price), cells.get(market.discount)
        agreed = context.markets is None or market.code in context.markets
        if price is not None and discount is not None and bool(price) != bool(discount) and (price or agreed):
            missing = market.discount if price else market.price
            found.append(R.PRICE_PAIR.at(missing, f"blank while {market.price if price else market.discount} is set"))
        if price:
            priced.append(market.code)
            if context.markets is not None and market.code not in context.markets:
                found.append(R.MARKET.at(market.price, f"a {market.code} price, but lsi.markets does not list "
                                                       f"{market.code}: LSI rejects prices without the agreement"))
        bounds = context.discount_range.get(market.code) or context.discount_range.get("*")
        if bounds and discount and _PERCENT.fullmatch(discount) and not bounds[0] <= Decimal(discount) <= bounds[1]:
            found.append(R.DISCOUNT_RANGE.at(market.discount, f"{discount}% is outside lsi.discount_range "
                                                              f"{bounds[0]}-{bounds[1]}"))
    if cells.get(RETURNABLE) == "Yes-Deliver":
        elsewhere = [m for m in priced if m not in DELIVER_MARKETS]
        if elsewhere:
            severity = Severity.WARNING if elsewhere == ["CA"] else None
            found.append(R.RETURNS_OPTION.at(RETURNABLE, f"Yes-Deliver is offered for the US market only, and the "
                                                           f"row is priced in {', '.join(elsewhere)}", severity))
    return found


def _contributors(cells: Mapping[str, str]) -> list[Problem]:
    found = []
    for name, role in CONTRIBUTORS:
        if name not in cells or role not in cells or (name, role) == CONTRIBUTORS[0] and not cells[name]:
            continue  # Contributor One and its role blank: the required rule says so
        if cells[name] and not cells[role]:
            found.append(R.CONTRIBUTOR.at(role, f"{name} {quoted(cells[name])} has no role, and LSI needs one for "
                                                "every contributor named"))
        elif cells[role] and not cells[name]:
            found.append(R.CONTRIBUTOR.at(role, f"a role ({cells[role]}) without a name in {name}"))
    return found


def _names(cells: Mapping[str, str], context: RuleContext) -> list[Problem]:
    found = []
    for column, registered in ((IMPRINT, context.registered_imprints),
                               (PUBLISHER, context.registered_publishers)):
        value = cells.get(column, "")
        if value and registered and value not in registered:
            found.append(R.REGISTERED.at(column, f"{quoted(value)} is not one registered with LSI "
                                                 f"({', '.join(map(quoted, registered))})"))
    name, path = context.imprint_name
    imprint = cells.get(IMPRINT, "")
    if imprint and name and not context.registered_imprints and _folded(imprint) != _folded(name):
        found.append(R.REGISTERED.at(IMPRINT, f"{quoted(imprint)} is not the imprint config's {quoted(name)} "
                                                f"({path}); LSI takes only an imprint registered with the account",
                                     Severity.WARNING))
    low, high = cells.get(MIN_AGE, ""), cells.get(MAX_AGE, "")
    if _WHOLE.fullmatch(low) and _WHOLE.fullmatch(high) and int(low) > int(high):
        found.append(R.AGES.at(MAX_AGE, f"Min Age {low} is above Max Age {high}"))
    return found


def _folded(name: str) -> str:
    return " ".join(name.lower().split())


def _check_codes(cells: Mapping[str, str], codes: AcsCodes) -> list[Problem]:
    problems: list[Problem] = []

    def check(column: str, value: str, table: Mapping[str, object] | frozenset[str], what: str) -> None:
        if value and value not in table:
            problems.append(R.CODE.at(column, f"'{value}' is not {what} in LSI's code tables"))

    check(RENDITION_BOOKTYPE, cells.get(RENDITION_BOOKTYPE, ""), codes.book_types, "a book type")
    for column in BISAC_CATEGORIES:
        check(column, cells.get(column, ""), codes.bisac_names, "a BISAC subject")
    for column in THEMA_SUBJECTS:
        check(column, cells.get(column, ""), codes.thema, "a Thema subject code")
    check(LANGUAGE_CODE, cells.get(LANGUAGE_CODE, "").upper(), codes.languages, "the code of a language")
    for column in CONTRIBUTOR_ROLES:
        check(column, cells.get(column, ""), codes.roles, "a contributor role")
    return problems
