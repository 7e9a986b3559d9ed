"""The pipeline's config levels (configs.py) and the config.yaml 'lsi' section become a Profile.

Levels, lowest first: built-ins < default_lsi_config.json < publisher < imprint < tranche <
books/<isbn>.json; the book's own JSON beats them all (convert.py). Every config value passes the same
rule as a book's value for its column. The highest level that gives a column decides it: a value of it LSI
could not use is reported with its file and key and leaves the cell blank (the level below never fills it
in). The tranche's blank_fields/field_exclusions and append_fields apply last.
"""

from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import ConfigError
from . import values
from .codes import AcsCodes, load_acs_codes
from .columns import (
    COLUMNS, CONTRIBUTOR_ONE_ROLE, CONVERTED_MARKETS, COVER_JACKET_SUBMISSION_METHOD, COVER_PATH_FILENAME,
    ILLUSTRATION_COUNT, IMPRINT, INTERIOR_PATH_FILENAME, JACKET_PATH_FILENAME, KEY, MARKETING_IMAGE, MARKETS,
    METADATA_CONTACT_DICTIONARY, ORDER_TYPE_ELIGIBILITY, PAGES, TERRITORIAL_RIGHTS, TEXT_BLOCK_SUBMISSIONMETHOD,
    TITLE,
)
from .configs import Level, TreeChoice, book_levels, read_levels
from . import lsi_rules as R
from .columns import Problem
from .rules import column_rule, respelled
from .validate import RuleContext
from .text import ANNOTATION_TAGS
from .values import is_blank, number, quoted

# Values LSI needs that are the same for every publisher the pipeline serves (its own defaults).
BUILTIN_DEFAULTS = {
    COVER_JACKET_SUBMISSION_METHOD: "FTP",
    TEXT_BLOCK_SUBMISSIONMETHOD: "FTP",
    TERRITORIAL_RIGHTS: "World",
    CONTRIBUTOR_ONE_ROLE: "A",
    ORDER_TYPE_ELIGIBILITY: "POD",
    ILLUSTRATION_COUNT: "0",
}
DEFAULT_EXCHANGE_RATES = {"UK": 0.78, "EU": 0.85, "AU": 1.50, "CA": 1.35}
# How a market's price follows from the US price and its territorial_configs entry.
MARKET_PRICE_RULES = ("multiplier", "rate", "rate_x_multiplier")
# The publisher's own naming of uploaded files, as in the real submission (9781608883936_ai_gover_interior.pdf).
# A tranche's file_path_templates say where the pipeline writes its files locally, not what LSI receives.
DEFAULT_FILE_NAMES = {INTERIOR_PATH_FILENAME: "{isbn}_{slug8}_interior.pdf",
                      COVER_PATH_FILENAME: "{isbn}_{slug8}_cover.pdf"}
# The names a file name template may use (convert.py fills them in for each book).
TEMPLATE_FIELDS = ("isbn", KEY[TITLE], "title_slug", "slug8", KEY[IMPRINT], "author")
FILE_NAME_COLUMNS = {
    "interior": INTERIOR_PATH_FILENAME,
    "cover": COVER_PATH_FILENAME,
    "jacket": JACKET_PATH_FILENAME,
    KEY[MARKETING_IMAGE]: MARKETING_IMAGE,
}


@dataclass(frozen=True)
class BookConfig:
    """books/<isbn>.json: checked values that beat every other config level for that one book."""

    defaults: Mapping[str, str]
    origins: Mapping[str, str]
    notes: Mapping[str, Problem] = field(default_factory=dict)  # column -> what its value's level got wrong
    blank: Mapping[str, str] = field(default_factory=dict)  # its blank_fields / field_exclusions, as Profile.blank


