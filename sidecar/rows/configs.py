"""The pipeline's config files, read as they are, become Levels: raw values per column with their origin.

The pipeline's documented precedence, lowest first: global default (default_lsi_config.json) < publisher
(publishers/<name>.json) < imprint (imprints/<name>.json) < tranche (tranches/<name>.json) < book
config (books/<isbn>.json) < the book's own JSON. Each level's file has its own shape; this module knows
which keys of each shape describe the book (and feed a column) and reads nothing else: an imprint's
preferred BISAC/Thema lists, a setup wizard's price_point or page_count are preferences, not facts.
profile.py checks every value and puts the levels together.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, InputError
from ..inputs import load_json, read_config_text
from .columns import (
    ANNOTATION_SUMMARY, AUDIENCE, CARTON_PACK_QUANTITY, COLUMNS, CONTRIBUTOR_ONE, CONTRIBUTOR_ONE_AFFILIATIONS,
    CONTRIBUTOR_ONE_BIO, CONTRIBUTOR_ONE_LOCATION, CONTRIBUTOR_ONE_LOCATION_TYPE_CODE, CONTRIBUTOR_ONE_PRIOR_WORK,
    CONTRIBUTOR_ONE_PROFESSIONAL_POSITION, CONTRIBUTOR_ONE_ROLE, CONVERTED_MARKETS, COVER_JACKET_SUBMISSION_METHOD,
    EDITION_DESCRIPTION, EDITION_NUMBER, FLEX_FIELDS, IMPRINT, KEY, LANGUAGE_CODE, LIGHTNING_SOURCE_ACCOUNT,
    LSI_SPECIAL_CATEGORY, MARKETS, METADATA_CONTACT_DICTIONARY, ORDER_TYPE_ELIGIBILITY, PUBLISHER,
    RENDITION_BOOKTYPE, RETURNABLE, SERIES_NAME, STAMPED_TEXT_CENTER, STAMPED_TEXT_LEFT, STAMPED_TEXT_RIGHT,
    TABLE_OF_CONTENTS, TERRITORIAL_RIGHTS, TEXT_BLOCK_SUBMISSIONMETHOD, US,
)

# The pipeline's key names (in every level's flat sections) and the column each feeds.
CONFIG_KEYS = {
    KEY[LIGHTNING_SOURCE_ACCOUNT]: LIGHTNING_SOURCE_ACCOUNT,
    KEY[METADATA_CONTACT_DICTIONARY]: METADATA_CONTACT_DICTIONARY,
    KEY[RENDITION_BOOKTYPE]: RENDITION_BOOKTYPE,
    KEY[PUBLISHER]: PUBLISHER,
    KEY[IMPRINT]: IMPRINT,
    "cover_submission_method": COVER_JACKET_SUBMISSION_METHOD,
    "text_block_submission_method": TEXT_BLOCK_SUBMISSIONMETHOD,
    KEY[CONTRIBUTOR_ONE]: CONTRIBUTOR_ONE,
    KEY[CONTRIBUTOR_ONE_ROLE]: CONTRIBUTOR_ONE_ROLE,
    KEY[CONTRIBUTOR_ONE_BIO]: CONTRIBUTOR_ONE_BIO,
    KEY[CONTRIBUTOR_ONE_AFFILIATIONS]: CONTRIBUTOR_ONE_AFFILIATIONS,
    KEY[CONTRIBUTOR_ONE_PROFESSIONAL_POSITION]: CONTRIBUTOR_ONE_PROFESSIONAL_POSITION,
    KEY[CONTRIBUTOR_ONE_LOCATION]: CONTRIBUTOR_ONE_LOCATION,
    KEY[CONTRIBUTOR_ONE_LOCATION_TYPE_CODE]: CONTRIBUTOR_ONE_LOCATION_TYPE_CODE,
    KEY[CONTRIBUTOR_ONE_PRIOR_WORK]: CONTRIBUTOR_ONE_PRIOR_WORK,
    KEY[TERRITORIAL_RIGHTS]: TERRITORIAL_RIGHTS,
    KEY[EDITION_NUMBER]: EDITION_NUMBER,
    KEY[EDITION_DESCRIPTION]: EDITION_DESCRIPTION,
    KEY[ORDER_TYPE_ELIGIBILITY]: ORDER_TYPE_ELIGIBILITY,
    "returnability": RETURNABLE,
    KEY[LANGUAGE_CODE]: LANGUAGE_CODE,
    KEY[AUDIENCE]: AUDIENCE,
    KEY[CARTON_PACK_QUANTITY]: CARTON_PACK_QUANTITY,
    KEY[SERIES_NAME]: SERIES_NAME,
    "table_of_contents_template": TABLE_OF_CONTENTS,
    KEY[STAMPED_TEXT_LEFT]: STAMPED_TEXT_LEFT,
    KEY[STAMPED_TEXT_CENTER]: STAMPED_TEXT_CENTER,
    KEY[STAMPED_TEXT_RIGHT]: STAMPED_TEXT_RIGHT,
    "lsi_special_category": LSI_SPECIAL_CATEGORY,
    **{f"lsi_flexfield{n}": column for n, column in enumerate(FLEX_FIELDS, start=1)},
    "default_price": US.price,
    "us_list_price": US.price,
    "list_price_usd": US.price,
    **{f"{m.code.lower()}_list_price": m.price for m in MARKETS if m.code in CONVERTED_MARKETS},
    **{f"{m.code.lower()}_wholesale_discount": m.discount for m in MARKETS if m.code in ("US", *CONVERTED_MARKETS)},
}
LEVELS = ("default", KEY[PUBLISHER], KEY[IMPRINT], "tranche", "book")
# The sections of each level's file that describe books (a level's top-level keys count as a section "").
SECTIONS = {
    "default": ("defaults", "field_overrides"),
    KEY[PUBLISHER]: ("", "default_settings", "pricing_strategy", "distribution_settings"),
    KEY[IMPRINT]: ("", "default_book_settings", "pricing_defaults", "distribution_settings",
                "lsi_specific_settings", "lsi_specific_settings.flex_fields"),
    "tranche": ("",),
    "book": ("",),
}
CONFIG_MAX_DEPTH = 64  # the pipeline's files nest 4 deep; a deeper one is a mistake or an attack
# Keys that name other files rather than describe the book: a tranche's "imprint": "xynapse_traces".
REFERENCES = {"tranche": (KEY[IMPRINT], KEY[PUBLISHER]), "book": (KEY[IMPRINT], KEY[PUBLISHER])}
BISAC_KEYS = ("required_bisac_subject", "tranche_bisac_subject", "bisac_override", "primary_bisac_category")
APPEND_ALIASES = {"annotation_boilerplate": ANNOTATION_SUMMARY}  # append_fields names that are not columns
# A market's territorial_configs entry gives its discount and the factors of its converted price.
TERRITORY_KEYS = ("wholesale_discount_percent", "exchange_rate", "pricing_multiplier", "currency")


@dataclass
class Level:
    """One config file's contribution: raw values (checked later, in profile.py), each with its origin."""

    name: str  # one of LEVELS
    path: Path
    values: list[tuple[str, Any, str]] = field(default_factory=list)  # (column, raw value, key in the file)
    blank: dict[str, str] = field(default_factory=dict)  # column -> the key that blanks it
    append: dict[str, str] = field(default_factory=dict)  # column -> text added after its value
    required_bisac: tuple[str, str] = ("", "")  # the tranche's first BISAC subject (code or name), and its key
    territories: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # market -> its entry
    trim_size: tuple[str, str] = ("", "")  # the trim size and the key that gives it
    imprint_name: str = ""  # an imprint file's own name for the imprint ("Xynapse Traces")
    problems: list[str] = field(default_factory=list)  # keys of the wrong shape, each with file and key

    def where(self, key: str) -> str:
        return f"'{key}' in {self.path}"


