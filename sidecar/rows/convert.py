"""A book (the pipeline's processed JSON) and a Profile become one ACS row. Pure: no I/O, no clock.

Each column takes the book's own value where it has a usable one, else the profile's layered default
(built-ins < the pipeline's LSI config < the tranche). Nothing is invented: a value that would be wrong
for LSI is left blank and reported as a Problem instead.
"""

from __future__ import annotations

import html
import os
import re
import string
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping

from ..errors import BookError
from . import isbn as isbns
from . import text
from . import values as v
from .columns import COLUMNS, MARKETS, MAX_CHARS, REQUIRED, TEXT_MAX_CHARS, Problem, Row
from .profile import EXCLUDED, Profile

# Markets priced by exchange rate from the US price; the others carry the US price itself.
CONVERTED_MARKETS = ("UK", "EU", "AU", "CA")
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


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
        self.defaults: Mapping[str, str] = profile.defaults  # the config levels' checked values
        self.values: dict[str, str] = {}
        self.problems: list[Problem] = []

    def warn(self, column: str, message: str) -> None:
        self.problems.append(Problem("warning", column, message))

    def error(self, column: str, message: str) -> None:
        self.problems.append(Problem("error", column, message))

    def use_book_config(self, isbn: str) -> None:
        """books/<isbn>.json: its values beat every other config level for this book."""
        config = self.profile.books.get(isbn)
        if config is not None:
            self.defaults = {**self.defaults, **config.defaults}
            self.values.update(config.defaults)

    def pick(self, column: str, book_value: Any, normalise: Callable[[Any], str] | None = None) -> None:
        """Set column to the book's value if usable, else to the config levels' (already checked) value.
        The row starts as those values, and each column is picked once: a book without the key changes nothing."""
        if book_value is None:
            return
        self.values.pop(column, None)
        if book_value != "" and not v.is_blank(book_value):
            try:
                value = (normalise or self.profile.rule(column))(book_value)
            except ValueError as exc:
                self.warn(column, f"the book gives {v.quoted(book_value)}: {exc}; left out")
            else:
                if value:
                    self.values[column] = value
                    return
        if self.defaults.get(column):
            self.values[column] = self.defaults[column]


def convert_book(book: Mapping[str, Any], profile: Profile) -> Conversion:
    """The ACS row for one book. Raises BookError when the book cannot be a row at all."""
    c = _Cells(profile)
    c.values.update(profile.defaults)
    title, isbn = _identity(c, book)
    c.use_book_config(isbn)
    c.pick("Parent ISBN", book.get("parent_isbn"))
    c.pick("Rendition /Booktype", book.get("rendition_booktype"))
    _trim_size(c, book)
    c.pick("Publisher", book.get("publisher"))
    c.pick("Imprint", book.get("imprint"))
    _imprint_name(c)

    _contributors(c, book)
    c.pick("Pages", book.get("page_count"))
    if "Pages" not in c.values:
        c.error("Pages", "no page count yet ('page_count' is set by the pipeline's prepress stage)")
    c.pick("Pub Date", book.get("publication_date"))
    c.pick("Street Date", book.get("street_date"))
    c.pick("Territorial Rights", book.get("territorial_rights"))
    c.pick("Edition Number", book.get("edition_number"))
    c.pick("Edition Description", book.get("edition_description"))
    _annotation(c, book)
    c.pick("Returnable", book.get("returnability"))
    _bisac(c, book)
    c.pick("Language Code", book.get("language_code") or book.get("language"))
    c.pick("Publisher Reference ID", book.get("publisher_reference_id"))
    _keywords(c, book)
    _thema(c, book)
    _audience(c, book)
    c.pick("Short Description", book.get("summary_short") or v.first(book, "storefront_description_en", "back_cover_text"))
    c.pick("Table of Contents", book.get("table_of_contents"))
    c.pick("Review Quote(s)", book.get("review_quotes"))
    c.pick("# Illustrations", book.get("illustration_count"))
    c.pick("Illustration Notes", book.get("illustration_notes"))
    c.pick("Series Name", book.get("series_name"))
    c.pick("# in Series", v.first(book, "series_number", "volume_number"))
    _prices(c, book, isbn)
    _file_names(c, book, isbn, title)

    values, blank = c.values, profile.blank
    for column in blank:
        if column in REQUIRED:
            c.error(column, f"blank because {blank[column]} {EXCLUDED}, and LSI rejects the whole file "
                            "when it is blank")
    cells = []
    for column, default, done in _finished_defaults(profile):
        value = values.get(column)
        # the configs' value, untouched: its cell was finished once for the profile
        cells.append(done if value is default and done is not None else _cell(c, column, value or ""))
    return Conversion(row=tuple(cells), isbn=isbn, title=title, problems=tuple(c.problems))


