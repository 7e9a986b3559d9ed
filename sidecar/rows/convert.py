"""A book (the pipeline's processed JSON) and a Profile become one ACS row. Pure: no I/O, no clock.

Each column is decided by the highest level that gives it: the book's own JSON, else books/<isbn>.json, else
the config levels (profile.py). A value that level gives and LSI could not use leaves the cell blank with an
error naming the file or key: never a lower level's value, nor one derived from another column, in its place.
Nothing is invented. Only source problems (where a value came from, what was left out) are made here; the
cell rules run on the finished row (validate.py), the same ones `verify` runs on any ACS file.
"""

from __future__ import annotations

import html
import os
import re
import string
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Container, Iterable, Mapping

from ..errors import BookError
from . import isbn as isbns, lsi_rules as R, text, values as v
from .columns import (
    ANNOTATION_SUMMARY, AUDIENCE, BISAC_CATEGORIES, BISAC_CATEGORY, COLUMNS, CONTRIBUTOR_ONE, CONTRIBUTOR_ONE_DETAILS,
    CONTRIBUTORS, EDITION_DESCRIPTION, EDITION_NUMBER, ILLUSTRATION_COUNT, ILLUSTRATION_NOTES, IMPRINT, ISBN_OR_SKU,
    KEY, KEYWORDS, LANGUAGE_CODE, MAX_AGE, MAX_GRADE, MIN_AGE, MIN_GRADE, NUMBER_IN_SERIES, PAGES, PARENT_ISBN,
    PUB_DATE, PUBLISHER, PUBLISHER_REFERENCE_ID, REGIONAL_SUBJECTS, RENDITION_BOOKTYPE, RETURNABLE, REVIEW_QUOTES,
    SERIES_NAME, SHORT_DESCRIPTION, STREET_DATE, TABLE_OF_CONTENTS, TERRITORIAL_RIGHTS, THEMA_LIST_KEYS,
    THEMA_SUBJECT_1, THEMA_SUBJECTS, TITLE, Problem, Row, Severity,
)
from .prices import fill_prices
from .profile import EXCLUDED, Profile
from .rules import respelled

_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


@dataclass(frozen=True)
class Conversion:
    row: Row
    isbn: str
    title: str
    problems: tuple[Problem, ...]  # source problems only: validate.py adds the cell rules'


class _Cells:
    """The row being built and the problems found on the way."""

    def __init__(self, profile: Profile, book: Mapping[str, Any]) -> None:
        self.profile, self.book = profile, book
        self.defaults: Mapping[str, str] = profile.defaults  # the config levels' checked values
        self.notes: Mapping[str, Problem] = profile.notes  # what the level deciding each column got wrong
        self.values: dict[str, str] = dict(profile.defaults)
        self.problems: list[Problem] = []
        self.unusable = {column for column, p in self.notes.items() if p.rule == R.UNUSABLE.id}
        self.blank: Mapping[str, str] = profile.blank  # column -> the blank_fields / field_exclusions entry

    def use_book_config(self, isbn: str) -> None:
        """books/<isbn>.json: its values beat every other config level for this book."""
        config = self.profile.books.get(isbn)
        if config is not None:
            for column in {**config.defaults, **config.notes}:
                self.values.pop(column, None)
                self.unusable.discard(column)
            self.defaults = {**self.defaults, **config.defaults}
            self.notes = {**{c: p for c, p in self.notes.items() if c not in config.defaults}, **config.notes}
            self.unusable |= {column for column, p in config.notes.items() if p.rule == R.UNUSABLE.id}
            self.values.update(config.defaults)
            self.blank = {**self.blank, **config.blank}

    def pick(self, column: str, *keys: str, rule: Callable[[Any], str] | None = None) -> None:
        """The book's value under the first of keys it gives (a blank or null value is not given) decides the
        column; else the config levels' value stays. One the rule refuses blanks the cell, with an error."""
        key = keys[0] if len(keys) == 1 else next((k for k in keys if not v.is_blank(self.book.get(k))), keys[0])
        raw = self.book.get(key)
        if raw is None or v.is_blank(raw):
            return
        self.values.pop(column, None)
        if column in self.notes:
            self.notes = {c: p for c, p in self.notes.items() if c != column}
        try:
            value = (rule or self.profile.rule(column))(raw)
        except ValueError as exc:
            self.unusable.add(column)
            self.problems.append(R.UNUSABLE.at(column, f"the book's '{key}' gives {v.quoted(raw)}: {exc}; the cell "
                                                       "is left blank (no config level's value is used in its place)"))
            return
        self.unusable.discard(column)
        if respelled(column, raw, value):
            self.problems.append(R.SPELLING.at(column, f"the book's '{key}' gives {v.quoted(raw)}: read as '{value}', "
                                                       "LSI's spelling"))
        if value:
            self.values[column] = value

    def set(self, column: str, value: str | None) -> None:
        """A value the book decides that no single rule makes (title, annotation, subjects)."""
        self.values.pop(column, None)
        self.unusable.discard(column)
        if column in self.notes:
            self.notes = {c: p for c, p in self.notes.items() if c != column}
        if value:
            self.values[column] = value


