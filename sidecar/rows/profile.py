"""The pipeline's own LSI configuration files become a Profile: the layered defaults of every column.

Layers, lowest first: built-ins < the pipeline's default LSI config (--lsi-config) < the tranche (--tranche).
The book's own values beat them all (convert.py). The files are read once, as the pipeline wrote them.
"""

from __future__ import annotations

import dataclasses
import json
import string
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from ..inputs import read_config_text
from .codes import AcsCodes, load_acs_codes
from .columns import COLUMNS, MARKETS, Problem
from .values import number

# Values LSI needs that are the same for every publisher the pipeline serves (its own defaults).
BUILTIN_DEFAULTS = {
    "Cover/Jacket Submission Method": "FTP",
    "Text Block SubmissionMethod": "FTP",
    "Territorial Rights": "World",
    "Contributor One Role": "A",
    "Order Type Eligibility": "POD",
    "# Illustrations": "0",
}

# The pipeline's config keys (its 'defaults' and tranche top-level keys) and the column each feeds.
# Keys it carries that would put invented values in a row (pages, pub_date, binding...) are not read.
CONFIG_KEYS = {
    "lightning_source_account": "Lightning Source Account #",
    "metadata_contact_dictionary": "Metadata Contact Dictionary",
    "rendition_booktype": "Rendition /Booktype",
    "publisher": "Publisher",
    "imprint": "Imprint",
    "cover_submission_method": "Cover/Jacket Submission Method",
    "text_block_submission_method": "Text Block SubmissionMethod",
    "contributor_one": "Contributor One",
    "contributor_one_role": "Contributor One Role",
    "contributor_one_bio": "Contributor One BIO",
    "contributor_one_affiliations": "Contributor One Affiliations",
    "contributor_one_professional_position": "Contributor One Professional Position",
    "contributor_one_location": "Contributor One Location",
    "contributor_one_location_type_code": "Contributor One Location Type Code",
    "contributor_one_prior_work": "Contributor One Prior Work",
    "territorial_rights": "Territorial Rights",
    "edition_number": "Edition Number",
    "edition_description": "Edition Description",
    "order_type_eligibility": "Order Type Eligibility",
    "returnability": "Returnable",
    "language_code": "Language Code",
    "audience": "Audience",
    "carton_pack_quantity": "Carton Pack Quantity",
    "series_name": "Series Name",
    "table_of_contents_template": "Table of Contents",
    "stamped_text_left": "Stamped Text LEFT",
    "stamped_text_center": "Stamped Text CENTER",
    "stamped_text_right": "Stamped Text RIGHT",
    "list_price_usd": "US Suggested List Price",
    **{f"{m.lower()}_list_price": price for m, price, _, _ in MARKETS if m in ("US", "UK", "EU", "AU", "CA")},
    **{f"{m.lower()}_wholesale_discount": discount for m, _, discount, _ in MARKETS
       if m in ("US", "UK", "EU", "AU", "CA")},
}
TRANCHE_BISAC_KEYS = ("required_bisac_subject", "tranche_bisac_subject", "bisac_override", "primary_bisac_category")
# Names in a tranche's append_fields that are not column names.
APPEND_ALIASES = {"annotation_boilerplate": "Annotation / Summary"}
# The publisher's own naming of uploaded files, as in the real submission (9781608883936_ai_gover_interior.pdf).
# A tranche's file_path_templates say where the pipeline writes its files locally, not what LSI receives.
DEFAULT_FILE_NAMES = {"Interior Path / Filename": "{isbn}_{slug8}_interior.pdf",
                      "Cover Path / Filename": "{isbn}_{slug8}_cover.pdf"}
# The names a file name template may use (convert.py fills them in for each book).
TEMPLATE_FIELDS = ("isbn", "title", "title_slug", "slug8", "imprint", "author")
FILE_NAME_COLUMNS = {
    "interior": "Interior Path / Filename",
    "cover": "Cover Path / Filename",
    "jacket": "Jacket Path / Filename",
    "marketing_image": "Marketing Image",
}


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
    codes: AcsCodes | None = None
    # Each column's default, normalised once per profile rather than once per book (convert.py).
    normalised: dict[str, tuple[str, Problem | None]] = field(default_factory=dict, init=False, compare=False,
                                                              repr=False)



_CONFIG_KEY = {column: key for key, column in CONFIG_KEYS.items()}


