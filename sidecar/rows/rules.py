"""Which rule turns a raw value, a book's or a config level's alike, into each column's text. Pure."""

from __future__ import annotations

import functools
from typing import Any, Callable

from .codes import AcsCodes
from .columns import (
    AUDIENCE, CARTON_PACK_QUANTITY, CONTRIBUTOR_ONE_LOCATION_TYPE_CODE, CONTRIBUTOR_ROLES,
    COVER_JACKET_SUBMISSION_METHOD, EDITION_NUMBER, ILLUSTRATION_COUNT, KEYWORDS, LANGUAGE_CODE,
    LIGHTNING_SOURCE_ACCOUNT, MARKETS, MAX_AGE, MIN_AGE, NUMBER_IN_SERIES, PAGES, PARENT_ISBN, PUB_DATE,
    RENDITION_BOOKTYPE, RETURNABLE, SHORT_DESCRIPTION, STREET_DATE, TEXT_BLOCK_SUBMISSIONMETHOD,
)
from .isbn import cleaned
from .text import keyword_list, short_description
from .values import (account, age, as_text, audience, clean, count, discount, language, location_type,
                     positive_int, price, rendition, returnable, role, submission_method, to_date)

# Columns whose values are a closed list of LSI's spellings: another spelling of one is read as it, with a
# warning (respelled()).
CLOSED_LISTS = (RETURNABLE, COVER_JACKET_SUBMISSION_METHOD, TEXT_BLOCK_SUBMISSIONMETHOD)


def column_rule(column: str, codes: AcsCodes | None, language_case: str, date_style: str,
                date_order: str | None = None) -> Callable[[Any], str]:
    """The rule that turns a raw value, a book's or a config level's alike, into one column's text."""
    by_codes: dict[str, Callable[[Any], str]] = {
        RENDITION_BOOKTYPE: lambda x: rendition(x, codes),
        LANGUAGE_CODE: lambda x: language(x, codes, language_case),
        AUDIENCE: lambda x: audience(x, codes),
        PUB_DATE: lambda x: to_date(x, date_style, date_order),
        STREET_DATE: lambda x: to_date(x, date_style, date_order),
        **{column: lambda x: role(x, codes) for column in CONTRIBUTOR_ROLES},
    }
    return by_codes.get(column) or _RULES.get(column) or as_text


def respelled(column: str, raw: Any, value: str) -> bool:
    """A closed list's value given in another spelling than LSI's (case, spacing): worth a warning."""
    return column in CLOSED_LISTS and isinstance(raw, str) and clean(raw) != value


_RULES: dict[str, Callable[[Any], str]] = {
    LIGHTNING_SOURCE_ACCOUNT: account,
    PARENT_ISBN: cleaned,  # as given, an X check digit kept; the cell rule says when it is no ISBN-13
    COVER_JACKET_SUBMISSION_METHOD: submission_method,
    TEXT_BLOCK_SUBMISSIONMETHOD: submission_method,
    PAGES: positive_int, EDITION_NUMBER: positive_int, NUMBER_IN_SERIES: positive_int,
    CARTON_PACK_QUANTITY: positive_int,
    RETURNABLE: returnable,
    SHORT_DESCRIPTION: short_description,
    KEYWORDS: lambda x: "; ".join(keyword_list(x)),
    ILLUSTRATION_COUNT: count,
    MIN_AGE: age, MAX_AGE: age,
    CONTRIBUTOR_ONE_LOCATION_TYPE_CODE: location_type,
}
_RULES.update({m.price: functools.partial(price, currency=m.currency) for m in MARKETS})
_RULES.update({m.discount: discount for m in MARKETS})