# The book's key for a column whose key is not the column's KEY.
_BOOK_KEYS = {RETURNABLE: "returnability", REVIEW_QUOTES: "review_quotes", ILLUSTRATION_COUNT: "illustration_count"}


def convert_book(book: Mapping[str, Any], profile: Profile) -> Conversion:
    """The ACS row for one book. Raises BookError when the book cannot be a row at all."""
    c = _Cells(profile, book)
    title, isbn = _identity(c, book)
    c.use_book_config(isbn)
    for column in (PARENT_ISBN, RENDITION_BOOKTYPE, PUBLISHER, IMPRINT):
        c.pick(column, KEY[column])
    _contributors(c)
    c.pick(PAGES, "page_count")
    c.pick(PUB_DATE, "publication_date")
    c.pick(STREET_DATE, KEY[STREET_DATE])
    for column in (TERRITORIAL_RIGHTS, EDITION_NUMBER, EDITION_DESCRIPTION, RETURNABLE, PUBLISHER_REFERENCE_ID,
                   REGIONAL_SUBJECTS, MIN_AGE, MAX_AGE, MIN_GRADE, MAX_GRADE, AUDIENCE, TABLE_OF_CONTENTS,
                   REVIEW_QUOTES, ILLUSTRATION_COUNT, ILLUSTRATION_NOTES, SERIES_NAME):
        c.pick(column, _BOOK_KEYS.get(column) or KEY[column])
    c.pick(LANGUAGE_CODE, KEY[LANGUAGE_CODE], "language")
    c.pick(NUMBER_IN_SERIES, "series_number", "volume_number")
    c.pick(SHORT_DESCRIPTION, "summary_short", "storefront_description_en", "back_cover_text")
    _annotation(c, book)
    _keywords(c, book)
    _bisac(c, book)
    _thema(c, book)
    _trim_size(c, book)
    fill_prices(c, book, isbn)
    _file_names(c, book, isbn, title)
    return Conversion(row=_finished_row(c), isbn=isbn, title=title, problems=tuple(c.problems))


def _finished_row(c: _Cells) -> Row:
    """The cells, with the tranche's blanks and appends, and the problems of the config values kept."""
    profile, values = c.profile, c.values
    for column in c.blank:
        if column in R.REQUIRED_COLUMNS:
            c.problems.append(R.EXCLUDED.at(column, f"blank because {c.blank[column]} {EXCLUDED}, and LSI "
                                                    "rejects the whole file when it is blank"))
    for column, note in c.notes.items():
        if column not in c.blank and (values.get(column) is c.defaults.get(column) or column in c.unusable):
            c.problems.append(note)
    cells, own_blanks = [], c.blank is not profile.blank  # books/<isbn>.json blanks columns of its own
    for column, default, done in _finished_defaults(profile):
        value = values.get(column)
        # the configs' value, untouched: its cell was finished once for the profile
        cells.append(done if value is default and done is not None and not (own_blanks and column in c.blank)
                     else _cell(c, column, value or "", value is not None and value is c.defaults.get(column)))
    return tuple(cells)