@dataclass(frozen=True)
class TreeChoice:
    """Which files of the tree (or single files) make up the levels for one imprint."""

    root: Path | None = None  # the pipeline's configs/ folder
    lsi_config: Path | None = None  # wins over the tree's default_lsi_config.json
    publisher: str | None = None  # a publishers/ file's name, or the publisher's name
    tranche: Path | str | None = None  # a file, or a name in tranches/

    def tranche_file(self) -> Path | None:
        if self.tranche is None or isinstance(self.tranche, Path):
            return self.tranche
        if self.root is None:
            raise ConfigError(f"tranche '{self.tranche}' is a name: set pipeline_configs to find it in tranches/")
        path = self.root / "tranches" / f"{self.tranche}.json"
        if not path.exists():
            raise ConfigError(f"tranche '{self.tranche}': {path} does not exist")
        return path


def read_levels(choice: TreeChoice, imprint: str) -> list[Level]:
    """The levels below the book for a folder's imprint, lowest first (book configs: book_levels())."""
    root = choice.root
    default = choice.lsi_config or (root / "default_lsi_config.json" if root else None)
    tranche_path = choice.tranche_file()
    files: list[tuple[str, Path, dict[str, Any]]] = []
    if default is not None and (choice.lsi_config or os.path.lexists(default)):  # a broken link is an error
        files.append(("default", default, read_json(default)))
    tranche = read_json(tranche_path) if tranche_path else None
    if root is not None:
        names = [choice.publisher, _text(tranche, KEY[PUBLISHER]), _text(files[0][2].get("defaults"), KEY[PUBLISHER])
                 if files else None]
        publisher = _find(root / "publishers", [n for n in names if n], (KEY[PUBLISHER],))
        if publisher:
            files.append((KEY[PUBLISHER], publisher, read_json(publisher)))
        found = _find(root / "imprints", [imprint, _text(tranche, KEY[IMPRINT])], (KEY[IMPRINT], "name"))
        if found:
            files.append((KEY[IMPRINT], found, read_json(found)))
    if tranche_path and tranche is not None:
        files.append(("tranche", tranche_path, tranche))
    return [level_of(name, path, data) for name, path, data in files]


