"""A book (the pipeline's processed JSON) and a Profile become one ACS row. Pure: no I/O, no clock.

Each column takes the book's own value where it has a usable one, else the profile's layered default
(built-ins < the pipeline's LSI config < the tranche). Nothing is invented: a value that would be wrong
for LSI is left blank and reported as a Problem instead.
"""

from __future__ import annotations

import html
import re
import string
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Callable, Mapping

from .codes import AcsCodes
from .columns import COLUMNS, Row
from .errors import BookError

SHORT_DESCRIPTION_MAX_BYTES = 350
ANNOTATION_MAX_CHARS = 4000
KEYWORDS_MAX_CHARS = 255

# (market, price column, discount column, the book's own price keys)
MARKETS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("US", "US Suggested List Price", "US Wholesale Discount",
     ("list_price_usd", "us_suggested_list_price", "us_list_price", "list_price", "price")),
    ("UK", "UK Suggested List Price", "UK Wholesale Discount (%)",
     ("uk_suggested_list_price", "list_price_gbp", "price_gbp")),
    ("EU", "EU Suggested List Price (mode 2)", "EU Wholesale Discount % (Mode 2)",
     ("eu_suggested_list_price_mode2", "list_price_eur", "price_eur")),
    ("AU", "AU Suggested List Price (mode 2)", "AU Wholesale Discount % (Mode 2)",
     ("au_suggested_list_price_mode2", "list_price_aud", "price_aud")),
    ("CA", "CA Suggested List Price (mode 2)", "CA Wholesale Discount % (Mode 2)",
     ("ca_suggested_list_price_mode2", "list_price_cad", "price_cad")),
    *(
        (m, f"{m} Suggested List Price (mode 2)", f"{m} Wholesale Discount % (Mode 2)",
         (f"{m.lower()}_suggested_list_price_mode2",))
        for m in ("GC", "USBR1", "USDE1", "USRU1", "USPL1", "USKR1", "USCN1", "USIN1")
    ),
    ("USJP2", "USJP2 Suggested List Price(mode 2)", "USJP2 Wholesale Discount % (Mode 2)",
     ("usjp2_suggested_list_price_mode2",)),
    ("UAEUSD", "UAEUSD Suggested List Price (mode 2)", "UAEUSD Wholesale Discount % (Mode 2)",
     ("uaeusd_suggested_list_price_mode2",)),
)
# Markets priced by exchange rate from the US price; the others carry the US price itself.
CONVERTED_MARKETS = ("UK", "EU", "AU", "CA")

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

_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Problem:
    severity: str  # "error": LSI would refuse the row (or the whole file); "warning": worth a look
    column: str
    message: str


@dataclass(frozen=True)
class Profile:
    """Everything conversion needs besides the book."""

    defaults: Mapping[str, str] = field(default_factory=dict)  # column -> layered default value
    blank: frozenset[str] = frozenset()  # tranche blank_fields and field_exclusions
    append: Mapping[str, str] = field(default_factory=dict)  # column -> text added after the value
    required_bisac: str = ""
    exchange_rates: Mapping[str, Decimal] = field(default_factory=dict)  # market -> rate from USD
    file_names: Mapping[str, str] = field(default_factory=dict)  # column -> name template
    imprint: str = ""  # the sidecar's imprint name (folder form), for file name templates
    pub_date_format: str = "iso"  # "iso" (YYYY-MM-DD) or "m/d/yy"
    language_code_case: str = "lower"
    neutralise_formulas: bool = True
    codes: AcsCodes | None = None
    normalised: dict[str, tuple[str, Problem | None]] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Conversion:
    row: Row
    isbn: str
    title: str
    problems: tuple[Problem, ...]


class _Cells:
    """The row being built and the problems found on the way."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.values: dict[str, str] = {}
        self.problems: list[Problem] = []

    def warn(self, column: str, message: str) -> None:
        self.problems.append(Problem("warning", column, message))

    def error(self, column: str, message: str) -> None:
        self.problems.append(Problem("error", column, message))

    def pick(self, column: str, book_value: Any, normalise: Callable[[Any], str] = lambda v: _as_text(v)) -> None:
        """Set column to the book's value if usable, else to the profile default (both normalised)."""
        self.values.pop(column, None)
        if book_value is not None and not _is_blank(book_value):
            try:
                value = normalise(book_value)
            except ValueError as exc:
                self.warn(column, f"the book gives {_short(book_value)}: {exc}; left out")
            else:
                if value:
                    self.values[column] = value
                    return
        # The profile's default for a column is normalised once per profile, not once per book.
        cache = self.profile.normalised
        if column not in cache:
            raw = self.profile.defaults.get(column)
            try:
                cache[column] = (normalise(raw) if not _is_blank(raw) else "", None)
            except ValueError as exc:
                cache[column] = ("", Problem("warning", column, f"the configuration gives {_short(raw)}: {exc}; left out"))
        value, problem = cache[column]
        if problem:
            self.problems.append(problem)
        if value:
            self.values[column] = value