def what_fixes(column: str) -> str:
    """Where a column's value comes from, so that a person knows what to change."""
    key = _CONFIG_KEY.get(column)
    where = f" or '{key}' in the pipeline's LSI config or tranche" if key else ""
    return f"set it in the book's JSON{where}; the sidecar then writes the row again"


def load_profile(lsi_config: Path | None, tranche: Path | None, acs_codes: Path | None,
                 lsi: Mapping[str, Any], where: str) -> Profile:
    """The profile from the pipeline's config files (each optional) and the config.yaml 'lsi' section."""
    profile = build_profile(_read_json(lsi_config), _read_json(tranche), lsi, where)
    if acs_codes is None:
        return profile
    return dataclasses.replace(profile, codes=load_acs_codes(acs_codes))


def build_profile(lsi_config: Mapping[str, Any] | None, tranche: Mapping[str, Any] | None,
                  lsi: Mapping[str, Any], where: str = "config") -> Profile:
    defaults: dict[str, str] = dict(BUILTIN_DEFAULTS)
    if lsi_config:
        _layer(defaults, lsi_config.get("defaults"))
        territorial = lsi_config.get("territorial_configs") or {}
        for market, _, discount_col, _ in MARKETS:
            # The pipeline reads territorial discounts for the mode-2 markets only (not US or UK).
            entry = territorial.get(market)
            if market not in ("US", "UK") and isinstance(entry, dict) and entry.get("wholesale_discount_percent"):
                defaults[discount_col] = str(entry["wholesale_discount_percent"])
        _layer(defaults, lsi_config.get("field_overrides"))

    file_names = {**DEFAULT_FILE_NAMES, **{
        FILE_NAME_COLUMNS[k]: _template(v, f"lsi.file_names.{k}", where)
        for k, v in (lsi.get("file_names") or {}).items() if _known(k, FILE_NAME_COLUMNS, "lsi.file_names", where)}}
    blank: set[str] = set()
    append: dict[str, str] = {}
    required_bisac = ""
    if tranche:
        _layer(defaults, tranche)
        series = tranche.get("series_info")
        if isinstance(series, dict) and series.get("series_name"):
            defaults["Series Name"] = str(series["series_name"])
        overrides = dict(tranche.get("field_overrides") or {})
        for name in tranche.get("append_fields") or []:
            column = APPEND_ALIASES.get(name) or CONFIG_KEYS.get(name) or name
            if column in COLUMNS and isinstance(overrides.get(name), str):
                append[column] = overrides.pop(name)
        _layer(defaults, overrides)
        for name in [*(tranche.get("blank_fields") or []), *(tranche.get("field_exclusions") or [])]:
            blank.add(CONFIG_KEYS.get(name, name))
        required_bisac = next((str(tranche[k]) for k in TRANCHE_BISAC_KEYS if tranche.get(k)), "")

    return Profile(
        defaults=defaults,
        blank=frozenset(blank),
        append=append,
        required_bisac=required_bisac,
        exchange_rates=_rates(lsi.get("exchange_rates", {"UK": 0.78, "EU": 0.85, "AU": 1.50, "CA": 1.35}), where),
        file_names=file_names,
        pub_date_format=lsi.get("pub_date_format", "iso"),
        language_code_case=lsi.get("language_code_case", "lower"),
    )


def _layer(defaults: dict[str, str], values: Any) -> None:
    """Put a config section's values over defaults: keys are the pipeline's names or exact column names."""
    if not isinstance(values, dict):
        return
    for key, value in values.items():
        column = CONFIG_KEYS.get(key, key if key in COLUMNS else None)
        if column and isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
            defaults[column] = str(value)


def _rates(value: Any, where: str) -> dict[str, Decimal]:
    rates = {}
    for market, rate in (value or {}).items():
        if market not in ("UK", "EU", "AU", "CA"):
            raise ConfigError(f"lsi.exchange_rates in {where}: '{market}' is not UK, EU, AU or CA")
        try:
            rates[market] = number(rate, "a number")
        except ValueError:
            rates[market] = Decimal(0)
        if not 0 < rates[market] < 10_000:
            raise ConfigError(f"lsi.exchange_rates.{market} in {where}: '{rate}' is not a rate above zero "
                              "(units of the market's currency per US dollar)")
    return rates


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




def _read_json(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    text = read_config_text(path, "the pipeline's config file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data

