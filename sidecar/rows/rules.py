"""Which rule turns a raw value, a book's or a config level's alike, into each column's text. Pure."""

from __future__ import annotations

from typing import Any, Callable

from .codes import AcsCodes
from .columns import MARKETS
from .text import keywords, short_description
from .values import (account, age, as_text, audience, count, digits, discount, language, location_type,
                     positive_int, price, rendition, returnable, role, submission_method, to_date)


def column_rule(column: str, codes: AcsCodes | None, language_case: str, date_style: str) -> Callable[[Any], str]:
    """The rule that turns a raw value, a book's or a config level's alike, into one column's text."""
    by_codes: dict[str, Callable[[Any], str]] = {
        "Rendition /Booktype": lambda x: rendition(x, codes),
        "Language Code": lambda x: language(x, codes, language_case),
        "Audience": lambda x: audience(x, codes),
        "Pub Date": lambda x: to_date(x, date_style),
        "Street Date": lambda x: to_date(x, date_style),
        **{f"Contributor {n} Role": lambda x: role(x, codes) for n in ("One", "Two", "Three")},
    }
    return by_codes.get(column) or _RULES.get(column) or as_text


_RULES: dict[str, Callable[[Any], str]] = {
    "Lightning Source Account #": account,
    "Parent ISBN": digits,
    "Cover/Jacket Submission Method": submission_method,
    "Text Block SubmissionMethod": submission_method,
    "Pages": positive_int, "Edition Number": positive_int, "# in Series": positive_int,
    "Carton Pack Quantity": positive_int,
    "Returnable": returnable,
    "Keywords": keywords,
    "Short Description": short_description,
    "# Illustrations": count,
    "Min Age": age, "Max Age": age,
    "Contributor One Location Type Code": location_type,
}
_RULES.update({price_col: price for _, price_col, _, _ in MARKETS})
_RULES.update({discount_col: discount for _, _, discount_col, _ in MARKETS})