@dataclass(frozen=True)
class Profile:
    """Everything conversion needs besides the book."""

    defaults: Mapping[str, str] = field(default_factory=dict)  # column -> the winning level's checked value
    origins: Mapping[str, str] = field(default_factory=dict)  # column -> the config key that gave it
    ranks: Mapping[str, int] = field(default_factory=dict)  # column -> the level that gave it (0: built in)
    # column -> a problem of the winning level's value: refused (the cell is blank: UNUSABLE), or another
    # spelling of a closed list's value (SPELLING); carried by every row whose cell the levels decide
    notes: Mapping[str, Problem] = field(default_factory=dict)
    blank: Mapping[str, str] = field(default_factory=dict)  # column -> the rule that blanks it, and its file
    append: Mapping[str, str] = field(default_factory=dict)  # column -> text added after the value
    required_bisac: tuple[str, str] = ("", "")  # a level's first BISAC subject (code or name), and its origin
    exchange_rates: Mapping[str, Decimal] = field(default_factory=dict)  # market -> factor from the US price
    price_ending: Decimal | None = None  # converted prices end in these cents (.99), rounded up
    price_bands: tuple[tuple[int | None, str], ...] = ()  # (up to so many pages or None, US price)
    books: Mapping[str, BookConfig] = field(default_factory=dict)  # ISBN -> books/<isbn>.json
    trim_size: tuple[str, str, int] = ("", "", 0)  # the layered trim size ("6x9"), its origin and level
    config_problems: tuple[str, ...] = ()  # config values refused at load, each with file and key
    levels: tuple[str, ...] = ()  # the config files read, lowest level first ("publisher /path/x.json")
    file_names: Mapping[str, str] = field(default_factory=dict)  # column -> name template
    imprint: str = ""  # the sidecar's imprint name (folder form), for file name templates
    annotation_tags: tuple[str, ...] = ANNOTATION_TAGS  # the HTML tags Annotation / Summary keeps
    pub_date_format: str = "iso"  # "iso" (YYYY-MM-DD) or "m/d/yy"
    date_order: str | None = None  # "mdy" or "dmy": how to read 10/03/2026; None: refuse it as ambiguous
    language_code_case: str = "lower"
    subtitle_separator: str = ": "  # between a title and its subtitle in the Title cell
    context: RuleContext = RuleContext()  # what the cell rules know besides the row
    rules: Mapping[str, Callable[[Any], str]] = field(default_factory=dict, compare=False, repr=False)
    # Work done once per profile instead of once per book (convert.py): finished default cells, market prices.
    cache: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def codes(self) -> AcsCodes | None:
        return self.context.codes

    def rule(self, column: str) -> Callable[[Any], str]:
        return self.rules.get(column) or column_rule(column, self.codes, self.language_code_case,
                                                     self.pub_date_format, self.date_order)


EXCLUDED = "excludes it"  # in the reason of a column a tranche's blank_fields/field_exclusions blanks


def load_profiles(choice: TreeChoice, acs_codes: Path | None, lsi: Mapping[str, Any], where: str,
                  imprints: Sequence[str]) -> dict[str, Profile]:
    """Each imprint's profile from the pipeline's config files and the config.yaml 'lsi' section; the code
    tables and books/ are read once for all of them."""
    codes = load_acs_codes(acs_codes) if acs_codes is not None else None
    books = book_levels(choice.root)
    return {imprint: build_profile(read_levels(choice, imprint), lsi, where, codes=codes, imprint=imprint,
                                   books=books) for imprint in dict.fromkeys(imprints)}