def _finished_defaults(profile: Profile) -> list[tuple[str, str | None, str | None]]:
    """(column, the configs' value, its finished cell) for every column, worked out once per profile.
    A default that cannot be a cell (a placeholder, over a cell's size) has no finished cell: it goes
    through _cell with every book, which reports why it is blank."""
    if "finished" not in profile.cache:
        probe = _Cells(profile, {})
        finished: dict[str, str | None] = {column: _cell(probe, column, profile.defaults.get(column, ""), True)
                                           for column in COLUMNS}
        for problem in probe.problems:
            finished[problem.column] = None
        profile.cache["finished"] = [(column, profile.defaults.get(column), finished[column]) for column in COLUMNS]
    finished_defaults: list[tuple[str, str | None, str | None]] = profile.cache["finished"]
    return finished_defaults


def _cell(c: _Cells, column: str, value: str, from_config: bool) -> str:
    if column in c.blank or not (value or column in c.profile.append):
        return ""
    return _finish(c, column, value, from_config)


# ----------------------------------------------------------------------------- column groups

def _identity(c: _Cells, book: Mapping[str, Any]) -> tuple[str, str]:
    """Title (with its subtitle, as LSI shows the full title) and ISBN: a book needs one of them to be a row."""
    title, subtitle = book.get(KEY[TITLE]), book.get("subtitle")
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
    c.set(TITLE, full_title(title, subtitle, c.profile.subtitle_separator))
    c.set(ISBN_OR_SKU, given)  # as the book gave it; the cell rule says when it is not an ISBN-13
    if not given and not v.is_blank(isbn_raw):
        c.problems.append(R.UNUSABLE.at(ISBN_OR_SKU, f"the book's ISBN {v.quoted(isbn_raw)} has no digits"))
    return title, isbns.identity(given)  # the book's identity: an ISBN-10 is its ISBN-13


def full_title(title: str, subtitle: Any, separator: str) -> str:
    """Title and subtitle combined as LSI shows the full title ("Title: Subtitle"); not added twice."""
    sub = v.clean(subtitle) if isinstance(subtitle, str) else ""
    if not sub or not title or title.lower().endswith(sub.lower()):
        return title or sub
    if separator.strip() and title.endswith(separator.strip()):  # "Title:" already carries the separator
        return f"{title} {sub}"
    return f"{title}{separator}{sub}"


_TRIM = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?x ?([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)
BOOK_RANK = 99  # the book's own JSON or its books/<isbn>.json: above every config level


def _trim_size(c: _Cells, book: Mapping[str, Any]) -> None:
    """The rendition's size (POD: 6 x 9 in ...) against the trim size that the same or a higher level gives:
    a level's trim says nothing of a book type a higher level chose."""
    own = book.get("trim_size")
    trim, origin, rank = (own.strip(), "the book's 'trim_size'", BOOK_RANK) if isinstance(own, str) and own.strip() \
        else c.profile.trim_size
    rendition = c.values.get(RENDITION_BOOKTYPE, "")
    rendition_rank = c.profile.ranks.get(RENDITION_BOOKTYPE, 0) if rendition is c.defaults.get(
        RENDITION_BOOKTYPE) and rendition is c.profile.defaults.get(RENDITION_BOOKTYPE) else BOOK_RANK
    sized, wanted = _TRIM.search(rendition), _TRIM.fullmatch(trim)
    if sized and wanted and rank >= rendition_rank and \
            sorted(map(Decimal, sized.groups())) != sorted(map(Decimal, wanted.groups())):
        c.problems.append(R.TRIM.at(RENDITION_BOOKTYPE, f"'{rendition}' is {sized.group(0)} in, but the trim "
                                                           f"size is {trim} ({origin})"))


def _annotation(c: _Cells, book: Mapping[str, Any]) -> None:
    """The book's HTML annotation, cleaned to the allowed tags; else its plain summary as <p> paragraphs. Over
    LSI's 4,000 characters (room left for a tranche's appended paragraph), whole paragraphs or sentences are
    kept and the rest named."""
    column, tags = ANNOTATION_SUMMARY, c.profile.annotation_tags
    extra = c.profile.append.get(column, "").strip()
    limit = R.LIMITS[column].size
    room = limit - (len(_appended(extra, tags)) if extra else 0)
    summary = book.get(KEY[ANNOTATION_SUMMARY])
    if isinstance(summary, str) and text.plain_text(summary).strip():  # markup without text is not given
        source, cleaned = KEY[ANNOTATION_SUMMARY], text.sanitize(v.clean(summary), tags)
        if "<" in summary and _removed_tags(summary, tags):
            c.problems.append(R.CLEANED.at(column, f"the book's annotation had HTML that Ingram does not list "
                                                   f"({', '.join(_removed_tags(summary, tags))}): removed"))
        fitted = text.fit_html(cleaned, tags, room)
    else:
        source = next((k for k in ("summary_long", "storefront_description_en", "back_cover_text")
                       if not v.is_blank(book.get(k))), "")
        if not source:
            return
        if not isinstance(book[source], str):
            c.pick(column, source)  # reports the value that is not text
            return
        fitted = text.fit_paragraphs(v.clean(book[source]), room)
    c.set(column, fitted.text if "p" in tags else text.sanitize(fitted.text, tags))
    over = f"the book's '{source}' is over LSI's {limit:,} characters" + (
        f" ({limit - room:,} of them kept for the tranche's appended text)" if extra else "")
    if fitted.left_out and not fitted.text:
        c.problems.append(R.UNUSABLE.at(column, f"{over}, and not even its first sentence fits: the cell is left "
                                                "blank; shorten the description"))
    elif fitted.left_out:
        c.problems.append(R.SHORTENED.at(column, f"{over}: left out {fitted.left_out}"))


_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)")