def book_levels(root: Path | None) -> dict[str, Level]:
    """books/<isbn>.json of the tree, by ISBN (the file name's digits). Raises ConfigError naming the file
    or folder that cannot be read, and for two files of one ISBN."""
    folder = root / "books" if root else None
    if folder is None or not os.path.lexists(folder):
        return {}
    levels: dict[str, Level] = {}
    for path in _json_files(folder):
        isbn = re.sub(r"[^0-9]", "", path.stem)
        if len(isbn) != 13:
            raise ConfigError(f"{path}: a book config is named after the book's 13-digit ISBN (books/<isbn>.json)")
        if isbn in levels:
            raise ConfigError(f"{levels[isbn].path} and {path} are both the book config of ISBN {isbn}; "
                              "keep one of them")
        levels[isbn] = level_of("book", path, read_json(path))
    return levels


def level_of(name: str, path: Path, data: Mapping[str, Any]) -> Level:
    level = Level(name, path)
    for section in SECTIONS[name]:
        values = _section(data, section)
        prefix = f"{section}." if section else ""
        for key, raw in values.items():
            if key in REFERENCES.get(name, ()):
                continue
            column = CONFIG_KEYS.get(key, key if key in COLUMNS else None)
            if column and not isinstance(raw, (dict, list)):
                level.values.append((column, raw, prefix + key))
    territories = data.get("territorial_configs")
    if isinstance(territories, dict):
        level.territories = {m: e for m, e in territories.items() if isinstance(e, dict)}
        # As the pipeline reads them: a level's flat US/UK discount beats its territorial one, while the
        # territorial discount of every other market beats the flat one.
        for market in MARKETS:
            raw = level.territories.get(market.code, {}).get("wholesale_discount_percent")
            entry = (market.discount, raw, f"territorial_configs.{market.code}.wholesale_discount_percent")
            if raw is not None:
                level.values.insert(0, entry) if market.code in ("US", "UK") else level.values.append(entry)
    series = data.get("series_info")
    if isinstance(series, dict) and series.get(KEY[SERIES_NAME]):
        level.values.append((SERIES_NAME, series[KEY[SERIES_NAME]], "series_info.series_name"))
    if name in ("tranche", "book"):
        _tranche_rules(level, data)
    for key in ("trim_size", "default_book_settings.trim_size"):
        trim = _text(_section(data, key.rpartition(".")[0]), "trim_size")
        if trim and not level.trim_size[0]:
            level.trim_size = (trim, key)
    if name == KEY[IMPRINT]:
        level.imprint_name = _text(data, KEY[IMPRINT]) or _text(data, "name") or ""
    return level