def build_profile(levels: list[Level], lsi: Mapping[str, Any], where: str = "config", codes: AcsCodes | None = None,
                  imprint: str = "", books: Mapping[str, Level] | None = None) -> Profile:
    """Put the levels together, lowest first: each value is checked like a book's. The highest level that gives
    a column decides it: a value of it that LSI would refuse leaves the cell blank with an error naming its
    file and key (never the level below's value); another spelling of a closed list's value is read as meant,
    with a warning."""
    base = Profile(imprint=imprint, pub_date_format=lsi.get("pub_date_format", "iso"),
                   date_order=lsi.get("date_order"), language_code_case=lsi.get("language_code_case", "lower"),
                   subtitle_separator=lsi.get("subtitle_separator", ": "), context=RuleContext(codes=codes))
    rules = {column: base.rule(column) for column in COLUMNS}
    problems: list[str] = [problem for level in levels for problem in level.problems]
    contact = _contact(lsi.get("metadata_contact"), where, problems)
    layers = [("", 0, [(c, v, "built in") for c, v in BUILTIN_DEFAULTS.items()]),
              (where, 0, [(METADATA_CONTACT_DICTIONARY, contact, "lsi.metadata_contact.name")] if contact else [])]
    checked = _checked(layers + [(lv.path, rank, lv.values) for rank, lv in enumerate(levels, start=1)], rules, problems)
    book_configs = {}
    for isbn, level in (books or {}).items():
        found = _checked([(level.path, len(levels) + 1, level.values)], rules, problems)
        book_configs[isbn] = BookConfig(found.defaults, found.origins, found.notes,
                                        {c: f"'{rule}' in {level.path}" for c, rule in level.blank.items()})
    file_names = {**DEFAULT_FILE_NAMES, **{
        FILE_NAME_COLUMNS[k]: _template(v, f"lsi.file_names.{k}", where)
        for k, v in (lsi.get("file_names") or {}).items() if _known(k, FILE_NAME_COLUMNS, "lsi.file_names", where)}}
    imprint_level = next((lv for lv in levels if lv.name == KEY[IMPRINT]), None)
    factors, refused = _market_factors(levels, lsi, where, problems)  # before config_problems: it adds to them
    return dataclasses.replace(
        base,
        defaults=checked.defaults,
        origins=checked.origins,
        ranks=checked.ranks,
        notes={**refused, **checked.notes},
        blank={c: f"'{rule}' in {lv.path}" for lv in levels for c, rule in lv.blank.items()},
        append={c: text for lv in levels for c, text in lv.append.items()},
        required_bisac=next(((lv.required_bisac[0], lv.where(lv.required_bisac[1])) for lv in reversed(levels)
                             if lv.required_bisac[0]), ("", "")),
        exchange_rates=factors,
        price_ending=_ending(lsi.get("price_ending"), where),
        price_bands=_bands(lsi.get("price_by_pages"), imprint, where),
        books=book_configs,
        trim_size=next(((lv.trim_size[0], lv.where(lv.trim_size[1]), rank) for rank, lv in
                        reversed(list(enumerate(levels, start=1))) if lv.trim_size[0]), ("", "", 0)),
        config_problems=tuple(problems),
        levels=tuple(f"{lv.name} {lv.path}" for lv in levels) + ((f"{len(book_configs)} in books/",) if books else ()),
        file_names=file_names,
        annotation_tags=_tags(lsi.get("annotation_tags"), where),
        context=rule_context(lsi, where, codes,
                             (imprint_level.imprint_name, str(imprint_level.path)) if imprint_level else ("", "")),
        rules=rules,
    )


@dataclass
class _Layered:
    defaults: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    ranks: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Problem] = field(default_factory=dict)


def _checked(layers: list[tuple[Any, int, list[tuple[str, Any, str]]]], rules: Mapping[str, Callable[[Any], str]],
             problems: list[str]) -> _Layered:
    """Layered values, each through its column's rule, the last given winning. A refused one blanks its column
    (the layers below do not fill it in) and is reported; a blank or null one is not given."""
    found = _Layered()
    for path, rank, entries in layers:
        for column, raw, key in entries:
            if is_blank(raw):
                continue
            origin = f"'{key}' in {path}" if path else key
            found.defaults.pop(column, None)
            found.notes.pop(column, None)
            found.origins[column], found.ranks[column] = origin, rank
            try:
                value = rules[column](raw)
            except ValueError as exc:
                problems.append(f"{origin}: {quoted(raw)} for {column}: {exc}; the cell is left blank")
                found.notes[column] = R.UNUSABLE.at(column, f"{origin} gives {quoted(raw)}: {exc}; the cell is left "
                                                            "blank (a lower level's value is not used in its place)")
                continue
            if respelled(column, raw, value):
                problems.append(f"{origin}: {quoted(raw)} for {column} is read as '{value}' (LSI's spelling)")
                found.notes[column] = R.SPELLING.at(column, f"{origin} gives {quoted(raw)}: read as '{value}', "
                                                            "LSI's spelling")
            if value:
                found.defaults[column] = value
    return found