def convert_book(book: Mapping[str, Any], profile: Profile) -> Conversion:
    """The ACS row for one book. Raises BookError when the book cannot be a row at all."""
    title = book.get("title")
    if title is not None and not isinstance(title, str):
        raise BookError(f"'title' is {_type_name(title)}, expected text")
    title = _clean(title or "")
    isbn_raw = _first(book, "isbn13", "isbn_13", "isbn")
    isbn = _digits(isbn_raw) if not _is_blank(isbn_raw) else ""
    if not title and not isbn:
        raise BookError("it has neither a 'title' nor an ISBN ('isbn13', 'isbn_13' or 'isbn')")

    c = _Cells(profile)
    c.values.update(profile.defaults)

    c.values["Title"] = title
    if isbn:
        c.values["ISBN or SKU"] = isbn
        if len(isbn) != 13:
            c.error("ISBN or SKU", f"ISBN {_short(isbn_raw)} has {len(isbn)} digits, expected 13")
    elif not _is_blank(isbn_raw):
        c.error("ISBN or SKU", f"ISBN {_short(isbn_raw)} has no digits")
    c.pick("Parent ISBN", book.get("parent_isbn"), _digits)
    c.pick("Rendition /Booktype", book.get("rendition_booktype"), lambda v: _rendition(v, profile.codes))
    c.pick("Publisher", book.get("publisher"))
    c.pick("Imprint", book.get("imprint"))

    _contributors(c, book)
    c.pick("Pages", book.get("page_count"), _positive_int)
    if "Pages" not in c.values:
        c.error("Pages", "no page count yet ('page_count' is set by the pipeline's prepress stage)")
    c.pick("Pub Date", book.get("publication_date"), lambda v: _date(v, profile.pub_date_format))
    c.pick("Street Date", book.get("street_date"), lambda v: _date(v, profile.pub_date_format))
    c.pick("Territorial Rights", book.get("territorial_rights"))
    c.pick("Edition Number", book.get("edition_number"), _positive_int)
    c.pick("Edition Description", book.get("edition_description"))
    c.pick("Annotation / Summary", _annotation(book))
    c.pick("Returnable", book.get("returnability"), _returnable)
    _bisac(c, book)
    c.pick("Language Code", book.get("language_code") or book.get("language"),
           lambda v: _language(v, profile.codes, profile.language_code_case))
    c.pick("Publisher Reference ID", book.get("publisher_reference_id"))
    c.pick("Keywords", book.get("keywords"), _keywords)
    dropped = len(_keyword_list(book.get("keywords"))) - len(_keyword_list(c.values.get("Keywords")))
    if c.values.get("Keywords") and dropped > 0:
        c.warn("Keywords", f"keywords cut to {KEYWORDS_MAX_CHARS} characters: {dropped} left out")
    _thema(c, book)
    c.pick("Regional Subjects", book.get("regional_subjects"))
    c.pick("Min Age", book.get("min_age"), _age)
    c.pick("Max Age", book.get("max_age"), _age)
    if "Min Age" in c.values and "Max Age" in c.values and int(c.values["Min Age"]) > int(c.values["Max Age"]):
        c.warn("Max Age", f"Min Age {c.values['Min Age']} is above Max Age {c.values['Max Age']}")
    c.pick("Min Grade", book.get("min_grade"))
    c.pick("Max Grade", book.get("max_grade"))
    c.pick("Audience", book.get("audience"), lambda v: _audience(v, profile.codes))
    c.pick("Short Description", book.get("summary_short") or _first(book, "storefront_description_en", "back_cover_text"),
           _short_description)
    c.pick("Table of Contents", book.get("table_of_contents"))
    c.pick("Review Quote(s)", book.get("review_quotes"))
    c.pick("# Illustrations", book.get("illustration_count"), _count)
    c.pick("Illustration Notes", book.get("illustration_notes"))
    c.pick("Series Name", book.get("series_name"))
    c.pick("# in Series", _first(book, "series_number", "volume_number"), _positive_int)
    _prices(c, book)
    _file_names(c, book, isbn, title)

    values, append = c.values, profile.append
    cells = tuple(_finish(c, column) if values.get(column) or column in append else "" for column in COLUMNS)
    return Conversion(row=cells, isbn=isbn, title=title, problems=tuple(c.problems))