def _finished_defaults(profile: Profile) -> list[tuple[str, str | None, str | None]]:
    """(column, the configs' value, its finished cell) for every column, worked out once per profile.
    A default that cannot be a cell (over LSI's limit, a placeholder) has no finished cell: it goes
    through _cell with every book, which reports why it is blank."""
    if "finished" not in profile.cache:
        probe = _Cells(profile)
        finished: dict[str, str | None] = {column: _cell(probe, column, profile.defaults.get(column, ""))
                                           for column in COLUMNS}
        for problem in probe.problems:
            finished[problem.column] = None
        profile.cache["finished"] = [(column, profile.defaults.get(column), finished[column]) for column in COLUMNS]
    return profile.cache["finished"]


def _cell(c: _Cells, column: str, value: str) -> str:
    if column in c.profile.blank or not (value or column in c.profile.append):
        return ""
    return _finish(c, column, value)


# ----------------------------------------------------------------------------- column groups

def _identity(c: _Cells, book: Mapping[str, Any]) -> tuple[str, str]:
    """Title and ISBN: a book needs one of them to be a row at all."""
    title = book.get("title")
    if title is not None and not isinstance(title, str):
        raise BookError(f"'title' is {v.type_name(title)}, expected text")
    title = v.clean(title or "")
    isbn_raw = v.first(book, "isbn13", "isbn_13", "isbn")
    try:
        given = isbns.cleaned(isbn_raw) if not v.is_blank(isbn_raw) else ""  # the cell: as the book gave it
    except ValueError as exc:
        raise BookError(f"its ISBN {v.quoted(isbn_raw)} cannot be read: {exc}") from None
    if not title and not given:
        raise BookError("it has neither a 'title' nor an ISBN ('isbn13', 'isbn_13' or 'isbn')")
    c.values["Title"] = title
    if given:
        c.values["ISBN or SKU"] = given
    wrong = isbns.problem(given) if not v.is_blank(isbn_raw) else None
    if wrong:
        c.error("ISBN or SKU", f"ISBN {v.quoted(isbn_raw)} {wrong}")
    return title, isbns.identity(given)  # the book's identity: an ISBN-10 is its ISBN-13


