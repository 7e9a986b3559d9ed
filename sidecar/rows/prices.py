"""Each market's price and discount for one row: the book's own, else the config levels', else (a market
in its own currency) the US price times the market's factor. Pure; part of conversion (convert.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Mapping

from . import values as v
from .columns import CONVERTED_MARKETS, MARKETS, PAGES, US

MARKET_OF = {m.price: m.code for m in MARKETS}

if TYPE_CHECKING:  # the row being built, and the profile
    from .convert import _Cells
    from .profile import Profile


def fill_prices(c: _Cells, book: Mapping[str, Any], isbn: str) -> None:
    """The book's own price under any of the market's keys (the config levels' names first), else
    books/<isbn>.json's, else (US) the page-count band of lsi.price_by_pages, else the config levels'. A market
    no level prices takes the US price times its factor, ending in lsi.price_ending when one is set, and only
    in lsi.markets when that is set. A price the winning level gives that cannot be read leaves the cell blank
    with an error: never another level's price, nor one converted from the US price, in its place."""
    for market in MARKETS:
        c.pick(market.price, *market.book_keys)
        c.pick(market.discount, f"{market.code.lower()}_wholesale_discount")
    config = c.profile.books.get(isbn)
    from_levels = c.values.get(US.price) is c.defaults.get(US.price) and not (config and US.price in config.defaults)
    if c.profile.price_bands and c.values.get(PAGES, "").isdigit() and from_levels and US.price not in c.unusable:
        pages = int(c.values[PAGES])
        band = next((price for upto, price in c.profile.price_bands if upto is None or pages <= upto), None)
        if band:
            c.values[US.price] = band
    us = c.values.get(US.price)
    if not us:
        return
    markets = c.profile.context.markets
    for price_col, price in market_prices(c.profile, us).items():
        if price_col not in c.unusable and (markets is None or MARKET_OF[price_col] in markets):
            c.values.setdefault(price_col, price)  # a market's own price (the book's or a level's) stays


def market_prices(profile: Profile, us: str) -> dict[str, str]:
    """Every other market's price from the US price, worked out once per profile and US price."""
    known: dict[str, dict[str, str]] = profile.cache.setdefault("market prices", {})
    if us in known:
        return known[us]
    prices = {}
    for market in MARKETS[1:]:
        factor = profile.exchange_rates.get(market.code)
        if factor is None and market.code in CONVERTED_MARKETS:
            continue
        if factor is None or factor == 1:
            prices[market.price] = us
            continue
        amount = Decimal(us) * factor
        ending = profile.price_ending
        prices[market.price] = v.money(amount if ending is None else v.with_ending(amount, ending))
    if len(known) < 10_000:  # books seldom have more than a few prices; a hostile folder cannot grow it
        known[us] = prices
    return prices
