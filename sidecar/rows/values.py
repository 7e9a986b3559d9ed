"""Rules for single values: a book's or a config's raw value to the text LSI wants in one cell. Pure.

Each rule returns the cell's text or raises ValueError with a reason a person can act on.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any, Mapping

from .codes import AcsCodes


# Role words to LSI's official contributor codes (ACS sheet, "Contributor Roles").
ROLE_CODES = {
    "author": "A", "writer": "A", "by": "A", "editor": "E", "edited by": "E", "translator": "T",
    "translated by": "T", "illustrator": "I", "illustrated by": "I", "photographer": "P",
    "foreword": "U", "foreword by": "U", "introduction": "V", "introduction by": "V",
    "preface": "1", "preface by": "1", "afterword": "D", "afterword by": "D", "compiler": "L",
    "compiled by": "L", "joint author": "JA", "co-author": "JA", "coauthor": "JA", "narrator": "Y",
    "narrated by": "Y", "adapted by": "C", "adapter": "C", "abridged by": "B", "epilogue by": "Q",
    "annotations by": "F", "commentaries by": "K", "created by": "M", "designed by": "O",
    "read by": "4", "selected by": "7", "with": "AA", "other": "@",
}
KNOWN_ROLE_CODES = frozenset({
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "@", "A", "AA", "AG", "AR", "B", "BP", "BV", "C",
    "CD", "CP", "D", "DT", "E", "ES", "F", "FT", "G", "H", "I", "J", "JA", "K", "L", "M", "MB", "MP",
    "N", "O", "P", "PB", "PR", "Q", "R", "RB", "S", "SB", "SO", "T", "U", "V", "VB", "W", "WL", "X",
    "Y", "Z",
})
# ISO 639-2 codes for the languages the pipeline writes by name; the ACS sheet adds the rest.
LANGUAGE_CODES = {
    "english": "eng", "en": "eng", "korean": "kor", "ko": "kor", "spanish": "spa", "es": "spa",
    "french": "fre", "fr": "fre", "german": "ger", "de": "ger", "italian": "ita", "it": "ita",
    "portuguese": "por", "pt": "por", "japanese": "jpn", "ja": "jpn", "chinese": "chi", "zh": "chi",
    "russian": "rus", "ru": "rus", "arabic": "ara", "ar": "ara", "hindi": "hin", "hi": "hin",
    "dutch": "dut", "nl": "dut", "latin": "lat", "la": "lat", "greek": "gre", "el": "gre",
}
# LSI's audience codes, and the words the pipeline and its configs use for them.
AUDIENCE_CODES = {
    "general/trade": "01", "general": "01", "general adult": "01", "trade": "01", "adult": "01",
    "children/juvenile": "02", "children": "02", "juvenile": "02", "young adult": "03", "ya": "03",
    "primary & secondary": "04", "college/higher education": "05", "college": "05",
    "professional and scholarly": "06", "professional": "06", "scholarly": "06", "esl": "07",
    "adult education": "08",
}
RENDITION_PREFIXES = ("POD: ", "eBook: ", "Stock ")
# LSI's returns options (Returns Option); IngramSpark calls No "Non-Returnable".
RETURNABLE = {"yes-destroy": "Yes-Destroy", "yes-deliver": "Yes-Deliver", "no": "No", "non-returnable": "No"}
SUBMISSION_METHODS = {"FTP": "FTP", "EMAIL": "Email"}

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A number as text: ASCII digits, at most a three-digit exponent. Anything longer or larger is refused
# before any arithmetic, so that no value can cost more than a few microseconds ("1e100000000").
NUMBER_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")
NUMBER_MAX_CHARS = 40
NUMBER_MAX_DIGITS = 12  # before the decimal point: nothing a book holds is a trillion or more


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


def type_name(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)


def quoted(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "...'"


def clean(text: str) -> str:
    if text.isprintable():  # no line ends, no control characters: the usual short value
        return text.strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return CONTROL.sub("", text).strip()


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{type_name(value)} where text was expected")
    return str(value)


def first(book: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if not is_blank(book.get(key)):
            return book[key]
    return None


def split(value: Any, separators: str) -> list[str]:
    if is_blank(value):
        return []
    items = value if isinstance(value, list) else re.split(f"[{re.escape(separators)}]", str(value))
    return [str(item).strip() for item in items if isinstance(item, (str, int)) and str(item).strip()]


def number(value: Any, what: str) -> Decimal:
    """A finite number of bounded size from a JSON number or text; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{type_name(value)} where {what} was expected")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not {what}")
    text = value.strip() if isinstance(value, str) else str(value)
    if len(text) > NUMBER_MAX_CHARS or not NUMBER_TEXT.fullmatch(text):
        raise ValueError(f"not {what}")
    amount = Decimal(text)
    if amount and amount.adjusted() >= NUMBER_MAX_DIGITS:
        raise ValueError(f"not {what} (too large)")
    return amount