def _removed_tags(html_text: str, tags: tuple[str, ...]) -> list[str]:
    return sorted({t.lower() for t in _TAG_NAME.findall(html_text)} - set(tags))


def _appended(extra: str, tags: tuple[str, ...]) -> str:
    """A tranche's text added to the annotation: its own paragraph, or after a space where <p> is not kept."""
    escaped = html.escape(extra, quote=False)
    return f"<p>{escaped}</p>" if "p" in tags else f" {escaped}"


def _keywords(c: _Cells, book: Mapping[str, Any]) -> None:
    """Whole keywords within LSI's 500 characters; those left out named."""
    if v.is_blank(book.get(KEY[KEYWORDS])):
        return
    fitted = text.join_keywords(text.keyword_list(book[KEY[KEYWORDS]]), R.LIMITS[KEYWORDS].size)
    c.pick(KEYWORDS, KEY[KEYWORDS], rule=lambda _: fitted.text)
    if fitted.left_out:
        c.problems.append(R.SHORTENED.at(KEYWORDS, f"over LSI's {R.LIMITS[KEYWORDS].size} characters: left out "
                                                     f"{fitted.left_out}"))


def _contributors(c: _Cells) -> None:
    for name_col, role_col in CONTRIBUTORS:
        c.pick(name_col, KEY[name_col], *(("author",) if name_col == CONTRIBUTOR_ONE else ()))
        if name_col in c.values:
            c.pick(role_col, KEY[role_col])
        elif role_col not in c.unusable:
            c.values.pop(role_col, None)  # a configured role is for a contributor the book names
    for column in CONTRIBUTOR_ONE_DETAILS:
        c.pick(column, KEY[column])


def _bisac(c: _Cells, book: Mapping[str, Any]) -> None:
    """The tranche's required subject decides BISAC Category (a code is named from LSI's tables; one LSI does
    not have leaves the cell blank with an error); the book's subjects follow, deduplicated."""
    codes = c.profile.codes
    names: list[str] = []
    required, origin = c.profile.required_bisac
    if required:
        name = _bisac_name(required, codes)
        if name is None:
            c.problems.append(R.UNUSABLE.at(BISAC_CATEGORY, f"{origin} gives {v.quoted(required)}: not a BISAC "
                                                              "subject in LSI's list; the cell is left blank"))
        names.append(name or "")
    for code in v.split(book.get("bisac_codes"), ";,"):
        code = code.upper()
        if codes is None:
            c.problems.append(R.LEFT_OUT.at(BISAC_CATEGORY, f"BISAC code {code} needs the ACS code tables "
                                                              "(--acs-codes) to be named; left out"))
        elif code in codes.bisac:
            names.append(codes.bisac[code])
        else:
            c.problems.append(R.LEFT_OUT.at(BISAC_CATEGORY, f"BISAC code {code} is not in LSI's list; left out"))
    for field_name in ("bisac_categories", "bisac_text"):
        names.extend(v.strip_bisac_code(n) for n in v.split(book.get(field_name), ";"))
    names.extend(v.strip_bisac_code(n) for n in v.split(v.basic_info(book).get("bisac_categories"), ";"))
    kept = names[:1] if required else []
    rest = [name for name in names[len(kept):] if name not in kept]
    kept += _listed(c, rest, codes.bisac_names if codes else None, BISAC_CATEGORY, lambda name: f"BISAC subject '{name}'")
    for column, name in zip(BISAC_CATEGORIES, kept):
        c.set(column, name)


