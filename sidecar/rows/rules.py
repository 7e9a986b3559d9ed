"""Which rule turns a raw value, a book's or a config level's alike, into each column's text. Pure."""

from __future__ import annotations

import functools
from typing import Any, Callable

from .codes import AcsCodes
from .columns import MARKETS
from .isbn import cleaned
from .text import keyword_list, short_description
from .values import (account, age, as_text, audience, clean, count, discount, language, location_type,
                     positive_int, price, rendition, returnable, role, submission_method, to_date)

# Columns whose values are a closed list of LSI's spellings: another spelling of one is read as it, with a
# warning (respelled()).
CLOSED_LISTS = ("Returnable", "Cover/Jacket Submission Method", "Text Block SubmissionMethod")


def column_rule(column: str, codes: AcsCodes | None, language_case: str, date_style: str,
                date_order: str | None = None) -> Callable[[Any], str]:
    """The rule that turns a raw value, a book's or a config level's alike, into one column's text."""
    by_codes: dict[str, Callable[[Any], str]] = {
        "Rendition /Booktype": lambda x: rendition(x, codes),
        "Language Code": lambda x: language(x, codes, language_case),
        "Audience": lambda x: audience(x, codes),
        "Pub Date": lambda x: to_date(x, date_style, date_order),
        "Street Date": lambda x: to_date(x, date_style, date_order),
        **{f"Contributor {n} Role": lambda x: role(x, codes) for n in ("One", "Two", "Three")},
    }
    return by_codes.get(column) or _RULES.get(column) or as_text


def respelled(column: str, raw: Any, value: str) -> bool:
    """A closed list's value given in another spelling than LSI's (case, spacing): worth a warning."""
    return column in CLOSED_LISTS and isinstance(raw, str) and clean(raw) != value


_RULES: dict[str, Callable[[Any], str]] = {
    "Lightning Source Account #": account,
    "Parent ISBN": cleaned,  # as given, an X check digit kept; the cell rule says when it is no ISBN-13
    "Cover/Jacket Submission Method": submission_method,
    "Text Block SubmissionMethod": submission_method,
    "Pages": positive_int, "Edition Number": positive_int, "# in Series": positive_int,
    "Carton Pack Quantity": positive_int,
    "Returnable": returnable,
    "Short Description": short_description,
    "Keywords": lambda x: "; ".join(keyword_list(x)),
    "# Illustrations": count,
    "Min Age": age, "Max Age": age,
    "Contributor One Location Type Code": location_type,
}
_RULES.update({m.price: functools.partial(price, currency=m.currency) for m in MARKETS})
_RULES.update({m.discount: discount for m in MARKETS})