def positive_int(value: Any) -> str:
    amount = number(value, "a whole number")
    if amount != amount.to_integral_value() or amount <= 0:
        raise ValueError("not a whole number above zero")
    return str(int(amount))


def count(value: Any) -> str:
    return "0" if str(value).strip() == "0" else positive_int(value)


def age(value: Any) -> str:
    age = positive_int(value) if str(value).strip() != "0" else "0"
    if int(age) > 150:
        raise ValueError("not an age")
    return age


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMERIC_DATE = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4}|[0-9]{2})")
_TEXT_DATES = ("%Y/%m/%d", "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y")
DATE_ORDERS = ("mdy", "dmy")


def to_date(value: Any, style: str, order: str | None = None) -> str:
    """A date the way LSI wants it (style "iso" or "m/d/yy"). ISO dates, named months and day/month forms
    that only one order can read are read as written; 10/03/2026 needs order ("mdy" or "dmy"), else it is
    refused as ambiguous."""
    text = as_text(value)
    if _ISO_DATE.match(text):  # the pipeline's own form (a time after it is ignored)
        try:
            return format_date(date(int(text[:4]), int(text[5:7]), int(text[8:10])), style)
        except ValueError:
            raise ValueError("not a real date") from None
    numeric = _NUMERIC_DATE.fullmatch(text)
    if numeric:
        first, second, year = (int(g) for g in numeric.groups())
        year += 2000 if len(numeric[3]) == 2 else 0
        if first != second and first <= 12 and second <= 12 and order not in DATE_ORDERS:
            raise ValueError(f"ambiguous: {first}/{second} may be month/day or day/month; write YYYY-MM-DD, "
                             "or set lsi.date_order to mdy or dmy")
        month, day = (second, first) if first > 12 or order == "dmy" and second <= 12 else (first, second)
        try:
            return format_date(date(year, month, day), style)
        except ValueError:
            raise ValueError("not a real date") from None
    for fmt in _TEXT_DATES:
        try:
            return format_date(datetime.strptime(text, fmt).date(), style)
        except ValueError:
            continue
    raise ValueError("not a date (expected YYYY-MM-DD)")


def format_date(day: date, style: str) -> str:
    if style == "m/d/yy":
        return f"{day.month}/{day.day}/{day.year % 100:02d}"
    return day.isoformat()


# Currency marks publishers write around a price; "$" alone fits any dollar market.
CURRENCY_MARKS = {"$": "$", "US$": "USD", "USD": "USD", "£": "GBP", "GBP": "GBP", "€": "EUR", "EUR": "EUR",
                  "A$": "AUD", "AU$": "AUD", "AUD": "AUD", "C$": "CAD", "CA$": "CAD", "CAD": "CAD"}
_PRICE_TEXT = re.compile(r"(?P<pre>[A-Za-z]{1,3}\$|\$|£|€|[A-Za-z]{3})?\s*(?P<amount>[0-9][0-9.,\s]*?)\s*"
                         r"(?P<post>[A-Za-z]{1,3}\$|\$|£|€|[A-Za-z]{3})?")