def rule_context(lsi: Mapping[str, Any], where: str, codes: AcsCodes | None,
                 imprint_name: tuple[str, str]) -> RuleContext:
    """The cell rules' facts from config.yaml's lsi section: names registered with LSI, markets with an
    agreement, the discount range."""
    markets = lsi.get("markets")
    known = {m.code for m in MARKETS}
    if markets is not None and not set(markets) <= known:
        raise ConfigError(f"lsi.markets in {where}: {quoted(sorted(set(markets) - known))} not among LSI's markets "
                          f"({', '.join(m.code for m in MARKETS)})")
    return RuleContext(codes=codes, imprint_name=imprint_name,
                       registered_imprints=tuple(lsi.get("registered_imprints") or ()),
                       registered_publishers=tuple(lsi.get("registered_publishers") or ()),
                       markets=frozenset(markets) if markets is not None else None,
                       discount_range=_discount_range(lsi.get("discount_range"), known, where))


def _discount_range(value: Any, markets: set[str], where: str) -> dict[str, tuple[Decimal, Decimal]]:
    """lsi.discount_range: [low, high] for every market, or a mapping market -> [low, high] ('*': the others)."""
    if value is None:
        return {}
    ranges = value if isinstance(value, dict) else {"*": value}
    found = {}
    for market, bounds in ranges.items():
        try:
            low, high = (values.number(b, "a percentage") for b in bounds)
        except (TypeError, ValueError):
            low = high = Decimal(-1)
        if market not in markets | {"*"} or not 0 <= low <= high <= 100:
            raise ConfigError(f"lsi.discount_range in {where}: {quoted(market)}: {quoted(bounds)} is not [low, high] "
                              "percentages of one of LSI's markets (or '*')")
        found[market] = (low, high)
    return found


def _contact(value: Any, where: str, problems: list[str]) -> str:
    """lsi.metadata_contact: LSI's sheet asks for a name, an e-mail and a telephone (cells G3-G5 of the ACS
    sheet's header); the Metadata Contact Dictionary column holds the name."""
    if value is None:
        return ""
    if not isinstance(value, dict) or set(value) - {"name", "email", "telephone"} or \
            not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"lsi.metadata_contact in {where}: name, email and telephone, as text")
    missing = [k for k in ("email", "telephone") if not (value.get(k) or "").strip()]
    if missing:
        problems.append(f"lsi.metadata_contact in {where} has no {' or '.join(missing)}; LSI's ACS sheet asks for "
                        "the metadata contact's name, e-mail and telephone")
    return value.get("name") or ""


def _market_factors(levels: list[Level], lsi: Mapping[str, Any], where: str,
                    problems: list[str]) -> tuple[dict[str, Decimal], dict[str, Problem]]:
    """Each market's price factor from the US price: from the highest level's territorial_configs entry
    as lsi.market_price says (its pricing_multiplier by default), over built-in rates; lsi.exchange_rates
    in config.yaml wins over both. A factor the deciding level gives that cannot be used leaves the market
    without a derived price: the problem is returned under the market's price column."""
    rule = lsi.get("market_price", "multiplier")
    by_code = {m.code: m for m in MARKETS[1:]}
    factors = {m: Decimal(str(r)) for m, r in DEFAULT_EXCHANGE_RATES.items()}
    refused: dict[str, Problem] = {}
    for level in levels:
        for market, entry in level.territories.items():
            if market not in by_code:
                continue
            rate, multiplier = (_factor(entry, key, level, market, problems)
                                for key in ("exchange_rate", "pricing_multiplier"))
            first, second = (rate, multiplier) if rule == "rate" else (multiplier, rate)
            chosen = first if first is not None else second
            if rule == "rate_x_multiplier" and isinstance(rate, Decimal) and isinstance(multiplier, Decimal):
                chosen = rate * multiplier
            if isinstance(chosen, Problem):
                factors.pop(market, None)
                refused[by_code[market].price] = chosen
            elif chosen is not None:
                factors[market] = chosen
                refused.pop(by_code[market].price, None)
    given = _rates(lsi.get("exchange_rates"), where)
    return {**factors, **given}, {c: p for c, p in refused.items() if not any(by_code[m].price == c for m in given)}


