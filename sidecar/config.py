"""Settings: flags > SIDECAR_* environment > config.yaml > defaults, and the pipeline's LSI configs as a Profile.

Column defaults are layered, lowest first: built-ins < the pipeline's default LSI config (--lsi-config) <
the tranche (--tranche). The book's own values beat them all (convert.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

import yaml

from .codes import load_acs_codes
from .columns import COLUMNS, Dialect
from .convert import MARKETS, Profile
from .errors import ConfigError

DEFAULT_IGNORE = (".*", "*~", "*.tmp", "*.part", "*.swp", "*_lsi_metadata.json", "*_with_mnemonics.json")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")

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
FILE_NAME_COLUMNS = {
    "interior": "Interior Path / Filename",
    "cover": "Cover Path / Filename",
    "jacket": "Jacket Path / Filename",
    "marketing_image": "Marketing Image",
}

_SCHEMA: dict[str, Any] = {
    "watch": list, "imprint": str, "checkpoint_dir": str, "state_dir": str,
    "lsi_config": str, "tranche": str, "acs_codes": str, "log_level": str, "log_format": str,
    "poll_seconds": (int, float), "rescan_seconds": (int, float), "metrics_file": str, "exports": dict,
    "log_file": str,
    "books": {"ignore": list, "max_bytes": int, "strict": bool, "on_rewrite": str},
    "batches": {"start_marker": str, "done_marker": str, "rotate": str},
    "checkpoint": {"bom": bool, "line_terminator": str, "rows_per_sync": int},
    "lsi": {"pub_date_format": str, "language_code_case": str, "neutralise_formulas": bool,
            "exchange_rates": dict, "file_names": dict},
}
_CHOICES = {
    ("log_format",): ("text", "json"),
    ("books", "on_rewrite"): ("replace", "append", "ignore"),
    ("batches", "rotate"): ("never", "daily"),
    ("checkpoint", "line_terminator"): ("crlf", "lf"),
    ("lsi", "pub_date_format"): ("iso", "m/d/yy"),
    ("lsi", "language_code_case"): ("lower", "upper"),
}


@dataclass(frozen=True)
class Folder:
    path: Path
    imprint: str


@dataclass(frozen=True)
class Settings:
    folders: tuple[Folder, ...]  # watched and checkpointed
    checkpoint_dir: Path
    state_dir: Path
    profile: Profile
    dialect: Dialect = Dialect()
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    max_bytes: int = 16 * 1024 * 1024
    strict: bool = False
    on_rewrite: str = "replace"
    rows_per_sync: int = 256
    log_level: str = "INFO"
    log_format: str = "text"
    poll_seconds: float | None = None  # None: inotify; a number: poll every so many seconds (NFS, SMB)
    rescan_seconds: float = 60.0
    metrics_file: Path | None = None
    exports: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # export profiles by name
    start_marker: str = ".batch-start"  # dropped in a watched folder: start a new checkpoint
    done_marker: str = ".batch-done"  # dropped in a watched folder: finalize the checkpoint
    rotate: str = "never"  # or "daily": a new checkpoint with the first book of each day
    log_file: Path | None = None
    lsi_config: Path | None = None
    tranche: Path | None = None
    disabled_folders: tuple[Path, ...] = ()  # listed with checkpoint: false
    config_file: Path | None = None

    @property
    def requests_dir(self) -> Path:
        """Where `sidecar rotate|finalize` leave requests for the service that holds the lock."""
        return self.state_dir / "requests"

    def profile_for(self, folder: Folder) -> Profile:
        return dataclasses.replace(self.profile, imprint=folder.imprint)


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ,
                  need_watch: bool = True) -> Settings:
    """Merge the sources of settings. flags holds the CLI's values (None where not given)."""
    config_file = _config_path(flags.get("config") or environ.get("SIDECAR_CONFIG"))
    raw = _read_yaml(config_file) if config_file else {}
    base = config_file.parent if config_file else Path.cwd()

    def setting(key: str) -> tuple[Any, Path]:
        """A top-level setting and the folder its relative paths resolve against."""
        if flags.get(key) not in (None, []):
            return flags[key], Path.cwd()
        env = environ.get(f"SIDECAR_{key.upper()}")
        if env:
            return (env.split(os.pathsep) if key == "watch" else env), Path.cwd()
        return raw.get(key), base

    def path(key: str, default: str | None = None) -> Path | None:
        value, root = setting(key)
        if value is None:
            return (base / default).resolve() if default else None
        return (root / os.path.expanduser(value)).resolve()

    watch, watch_root = setting("watch")
    imprint, _ = setting("imprint")
    folders: list[Folder] = []
    disabled: list[Path] = []
    for entry in watch or []:
        spec = _watch_entry(entry, config_file)
        folder_path = (watch_root / os.path.expanduser(spec["path"])).resolve()
        if not spec.get("checkpoint", True):
            disabled.append(folder_path)
            continue
        name = spec.get("imprint") or imprint
        folders.append(Folder(folder_path, _safe_imprint(name) if name else derive_imprint(Path(spec["path"]))))
    if not folders and need_watch:
        raise ConfigError("nothing to watch: give --watch DIR, SIDECAR_WATCH, or 'watch:' in the config file")
    checkpoint_dir = path("checkpoint_dir", "data")
    assert checkpoint_dir is not None
    state_dir = path("state_dir") or checkpoint_dir / "state"
    for folder in folders:
        for name, own in (("checkpoint_dir", checkpoint_dir), ("state_dir", state_dir)):
            if own == folder.path or folder.path in own.parents:
                raise ConfigError(f"{name} {own} is inside the watched folder {folder.path}; "
                                  "the sidecar writes nothing into a watched folder")

    log_level = str(setting("log_level")[0] or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"log level '{log_level}' is not one of {', '.join(LOG_LEVELS)}")
    log_format = setting("log_format")[0] or "text"
    if log_format not in ("text", "json"):
        raise ConfigError(f"log format '{log_format}' is not 'text' or 'json'")

    def seconds(key: str, default: float | None) -> float | None:
        value, _ = setting(key)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a number of seconds, not {value!r}") from None
        if number <= 0:
            raise ConfigError(f"{key} must be above zero, not {value!r}")
        return number

    books, ckpt, lsi, batches = (_present(raw.get(k)) for k in ("books", "checkpoint", "lsi", "batches"))
    lsi_config, tranche = path("lsi_config"), path("tranche")
    profile = build_profile(
        lsi_config=_read_json(lsi_config),
        tranche=_read_json(tranche),
        lsi=lsi,
        where=str(config_file or "the defaults"),
    )
    acs_codes = path("acs_codes")
    if acs_codes:
        profile = dataclasses.replace(profile, codes=load_acs_codes(acs_codes))
    return Settings(
        folders=tuple(folders),
        disabled_folders=tuple(disabled),
        checkpoint_dir=checkpoint_dir,
        state_dir=state_dir,
        profile=profile,
        dialect=Dialect(bom=ckpt.get("bom", True),
                        line_terminator="\n" if ckpt.get("line_terminator") == "lf" else "\r\n"),
        ignore=tuple(str(p) for p in books.get("ignore", DEFAULT_IGNORE)),
        max_bytes=_positive(books.get("max_bytes", 16 * 1024 * 1024), "books.max_bytes", config_file),
        strict=books.get("strict", False),
        on_rewrite=books.get("on_rewrite", "replace"),
        rows_per_sync=_positive(ckpt.get("rows_per_sync", 256), "checkpoint.rows_per_sync", config_file),
        log_level=log_level,
        log_format=log_format,
        poll_seconds=seconds("poll_seconds", None),
        rescan_seconds=seconds("rescan_seconds", 60.0) or 60.0,
        metrics_file=path("metrics_file"),
        exports=raw.get("exports") or {},
        start_marker=batches.get("start_marker", ".batch-start"),
        done_marker=batches.get("done_marker", ".batch-done"),
        rotate=batches.get("rotate", "never"),
        log_file=(base / raw["log_file"]).resolve() if raw.get("log_file") else None,
        lsi_config=lsi_config,
        tranche=tranche,
        config_file=config_file,
    )