_GROUPED = {",": re.compile(r"[0-9]{1,3}(,[0-9]{3})+"), ".": re.compile(r"[0-9]{1,3}(\.[0-9]{3})+"),
            " ": re.compile(r"[0-9]{1,3}( [0-9]{3})+")}


def price(value: Any, currency: str = "USD") -> str:
    """A price in currency as LSI writes it (12.34): from a number, or text as publishers write prices
    ($24.95, 24.95 USD, €21,95, A$38.95, 1.234,50, 18,95 £). A price marked in another currency is refused:
    a price is never converted."""
    if isinstance(value, str):
        value = _price_text(value.strip(), currency)
    amount = number(value, "a price")
    if amount <= 0:
        raise ValueError("not a price above zero")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("more than two decimals: give the price LSI should show")
    return money(amount)


def _price_text(text: str, currency: str) -> str:
    found = _PRICE_TEXT.fullmatch(text)
    if not found:
        return text  # number() says why it is not a price
    marks = [m for m in (found["pre"], found["post"]) if m]
    for mark in marks:
        meant = CURRENCY_MARKS.get(mark.upper() if mark[-1] != "$" else mark[:-1].upper() + "$")
        if meant is None:
            raise ValueError(f"'{mark}' is not a currency LSI prices in")
        if meant != currency and not (meant == "$" and currency in ("USD", "AUD", "CAD")):
            raise ValueError(f"a price in {meant}, but this column is in {currency}; a price is never converted")
    if len(marks) > 1:
        raise ValueError("two currency marks")
    return _decimal_point(found["amount"].strip())


def _decimal_point(amount: str) -> str:
    """1.234,50 / 1,234.50 / 1 234,50 / 21,95 as 1234.50 / 21.95; a grouping that could be either is refused."""
    marks = [c for c in amount if c in ".,"]
    if not marks or " " not in amount and len(marks) == 1 and amount[-1] != marks[0] and \
            len(amount) - amount.index(marks[0]) - 1 in (1, 2):
        return amount.replace(",", ".")
    point = amount[-3] if len(amount) > 3 and amount[-3] in ".," else amount[-2] if amount[-2:-1] in (".", ",") else ""
    whole = amount[: amount.rindex(point)] if point else amount
    grouping = next((g for g, pattern in _GROUPED.items() if pattern.fullmatch(whole)), None)
    if point and (grouping == point or grouping is None and not whole.isdigit()):
        raise ValueError(f"'{amount}' is not a price")
    if not point and (grouping in (",", ".") or grouping is None and not whole.isdigit()):
        raise ValueError(f"ambiguous: '{amount}' may be a thousands grouping or a decimal point; write it as "
                         "1234.50")
    return whole.replace(grouping or "", "") + ("." + amount[amount.rindex(point) + 1:] if point else "")


def money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def with_ending(amount: Decimal, ending: Decimal) -> Decimal:
    """The lowest price at or above amount whose cents are ending (15.37 with .99: 15.99)."""
    price = amount.to_integral_value(rounding=ROUND_FLOOR) + ending
    return price if price >= amount else price + 1


def discount(value: Any) -> str:
    amount = number(value.strip().rstrip("%").strip() if isinstance(value, str) else value, "a percentage")
    if not 0 <= amount <= 100:
        raise ValueError("not a percentage from 0 to 100")
    return str(amount.normalize()) if amount != amount.to_integral_value() else str(int(amount))


def role(value: Any, codes: AcsCodes | None) -> str:
    text = as_text(value)
    if text.upper() in KNOWN_ROLE_CODES:
        return text.upper()
    word = text.lower()
    if word in ROLE_CODES:
        return ROLE_CODES[word]
    if codes is not None:
        for code, description in codes.roles.items():
            if description.lower() in (word, word + " by"):
                return code
    raise ValueError("not a contributor role LSI knows")


def location_type(value: Any) -> str:
    code = as_text(value).zfill(2)
    if code not in {f"0{n}" for n in range(1, 9)}:
        raise ValueError("not a location type code (01 to 08)")
    return code