def _tranche_rules(level: Level, data: Mapping[str, Any]) -> None:
    """field_overrides (column names), append_fields, blank_fields and field_exclusions, a required BISAC."""
    given = data.get("field_overrides")
    overrides: Mapping[str, Any] = given if isinstance(given, dict) else {}
    appended = [n for n in _list(level, data, "append_fields") if isinstance(n, str)]
    for key, raw in overrides.items():
        column = APPEND_ALIASES.get(key) or CONFIG_KEYS.get(key) or key
        if column not in COLUMNS or isinstance(raw, (dict, list)):
            continue
        if key in appended and isinstance(raw, str):
            level.append[column] = raw
        else:
            level.values.append((column, raw, f"field_overrides.{key}"))
    for rule in ("blank_fields", "field_exclusions"):
        for key in _list(level, data, rule):
            blanked = CONFIG_KEYS.get(key, key) if isinstance(key, str) else None
            if blanked is not None and blanked in COLUMNS:
                level.blank[blanked] = rule
    level.required_bisac = next(((data[k].strip(), k) for k in BISAC_KEYS if isinstance(data.get(k), str)
                                 and data[k].strip()), ("", ""))


def read_json(path: Path) -> dict[str, Any]:
    """A config file's object, read with the books' guards (no key twice, no NaN, numbers of at most 4,300
    digits) and nested at most CONFIG_MAX_DEPTH deep. Raises ConfigError naming the file."""
    text = read_config_text(path, "the pipeline's config file")
    try:
        data = load_json(text, "a config file", CONFIG_MAX_DEPTH)
    except InputError as exc:
        raise ConfigError(f"the pipeline's config file {path} cannot be used: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def slug(name: str) -> str:
    """'Xynapse Traces' and 'xynapse_traces' alike: xynapse_traces."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _find(folder: Path, names: list[str | None], name_keys: tuple[str, ...]) -> Path | None:
    """The file in folder named after one of names, else the one whose own name key matches; None when no
    file is. Raises ConfigError when the folder cannot be listed, or when no file matches but one that
    cannot be read might be the one (a level is never skipped without a word)."""
    wanted = [slug(n) for n in names if n]
    if not wanted or not os.path.lexists(folder):
        return None
    files = _json_files(folder)
    for name in wanted:
        for path in files:
            if slug(path.stem) == name:
                return path
    unreadable: list[str] = []
    for path in files:
        try:
            data = read_json(path)
        except ConfigError as exc:  # another publisher's or imprint's broken file, unless none matches
            unreadable.append(str(exc))
            continue
        if any(isinstance(data.get(k), str) and slug(data[k]) in wanted for k in name_keys):
            return path
    if unreadable:
        raise ConfigError(f"no file in {folder} is named after or names {' or '.join(repr(n) for n in names if n)}, "
                          f"and {len(unreadable)} cannot be read, which may be it: {unreadable[0]}")
    return None


def _json_files(folder: Path) -> list[Path]:
    """The *.json entries of a config folder, sorted. Raises ConfigError when it cannot be listed."""
    try:
        with os.scandir(folder) as entries:
            return sorted(folder / e.name for e in entries if e.name.endswith(".json"))
    except OSError as exc:
        raise ConfigError(f"the pipeline's config folder {folder} cannot be read: {exc.strerror or exc}") from None


def _list(level: Level, data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is not None and not isinstance(value, list):
        level.problems.append(f"{level.where(key)}: not a list of column names; not applied")
    return value if isinstance(value, list) else []


def _section(data: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    value: Any = data
    for part in section.split(".") if section else ():
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _text(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None