def _present(section: Any) -> dict[str, Any]:
    """A config section without its keys left empty (an empty key means "the default")."""
    return {k: v for k, v in (section or {}).items() if v is not None}


def _watch_entry(entry: Any, config_file: Path | None) -> dict[str, Any]:
    """A watch entry: a folder, or {path: folder, imprint: name, checkpoint: true|false}."""
    if isinstance(entry, str):
        return {"path": entry}
    allowed = {"path": str, "imprint": str, "checkpoint": bool}
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or any(
            k not in allowed or not isinstance(v, allowed[k]) for k, v in entry.items() if v is not None):
        raise ConfigError(f"'watch' in {config_file}: each entry is a folder or a mapping of path (text), "
                          f"imprint (text) and checkpoint (true or false), not {entry!r}")
    return entry


def derive_imprint(folder: Path) -> str:
    """output/<imprint>_build/processed_json -> <imprint>; otherwise the folder's own name."""
    folder = Path(os.path.abspath(folder))
    name = folder.name
    if name == "processed_json" and folder.parent.name.endswith("_build"):
        name = folder.parent.name
    return _safe_imprint(name.removesuffix("_build"))


def _safe_imprint(name: str) -> str:
    safe = re.sub(r"[^\w\-]+", "_", str(name)).strip("_")
    if not safe:
        raise ConfigError(f"imprint '{name}' has no usable characters for a file name")
    return safe


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

    file_names = {FILE_NAME_COLUMNS[k]: str(v or "") for k, v in (lsi.get("file_names") or {}).items()
                  if _known(k, FILE_NAME_COLUMNS, "lsi.file_names", where)}
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
        templates = tranche.get("file_path_templates") or {}
        for key, template in templates.items():
            if key in FILE_NAME_COLUMNS and template:
                file_names[FILE_NAME_COLUMNS[key]] = str(template)

    return Profile(
        defaults=defaults,
        blank=frozenset(blank),
        append=append,
        required_bisac=required_bisac,
        exchange_rates=_rates(lsi.get("exchange_rates", {"UK": 0.78, "EU": 0.85, "AU": 1.50, "CA": 1.35}), where),
        file_names=file_names,
        pub_date_format=lsi.get("pub_date_format", "iso"),
        language_code_case=lsi.get("language_code_case", "lower"),
        neutralise_formulas=lsi.get("neutralise_formulas", True),
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
            rates[market] = Decimal(str(rate))
        except InvalidOperation:
            raise ConfigError(f"lsi.exchange_rates.{market} in {where}: '{rate}' is not a number") from None
    return rates


def _known(key: str, allowed: Mapping[str, Any], section: str, where: str) -> bool:
    if key not in allowed:
        raise ConfigError(f"unknown key '{section}.{key}' in {where} (allowed: {', '.join(allowed)})")
    return True


def _positive(value: Any, key: str, where: Path | None) -> int:
    if value <= 0:
        raise ConfigError(f"'{key}' in {where} must be above zero, not {value}")
    return value


def _config_path(given: str | None) -> Path | None:
    if given:
        path = Path(given).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    default = Path.cwd() / "config.yaml"
    return default.resolve() if default.is_file() else None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of settings")
    _check(data, _SCHEMA, (), path)
    return data


def _check(data: Mapping[str, Any], schema: Mapping[str, Any], at: tuple[str, ...], path: Path) -> None:
    for key, value in data.items():
        name = ".".join((*at, str(key)))
        if key not in schema:
            raise ConfigError(f"unknown key '{name}' in {path} (allowed here: {', '.join(schema)})")
        expected = schema[key]
        if value is None:
            continue
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"'{name}' in {path} must be a mapping")
            _check(value, expected, (*at, key), path)
            continue
        if expected in (int, (int, float)) and isinstance(value, bool) or not isinstance(value, expected):
            raise ConfigError(f"'{name}' in {path} must be {_TYPE_NAMES[expected]}, not {value!r}")
        if expected is list and key != "watch" and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"'{name}' in {path} must be a list of strings")
        choices = _CHOICES.get((*at, key))
        if choices and value not in choices:
            raise ConfigError(f"'{name}' in {path} must be one of {', '.join(choices)}, not {value!r}")


_TYPE_NAMES = {str: "text", int: "a whole number", bool: "true or false", list: "a list", dict: "a mapping",
               (int, float): "a number"}


def _read_json(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data