def _factor(entry: Mapping[str, Any], key: str, level: Level, market: str,
            problems: list[str]) -> Decimal | Problem | None:
    """A market's factor (None: not given); one that cannot be used is the problem to report on the row."""
    raw = entry.get(key)
    if is_blank(raw):
        return None
    try:
        factor = number(raw, "a number")
    except ValueError:
        factor = Decimal(0)
    if not 0 < factor < 10_000:
        origin = level.where(f"territorial_configs.{market}.{key}")
        problems.append(f"{origin}: {quoted(raw)} is not a factor above zero; no {market} price is derived")
        return R.UNUSABLE.at(next(m.price for m in MARKETS if m.code == market),
                             f"{origin} gives {quoted(raw)}: not a factor above zero; no {market} price is derived "
                             "from the US price (a lower level's factor is not used in its place)")
    return factor


def _rates(value: Any, where: str) -> dict[str, Decimal]:
    rates = {}
    for market, rate in (value or {}).items():
        if market not in CONVERTED_MARKETS:
            raise ConfigError(f"lsi.exchange_rates in {where}: '{market}' is not UK, EU, AU or CA")
        try:
            rates[market] = number(rate, "a number")
        except ValueError:
            rates[market] = Decimal(0)
        if not 0 < rates[market] < 10_000:
            raise ConfigError(f"lsi.exchange_rates.{market} in {where}: '{rate}' is not a rate above zero "
                              "(units of the market's currency per US dollar)")
    return rates


def _ending(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    try:
        ending = number(value, "cents")
    except ValueError:
        ending = Decimal(-1)
    if not 0 <= ending < 1 or ending != ending.quantize(Decimal("0.01")):
        raise ConfigError(f"lsi.price_ending in {where}: {quoted(value)} is not cents such as .99 or .95")
    return ending.quantize(Decimal("0.01"))


def _bands(value: Any, imprint: str, where: str) -> tuple[tuple[int | None, str], ...]:
    """lsi.price_by_pages: a list of {pages: N, price: P} (the last may omit pages), for every imprint or,
    as a mapping, per imprint name ('*' for the others)."""
    key = "lsi.price_by_pages"
    if isinstance(value, dict):
        value = value.get(imprint, value.get("*"))
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key} in {where}: a list of {{pages: N, price: P}} bands, or a mapping of imprint to one")
    bands: list[tuple[int | None, str]] = []
    for n, band in enumerate(value):
        if not isinstance(band, dict) or set(band) - {KEY[PAGES], "price"} or "price" not in band:
            raise ConfigError(f"{key}[{n}] in {where}: {quoted(band)} is not {{pages: N, price: P}}")
        try:
            price = values.price(band["price"])
            pages = int(values.positive_int(band[KEY[PAGES]])) if band.get(KEY[PAGES]) is not None else None
        except ValueError as exc:
            raise ConfigError(f"{key}[{n}] in {where}: {exc}") from None
        last = bands[-1][0] if bands else 0
        if last is None or (pages is not None and pages <= last):
            raise ConfigError(f"{key}[{n}] in {where}: bands go from the fewest pages up; only the last omits pages")
        bands.append((pages, price))
    return tuple(bands)


def _tags(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ANNOTATION_TAGS
    if not isinstance(value, list) or not all(isinstance(t, str) and t in ANNOTATION_TAGS for t in value):
        raise ConfigError(f"lsi.annotation_tags in {where}: {quoted(value)} is not a list of formatting tags "
                          f"({', '.join(ANNOTATION_TAGS)})")
    return tuple(dict.fromkeys(value))


def _template(template: Any, key: str, where: str) -> str:
    """A file name template: text with {field} names only (no format specs, which could ask for any width)."""
    text = str(template or "")
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigError(f"{key} in {where}: '{text}' is not a template ({exc})") from None
    for _, name, spec, conversion in parts:
        if name is not None and (spec or conversion or name not in TEMPLATE_FIELDS):
            raise ConfigError(f"{key} in {where}: '{text}' may hold only the names "
                              f"{', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}, without format specs")
    return text


def _known(key: str, allowed: Mapping[str, Any], section: str, where: str) -> bool:
    if key not in allowed:
        raise ConfigError(f"unknown key '{section}.{key}' in {where} (allowed: {', '.join(allowed)})")
    return True