def language(value: Any, codes: AcsCodes | None, case: str) -> str:
    text = as_text(value)
    code = LANGUAGE_CODES.get(text.lower())
    if code is None and codes is not None:
        if text.upper() in codes.languages:
            code = text.upper()
        else:
            code = next((k for k, v in codes.languages.items() if v.lower() == text.lower()), None)
    if code is None and len(text) == 3 and text.isalpha() and codes is None:
        code = text
    if code is None:
        raise ValueError("not a language LSI knows")
    return code.upper() if case == "upper" else code.lower()


def audience(value: Any, codes: AcsCodes | None) -> str:
    text = as_text(value)
    if text.zfill(2) in {f"0{n}" for n in range(1, 9)}:
        return text.zfill(2)
    code = AUDIENCE_CODES.get(text.lower())
    if code is None and codes is not None:
        code = next((k for k, v in codes.audiences.items() if v.lower() == text.lower()), None)
    if code is None:
        raise ValueError("not an LSI audience (codes 01 to 08)")
    return code


def returnable(value: Any) -> str:
    """One of LSI's returns options; another spelling of one (case, spaces around the hyphen) is read as it."""
    text = as_text(value)
    folded = re.sub(r"\s*-\s*", "-", " ".join(text.lower().split()))
    if folded == "yes":
        raise ValueError("'Yes' may be Yes-Destroy or Yes-Deliver; write the one meant")
    if folded not in RETURNABLE:
        raise ValueError("not one of LSI's returns options: " + ", ".join(f"'{o}'" for o in dict.fromkeys(
            RETURNABLE.values())))
    return RETURNABLE[folded]


def account(value: Any) -> str:
    text = as_text(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise ValueError("not a Lightning Source account number (digits only)")
    return text


def submission_method(value: Any) -> str:
    text = as_text(value)
    if text.upper() not in SUBMISSION_METHODS:
        raise ValueError("not a submission method LSI knows (" + " or ".join(SUBMISSION_METHODS.values()) + ")")
    return SUBMISSION_METHODS[text.upper()]


def rendition(value: Any, codes: AcsCodes | None) -> str:
    text = as_text(value)
    if codes is not None:
        for candidate in (text, "POD: " + text):
            if candidate in codes.book_types:
                return candidate
        raise ValueError("not one of LSI's book types")
    if not text.startswith(RENDITION_PREFIXES):
        raise ValueError("not an LSI book type (those start with 'POD: ', 'eBook: ' or 'Stock ')")
    return text


def strip_bisac_code(name: str) -> str:
    return re.sub(r"^[A-Z]{3}\d{6}\s*[-:]?\s*", "", name.strip())


def basic_info(book: Mapping[str, Any]) -> Mapping[str, Any]:
    """The LLM's parsed answer to gemini_get_basic_info, kept by the pipeline inside 'responses'."""
    responses = book.get("responses")
    if not isinstance(responses, dict):
        return {}
    for answers in responses.values():
        for answer in answers if isinstance(answers, list) else []:
            if isinstance(answer, dict) and answer.get("prompt_key") == "gemini_get_basic_info" \
                    and isinstance(answer.get("parsed_content"), dict):
                parsed: Mapping[str, Any] = answer["parsed_content"]
                return parsed
    return {}


def sanitize_filename(title: str) -> str:
    """The pipeline's own file name for a title (AI Governance: X -> AI_Governance_X)."""
    name = re.sub(r"[\s/:\\]+", "_", title)
    return re.sub(r"[^\w\-]", "", name).strip("_")


def file_name_fields(isbn: str, title: str, imprint: str, author: str) -> dict[str, str]:
    """The fields a file name template may use (profile.TEMPLATE_FIELDS), for a row or a book: {isbn},
    {title}, {title_slug} (the pipeline's file name of the title), {slug8} (its first 8 letters and digits,
    lower case), {imprint}, {author}."""
    return dict(isbn=isbn, title=title, title_slug=sanitize_filename(title),
                slug8=re.sub(r"[^a-z0-9]+", "_", title.lower())[:8], imprint=imprint, author=author)