_TRIM = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?x ?([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)


def _trim_size(c: _Cells, book: Mapping[str, Any]) -> None:
    """The rendition's size (POD: 6 x 9 in ...) against the book's trim size, the book's or the configs'."""
    own = book.get("trim_size")
    own_trim = isinstance(own, str) and own.strip()
    trim, origin = (own.strip(), "the book's 'trim_size'") if own_trim else c.profile.trim_size
    rendition = c.values.get("Rendition /Booktype", "")
    sized, wanted = _TRIM.search(rendition), _TRIM.fullmatch(trim)
    if sized and wanted and sorted(map(Decimal, sized.groups())) != sorted(map(Decimal, wanted.groups())):
        c.error("Rendition /Booktype", f"'{rendition}' is {sized.group(0)} in, but the trim size is {trim} "
                                       f"({origin}): set a rendition_booktype of that size, or correct the trim size")


def _imprint_name(c: _Cells) -> None:
    """LSI takes only the imprint registered to the account: the imprint config's name is that one."""
    name, path = c.profile.imprint_name
    imprint = c.values.get("Imprint", "")
    if name and imprint and " ".join(imprint.lower().split()) != " ".join(name.lower().split()):
        c.warn("Imprint", f"{v.quoted(imprint)} is not the imprint config's {v.quoted(name)} ({path}); LSI takes "
                          "only the imprint registered to the account")


def _annotation(c: _Cells, book: Mapping[str, Any]) -> None:
    """Clean HTML within LSI's 4,000 characters, room left for a tranche's appended paragraph."""
    extra = c.profile.append.get("Annotation / Summary", "").strip()
    room = text.ANNOTATION_MAX_CHARS - (len(_appended(extra)) if extra else 0)
    c.pick("Annotation / Summary", text.annotation(book, c.profile.annotation_tags, room))
    source = book.get("annotation_summary")
    if isinstance(source, str) and "<" in source and text.sanitize(v.clean(source), c.profile.annotation_tags) != \
            v.clean(source):
        c.warn("Annotation / Summary", "the book's annotation had HTML that LSI does not take (tags other than "
                                       f"{', '.join(c.profile.annotation_tags)}, or unbalanced ones): cleaned")


def _appended(extra: str) -> str:
    return f"<p>{html.escape(extra, quote=False)}</p>"


def _keywords(c: _Cells, book: Mapping[str, Any]) -> None:
    words = text.keyword_list(book.get("keywords"))
    c.pick("Keywords", book.get("keywords"), lambda _: text.join_keywords(words))
    kept = c.values.get("Keywords")
    dropped = len(words) - kept.count("; ") - 1 if kept and words else 0
    if dropped > 0:
        c.warn("Keywords", f"keywords cut to {text.KEYWORDS_MAX_CHARS} characters: {dropped} left out")


def _audience(c: _Cells, book: Mapping[str, Any]) -> None:
    c.pick("Regional Subjects", book.get("regional_subjects"))
    c.pick("Min Age", book.get("min_age"))
    c.pick("Max Age", book.get("max_age"))
    if "Min Age" in c.values and "Max Age" in c.values and int(c.values["Min Age"]) > int(c.values["Max Age"]):
        c.warn("Max Age", f"Min Age {c.values['Min Age']} is above Max Age {c.values['Max Age']}")
    c.pick("Min Grade", book.get("min_grade"))
    c.pick("Max Grade", book.get("max_grade"))
    c.pick("Audience", book.get("audience"))

def _contributors(c: _Cells, book: Mapping[str, Any]) -> None:
    ordinals = (("One", "one"), ("Two", "two"), ("Three", "three"))
    for word, key in ordinals:
        name_col, role_col = f"Contributor {word}", f"Contributor {word} Role"
        book_name = book.get(f"contributor_{key}") or (book.get("author") if key == "one" else None)
        c.pick(name_col, book_name)
        if name_col in c.values:
            c.pick(role_col, book.get(f"contributor_{key}_role"))
            if role_col not in c.values:
                c.error(role_col, f"{name_col} {v.quoted(c.values[name_col])} has no role, and LSI needs one for "
                                  f"every contributor named (set contributor_{key}_role)")
        else:
            c.values.pop(role_col, None)  # a role without a name is refused by LSI
    for suffix in ("BIO", "Affiliations", "Professional Position", "Location", "Prior Work"):
        c.pick(f"Contributor One {suffix}", book.get("contributor_one_" + suffix.lower().replace(" ", "_")))
    c.pick("Contributor One Location Type Code", book.get("contributor_one_location_type_code"))


def _bisac(c: _Cells, book: Mapping[str, Any]) -> None:
    codes = c.profile.codes
    names: list[str] = []
    if c.profile.required_bisac:
        names.append(v.strip_bisac_code(c.profile.required_bisac))
    for code in v.split(book.get("bisac_codes"), ";,"):
        code = code.upper()
        if codes is None:
            c.warn("BISAC Category", f"BISAC code {code} needs the ACS code tables (--acs-codes) to be named")
        elif code in codes.bisac:
            names.append(codes.bisac[code])
        else:
            c.warn("BISAC Category", f"BISAC code {code} is not in LSI's list; left out")
    for field_name in ("bisac_categories", "bisac_text"):
        names.extend(v.strip_bisac_code(n) for n in v.split(book.get(field_name), ";"))
    names.extend(v.strip_bisac_code(n) for n in v.split(v.basic_info(book).get("bisac_categories"), ";"))
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
        listed = v.split(book.get("thema") or book.get("thema_subjects") or book.get("thema_codes"), ";,")
    codes = c.profile.codes
    kept: list[str] = []
    for code in (s.strip().upper() for s in listed):
        if codes is not None and code not in codes.thema:
            c.warn("Thema Subject 1", f"Thema subject {code} is not in LSI's list; left out")
        elif code not in kept:
            kept.append(code)
    for n, code in enumerate(kept[:3], start=1):
        c.values[f"Thema Subject {n}"] = code


def _prices(c: _Cells, book: Mapping[str, Any], isbn: str) -> None:
    """Each market's price and discount: the book's own, else books/<isbn>.json's, else (US price) the
    page-count band of lsi.price_by_pages, else the config levels'; a market without a price of its own
    takes the US price times its factor, ending in lsi.price_ending when one is set."""
    for market, price_col, discount_col, keys in MARKETS:
        c.pick(price_col, v.first(book, *keys))
        c.pick(discount_col, book.get(f"{market.lower()}_wholesale_discount"))
    us_col = MARKETS[0][1]
    config = c.profile.books.get(isbn)
    from_levels = c.values.get(us_col) is c.defaults.get(us_col) and not (config and us_col in config.defaults)
    if c.profile.price_bands and "Pages" in c.values and from_levels:  # neither the book nor its books/ file priced it
        pages = int(c.values["Pages"])
        band = next((price for upto, price in c.profile.price_bands if upto is None or pages <= upto), None)
        if band:
            c.values[us_col] = band
    us = c.values.get(us_col)
    if us:
        for price_col, price in _market_prices(c.profile, us).items():
            c.values.setdefault(price_col, price)  # a market's own price (the book's or a config's) stays


def _market_prices(profile: Profile, us: str) -> dict[str, str]:
    """Every other market's price from the US price, worked out once per profile and US price."""
    known = profile.cache.setdefault("market prices", {})
    if us in known:
        return known[us]
    prices = {}
    for market, price_col, _, _ in MARKETS[1:]:
        factor = profile.exchange_rates.get(market)
        if factor is None and market in CONVERTED_MARKETS:
            continue
        if factor is None or factor == 1:
            prices[price_col] = us
            continue
        amount = Decimal(us) * factor
        ending = profile.price_ending
        prices[price_col] = v.money(amount if ending is None else v.with_ending(amount, ending))
    if len(known) < 10_000:  # books seldom have more than a few prices; a hostile folder cannot grow it
        known[us] = prices
    return prices


def _file_names(c: _Cells, book: Mapping[str, Any], isbn: str, title: str) -> None:
    fields = {
        "isbn": isbn,
        "title": title,
        "title_slug": v.sanitize_filename(title),
        "slug8": re.sub(r"[^a-z0-9]+", "_", title.lower())[:8],
        "imprint": c.profile.imprint,
        "author": v.clean(book["author"]) if isinstance(book.get("author"), str) else "",
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
        c.values[column] = os.path.basename(template.format(**fields))  # LSI wants the uploaded file's name


def _finish(c: _Cells, column: str, value: str) -> str:
    """Last rules for every cell that is not blanked: appends, no control characters, LSI's length limit,
    no placeholders."""
    extra = c.profile.append.get(column, "").strip()
    if value and extra:
        value = value + _appended(extra) if column == "Annotation / Summary" else f"{value} {extra}"
    if not value.isprintable():  # rare: only then look for control characters
        value = v.CONTROL.sub("", value)
    limit = MAX_CHARS.get(column, TEXT_MAX_CHARS)
    if len(value) > limit:
        c.error(column, f"{len(value):,} characters, over LSI's limit of {limit:,}; left out: shorten it in the book")
        return ""
    found = _PLACEHOLDER.search(value) if "{" in value else None
    if found:
        c.warn(column, f"template placeholder {found.group()} in the value; left blank")
        return ""
    return value  # as LSI should show it: spreadsheet safety belongs to the review workbook, never to this cell