# ----------------------------------------------------------------------------- column groups

def _contributors(c: _Cells, book: Mapping[str, Any]) -> None:
    ordinals = (("One", "one"), ("Two", "two"), ("Three", "three"))
    for word, key in ordinals:
        name_col, role_col = f"Contributor {word}", f"Contributor {word} Role"
        book_name = book.get(f"contributor_{key}") or (book.get("author") if key == "one" else None)
        c.pick(name_col, book_name)
        if name_col in c.values:
            c.pick(role_col, book.get(f"contributor_{key}_role"), lambda v: _role(v, c.profile.codes))
            if role_col not in c.values:
                c.warn(role_col, f"{name_col} has no role")
        else:
            c.values.pop(role_col, None)  # a role without a name is refused by LSI
    for suffix in ("BIO", "Affiliations", "Professional Position", "Location", "Prior Work"):
        c.pick(f"Contributor One {suffix}", book.get("contributor_one_" + suffix.lower().replace(" ", "_")))
    c.pick("Contributor One Location Type Code", book.get("contributor_one_location_type_code"),
           lambda v: _location_type(v))


def _bisac(c: _Cells, book: Mapping[str, Any]) -> None:
    codes = c.profile.codes
    names: list[str] = []
    if c.profile.required_bisac:
        names.append(_strip_bisac_code(c.profile.required_bisac))
    for code in _split(book.get("bisac_codes"), ";,"):
        code = code.upper()
        if codes is None:
            c.warn("BISAC Category", f"BISAC code {code} needs the ACS code tables (--acs-codes) to be named")
        elif code in codes.bisac:
            names.append(codes.bisac[code])
        else:
            c.warn("BISAC Category", f"BISAC code {code} is not in LSI's list; left out")
    for field_name in ("bisac_categories", "bisac_text"):
        names.extend(_strip_bisac_code(n) for n in _split(book.get(field_name), ";"))
    names.extend(_strip_bisac_code(n) for n in _split(_basic_info(book).get("bisac_categories"), ";"))
    kept: list[str] = []
    for name in names:
        if name in kept:
            continue
        if codes is not None and name not in codes.bisac_names:
            c.warn("BISAC Category", f"BISAC subject '{name}' is not in LSI's list; left out")
            continue
        kept.append(name)
    for column, name in zip(("BISAC Category", "BISAC Category 2", "BISAC Category 3"), kept):
        c.values[column] = name


def _thema(c: _Cells, book: Mapping[str, Any]) -> None:
    subjects = [book.get(f"thema_subject_{n}") for n in (1, 2, 3)]
    listed = [s for s in subjects if isinstance(s, str) and s.strip()]
    if not listed:
        listed = _split(book.get("thema") or book.get("thema_subjects") or book.get("thema_codes"), ";,")
    codes = c.profile.codes
    kept: list[str] = []
    for code in (s.strip().upper() for s in listed):
        if codes is not None and code not in codes.thema:
            c.warn("Thema Subject 1", f"Thema subject {code} is not in LSI's list; left out")
        elif code not in kept:
            kept.append(code)
    for n, code in enumerate(kept[:3], start=1):
        c.values[f"Thema Subject {n}"] = code


def _prices(c: _Cells, book: Mapping[str, Any]) -> None:
    for market, price_col, discount_col, keys in MARKETS:
        c.pick(price_col, _first(book, *keys), _price)
        c.pick(discount_col, book.get(f"{market.lower()}_wholesale_discount"), _discount)
    us = c.values.get("US Suggested List Price")
    if not us:
        return
    for market, price_col, _, _ in MARKETS[1:]:
        if price_col in c.values:
            continue
        if market not in CONVERTED_MARKETS:
            c.values[price_col] = us
        elif market in c.profile.exchange_rates:
            c.values[price_col] = _money(Decimal(us) * c.profile.exchange_rates[market])