def _listed(c: _Cells, found: Iterable[str], known: Container[str] | None, column: str,
            what: Callable[[str], str]) -> list[str]:
    """found, each once, without those LSI's code tables (known) lack: each of those named in a warning."""
    kept: list[str] = []
    for item in dict.fromkeys(found):
        if known is not None and item not in known:
            c.problems.append(R.LEFT_OUT.at(column, f"{what(item)} is not in LSI's list; left out"))
        else:
            kept.append(item)
    return kept


_BISAC_CODE = re.compile(r"[A-Z]{3}[0-9]{6}")


def _bisac_name(subject: str, codes: Any) -> str | None:
    """A configured BISAC subject as LSI's name: a code (SEL045000) named from the tables, a name as it is
    (with a leading code dropped); None when LSI's tables do not have it, or a bare code cannot be named."""
    if _BISAC_CODE.fullmatch(subject.upper()):
        return codes.bisac.get(subject.upper()) if codes is not None else None
    name = v.strip_bisac_code(subject)
    return name if name and (codes is None or name in codes.bisac_names) else None


def _thema(c: _Cells, book: Mapping[str, Any]) -> None:
    listed = [s for s in (book.get(KEY[column]) for column in THEMA_SUBJECTS) if isinstance(s, str) and s.strip()]
    if not listed:
        keys = THEMA_LIST_KEYS
        listed = v.split(next((book[k] for k in keys[:-1] if book.get(k)), book.get(keys[-1])), ";,")
    kept = _listed(c, (s.strip().upper() for s in listed), c.profile.codes.thema if c.profile.codes else None,
                   THEMA_SUBJECT_1, lambda code: f"Thema subject {code}")
    for column, code in zip(THEMA_SUBJECTS, kept):
        c.set(column, code)


def _file_names(c: _Cells, book: Mapping[str, Any], isbn: str, title: str) -> None:
    author = v.clean(book["author"]) if isinstance(book.get("author"), str) else ""
    fields = v.file_name_fields(isbn, title, c.profile.imprint, author)
    for column, template in c.profile.file_names.items():
        template = os.path.basename(template)  # LSI wants the uploaded file's name, never a folder
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        empty = [n for n in names if not fields.get(n)]
        if empty:
            c.problems.append(R.TEMPLATE.at(column, f"file name template '{template}': the book has no {empty[0]}; "
                                                    "left blank"))
        if empty or not template:
            continue
        if slashed := [n for n in names if "/" in fields[n]]:
            c.problems.append(R.TEMPLATE.at(column, f"file name template '{template}': the book's {slashed[0]} has "
                                                    "'/', which no file name holds; written as '-'"))
        c.values[column] = template.format(**{n: fields[n].replace("/", "-") for n in names})


def _finish(c: _Cells, column: str, value: str, from_config: bool) -> str:
    """Last rules for every cell that is not blanked: appends, no control characters, a cell's size, and no
    unfilled placeholder of a config template. A value is never shortened here."""
    extra = c.profile.append.get(column, "").strip()
    if value and extra:
        value = value + _appended(extra, c.profile.annotation_tags) if column == ANNOTATION_SUMMARY \
            else f"{value} {extra}"
    if not value.isprintable():  # rare: only then look for control characters
        value = v.CONTROL.sub("", value)
    if len(value) > R.CELL_LIMIT.size:
        c.problems.append(R.UNUSABLE.at(column, f"{len(value):,} characters: a cell of LSI's spreadsheet holds "
                                                f"{R.CELL_LIMIT.size:,}; left out: shorten it in the book"))
        return ""
    found = _PLACEHOLDER.search(value) if from_config and "{" in value else None
    if found:
        c.problems.append(R.TEMPLATE.at(column, f"{c.profile.origins.get(column, 'the configuration')} holds the "
                                                f"placeholder {found.group()}, which the sidecar does not fill; "
                                                "left blank", Severity.WARNING))
        return ""
    return value  # as LSI should show it: spreadsheet safety belongs to the review workbook, never to this cell