def _file_names(c: _Cells, book: Mapping[str, Any], isbn: str, title: str) -> None:
    fields = {
        "isbn": isbn,
        "title": title,
        "title_slug": sanitize_filename(title),
        "slug8": re.sub(r"[^a-z0-9]+", "_", title.lower())[:8],
        "imprint": c.profile.imprint,
        "author": _as_text(book.get("author") or ""),
    }
    for column, template in c.profile.file_names.items():
        if not template:
            continue
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        unknown = [n for n in names if n not in fields]
        empty = [n for n in names if n in fields and not fields[n]]
        if unknown or empty:
            what = f"unknown {{{unknown[0]}}}" if unknown else f"the book has no {empty[0]}"
            c.warn(column, f"file name template '{template}': {what}; left blank")
            continue
        c.values[column] = template.format(**fields)


def _finish(c: _Cells, column: str) -> str:
    """Last rules for every cell: tranche blanks and appends, no placeholders, no formulas."""
    profile = c.profile
    value = c.values.get(column, "")
    if column in profile.blank or not (value or column in profile.append):
        return ""
    extra = profile.append.get(column, "").strip()
    if value and extra:
        value = f"{value}<p>{html.escape(extra)}</p>" if column == "Annotation / Summary" else f"{value} {extra}"
    if _PLACEHOLDER.search(value):
        c.warn(column, f"template placeholder {_PLACEHOLDER.search(value).group()} in the value; left blank")
        return ""
    if profile.neutralise_formulas and value[:1] in ("=", "+", "-", "@", "\t", "\r") \
            and not _PLAIN_NUMBER.fullmatch(value):
        c.warn(column, f"value starts with {value[:1]!r}, which a spreadsheet would run as a formula; "
                       "prefixed with an apostrophe")
        value = "'" + value
    return value


# ----------------------------------------------------------------------------- value rules

def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "...'"


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{_type_name(value)} where text was expected")
    return str(value)


def _first(book: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if not _is_blank(book.get(key)):
            return book[key]
    return None


def _split(value: Any, separators: str) -> list[str]:
    if _is_blank(value):
        return []
    items = value if isinstance(value, list) else re.split(f"[{re.escape(separators)}]", str(value))
    return [str(item).strip() for item in items if isinstance(item, (str, int)) and str(item).strip()]


def _digits(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{_type_name(value)} where an ISBN was expected")
    return re.sub(r"\D", "", str(value))


def _positive_int(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("true/false where a whole number was expected")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("not a whole number") from None
    if number != number.to_integral_value() or number <= 0:
        raise ValueError("not a whole number above zero")
    return str(int(number))


def _count(value: Any) -> str:
    return "0" if str(value).strip() == "0" else _positive_int(value)


def _age(value: Any) -> str:
    age = _positive_int(value) if str(value).strip() != "0" else "0"
    if int(age) > 150:
        raise ValueError("not an age")
    return age


def _date(value: Any, style: str) -> str:
    text = _as_text(value)
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%m/%d/%y"):
        try:
            day = datetime.strptime(text[:10] if fmt == "%Y-%m-%d" else text, fmt).date()
            break
        except ValueError:
            continue
    else:
        raise ValueError("not a date (expected YYYY-MM-DD)")
    return format_date(day, style)


def format_date(day: date, style: str) -> str:
    if style == "m/d/yy":
        return f"{day.month}/{day.day}/{day.year % 100:02d}"
    return day.isoformat()


def _price(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("true/false where a price was expected")
    text = re.sub(r"^(US\$|USD|GBP|EUR|CAD|AUD|[$£€])\s*", "", str(value).strip(), flags=re.I)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a price") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError("not a price above zero")
    return _money(amount)


def _money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def _discount(value: Any) -> str:
    try:
        number = Decimal(str(value).strip().rstrip("%").strip())
    except InvalidOperation:
        raise ValueError("not a percentage") from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise ValueError("not a percentage from 0 to 100")
    return str(number.normalize()) if number != number.to_integral_value() else str(int(number))


def _role(value: Any, codes: AcsCodes | None) -> str:
    text = _as_text(value)
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


def _location_type(value: Any) -> str:
    code = _as_text(value).zfill(2)
    if code not in {f"0{n}" for n in range(1, 9)}:
        raise ValueError("not a location type code (01 to 08)")
    return code


def _language(value: Any, codes: AcsCodes | None, case: str) -> str:
    text = _as_text(value)
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


def _audience(value: Any, codes: AcsCodes | None) -> str:
    text = _as_text(value)
    if text.zfill(2) in {f"0{n}" for n in range(1, 9)}:
        return text.zfill(2)
    code = AUDIENCE_CODES.get(text.lower())
    if code is None and codes is not None:
        code = next((k for k, v in codes.audiences.items() if v.lower() == text.lower()), None)
    if code is None:
        raise ValueError("not an LSI audience (codes 01 to 08)")
    return code


def _returnable(value: Any) -> str:
    return re.sub(r"\s*-\s*", "-", _as_text(value))


def _rendition(value: Any, codes: AcsCodes | None) -> str:
    text = _as_text(value)
    if codes is not None:
        for candidate in (text, "POD: " + text):
            if candidate in codes.book_types:
                return candidate
        raise ValueError("not one of LSI's book types")
    if not text.startswith(RENDITION_PREFIXES):
        raise ValueError("not an LSI book type (those start with 'POD: ', 'eBook: ' or 'Stock ')")
    return text


def _keyword_list(value: Any) -> list[str]:
    words: dict[str, str] = {}
    for word in _split(value, ",;|"):
        words.setdefault(word.lower(), word)
    return list(words.values())


def _keywords(value: Any) -> str:
    """Keywords joined with '; ', whole keywords only, within LSI's 255 characters."""
    joined = ""
    for word in _keyword_list(value):
        candidate = f"{joined}; {word}" if joined else word
        if len(candidate) > KEYWORDS_MAX_CHARS:
            break
        joined = candidate
    return joined


def _short_description(value: Any) -> str:
    text = " ".join(_as_text(value).split())
    if len(text.encode()) <= SHORT_DESCRIPTION_MAX_BYTES:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate.encode()) > SHORT_DESCRIPTION_MAX_BYTES:
            break
        kept = candidate
    return kept or _cut_at_word(text, SHORT_DESCRIPTION_MAX_BYTES - 3, bytes_=True) + "..."


def _annotation(book: Mapping[str, Any]) -> str | None:
    summary = book.get("annotation_summary")
    if isinstance(summary, str) and summary.strip():
        summary = _clean(summary)
        if len(summary) <= ANNOTATION_MAX_CHARS:
            return summary
        end = summary.rfind("</p>", 0, ANNOTATION_MAX_CHARS - 3)
        return summary[: end + 4] if end > 0 else None
    plain = _first(book, "summary_long", "storefront_description_en", "back_cover_text")
    if not isinstance(plain, str):
        return None
    out = ""
    for para in re.split(r"\n\s*\n", _clean(plain)):
        para = " ".join(para.split())
        if not para:
            continue
        piece = f"<p>{html.escape(para, quote=False)}</p>"
        if len(out) + len(piece) > ANNOTATION_MAX_CHARS:
            room = ANNOTATION_MAX_CHARS - len(out) - len("<p>...</p>")
            cut = _cut_at_word(para, room)
            while cut and len(html.escape(cut, quote=False)) > room:
                cut = _cut_at_word(cut, len(cut) - 1)
            if cut:
                out += f"<p>{html.escape(cut, quote=False)}...</p>"
            break
        out += piece
    return out


def _cut_at_word(text: str, limit: int, bytes_: bool = False) -> str:
    size = (lambda s: len(s.encode())) if bytes_ else len
    if size(text) <= limit:
        return text
    cut = text[:limit]
    while size(cut) > limit:
        cut = cut[:-1]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip(" ,;:")


def _strip_bisac_code(name: str) -> str:
    return re.sub(r"^[A-Z]{3}\d{6}\s*[-:]?\s*", "", name.strip())


def _basic_info(book: Mapping[str, Any]) -> Mapping[str, Any]:
    """The LLM's parsed answer to gemini_get_basic_info, kept by the pipeline inside 'responses'."""
    responses = book.get("responses")
    if not isinstance(responses, dict):
        return {}
    for answers in responses.values():
        for answer in answers if isinstance(answers, list) else []:
            if isinstance(answer, dict) and answer.get("prompt_key") == "gemini_get_basic_info" \
                    and isinstance(answer.get("parsed_content"), dict):
                return answer["parsed_content"]
    return {}


def sanitize_filename(title: str) -> str:
    """The pipeline's own file name for a title (AI Governance: X -> AI_Governance_X)."""
    name = re.sub(r"[\s/:\\]+", "_", title)
    return re.sub(r"[^\w\-]", "", name).strip("_")
