"""The sidecar's own settings: flags > SIDECAR_* environment > config.yaml > defaults, as one frozen Settings.

The pipeline's LSI config files it names are turned into a conversion Profile by rows/profile.py.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from enum import StrEnum, auto
from pathlib import Path
from typing import Any, Mapping, TypeVar

import yaml

from .errors import ConfigError
from .inputs import load_yaml, read_config_text
from .rows.columns import IMPRINT, KEY, Dialect
from .rows.configs import CONFIG_MAX_DEPTH, TreeChoice
from .rows.profile import MARKET_PRICE_RULES, Profile, load_profiles
from .rows.values import DATE_ORDERS


class Key(StrEnum):
    """The sidecar's own keys in config.yaml as messages name them: a top-level key is its name in lower case
    (auto()), also a flag's dest and, upper-cased, a SIDECAR_* variable's; a section's is dotted (books.max_bytes).
    The lsi section's keys, read by rows/profile.py, are listed in _TYPES only."""

    WATCH = auto()
    IMPRINT = auto()
    CHECKPOINT_DIR = auto()
    STATE_DIR = auto()
    PIPELINE_CONFIGS = auto()
    PUBLISHER = auto()
    LSI_CONFIG = auto()
    TRANCHE = auto()
    ACS_CODES = auto()
    LOG_LEVEL = auto()
    LOG_FORMAT = auto()
    POLL_SECONDS = auto()
    RESCAN_SECONDS = auto()
    METRICS_FILE = auto()
    EXPORTS = auto()
    LOG_FILE = auto()
    FILES = auto()
    BOOKS_IGNORE = "books.ignore"
    BOOKS_MAX_BYTES = "books.max_bytes"
    BOOKS_STRICT = "books.strict"
    BOOKS_ON_REWRITE = "books.on_rewrite"
    BATCHES_START_MARKER = "batches.start_marker"
    BATCHES_DONE_MARKER = "batches.done_marker"
    BATCHES_ROTATE = "batches.rotate"
    CHECKPOINT_BOM = "checkpoint.bom"
    CHECKPOINT_LINE_TERMINATOR = "checkpoint.line_terminator"
    CHECKPOINT_ROWS_PER_SYNC = "checkpoint.rows_per_sync"


DEFAULT_IGNORE = (".*", "*~", "*.tmp", "*.part", "*.swp", "*_lsi_metadata.json", "*_with_mnemonics.json")
SECONDS_RANGE = {Key.POLL_SECONDS: (0.1, 3600.0), Key.RESCAN_SECONDS: (0.1, 86400.0)}
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")

# Each key's type: a Python type, a tuple of them, or a section's own schema.
_TYPES: dict[str, Any] = {
    Key.WATCH: list, Key.IMPRINT: str, Key.CHECKPOINT_DIR: str, Key.STATE_DIR: str, Key.PIPELINE_CONFIGS: str,
    Key.PUBLISHER: str, Key.LSI_CONFIG: str, Key.TRANCHE: str, Key.ACS_CODES: str, Key.LOG_LEVEL: str,
    Key.LOG_FORMAT: str, Key.POLL_SECONDS: (int, float), Key.RESCAN_SECONDS: (int, float), Key.METRICS_FILE: str,
    Key.EXPORTS: dict, Key.LOG_FILE: str, Key.FILES: str,
    Key.BOOKS_IGNORE: list, Key.BOOKS_MAX_BYTES: int, Key.BOOKS_STRICT: bool, Key.BOOKS_ON_REWRITE: str,
    Key.BATCHES_START_MARKER: str, Key.BATCHES_DONE_MARKER: str, Key.BATCHES_ROTATE: str,
    Key.CHECKPOINT_BOM: bool, Key.CHECKPOINT_LINE_TERMINATOR: str, Key.CHECKPOINT_ROWS_PER_SYNC: int,
    "lsi": {"pub_date_format": str, "language_code_case": str, "exchange_rates": dict, "file_names": dict,
            "market_price": str, "price_ending": (str, int, float), "price_by_pages": (list, dict),
            "annotation_tags": list, "date_order": str, "subtitle_separator": str,
            "registered_imprints": list, "registered_publishers": list, "markets": list,
            "discount_range": (list, dict), "metadata_contact": dict},
}


def _nested(types: Mapping[str, Any]) -> dict[str, Any]:
    """The schema the config file is checked against: the dotted keys grouped by section, in their order."""
    schema: dict[str, Any] = {}
    for key, expected in types.items():
        section, _, name = str(key).rpartition(".")
        (schema.setdefault(section, {}) if section else schema)[name] = expected
    return schema


_SCHEMA = _nested(_TYPES)
_CHOICES: dict[str, tuple[str, ...]] = {
    Key.LOG_FORMAT: LOG_FORMATS, Key.BOOKS_ON_REWRITE: ("replace", "append", "ignore"),
    Key.BATCHES_ROTATE: ("never", "daily"), Key.CHECKPOINT_LINE_TERMINATOR: ("crlf", "lf"),
    "lsi.pub_date_format": ("iso", "m/d/yy"), "lsi.language_code_case": ("lower", "upper"),
    "lsi.market_price": MARKET_PRICE_RULES, "lsi.date_order": DATE_ORDERS,
}
_T = TypeVar("_T")


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
    profiles: Mapping[str, Profile] = dataclasses.field(default_factory=dict)  # by folder imprint
    pipeline_configs: Path | None = None
    lsi_config: Path | None = None
    tranche: Path | None = None
    disabled_folders: tuple[Path, ...] = ()  # listed with checkpoint: false
    config_file: Path | None = None
    files: Path | None = None  # the folder the interior and cover PDFs are uploaded from (preflight)

    def profile_for(self, folder: Folder) -> Profile:
        return self.profiles.get(folder.imprint) or dataclasses.replace(self.profile, imprint=folder.imprint)


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ,
                  need_watch: bool = True) -> Settings:
    """Merge the sources of settings. flags holds the CLI's values (None where not given)."""
    config_file = _config_path(flags.get("config") or environ.get("SIDECAR_CONFIG"))
    raw = _read_yaml(config_file) if config_file else {}
    src = _Sources(flags, environ, raw, config_file)
    folders, disabled = _folders(src)
    if not folders and need_watch:
        raise ConfigError("nothing to watch: give --watch DIR, SIDECAR_WATCH, or 'watch:' in the config file")
    checkpoint_dir = src.path(Key.CHECKPOINT_DIR) or (src.base / "data").resolve()
    state_dir = src.path(Key.STATE_DIR) or checkpoint_dir / "state"
    for folder in folders:
        for name, own in ((Key.CHECKPOINT_DIR, checkpoint_dir), (Key.STATE_DIR, state_dir)):
            if own == folder.path or folder.path in own.parents:
                raise ConfigError(f"{name} {own} is inside the watched folder {folder.path}; "
                                  "the sidecar writes nothing into a watched folder")
    log_level = str(src.get(Key.LOG_LEVEL) or Settings.log_level).upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"log level '{log_level}' is not one of {', '.join(LOG_LEVELS)}")
    log_format = src.get(Key.LOG_FORMAT) or Settings.log_format
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"log format '{log_format}' is not 'text' or 'json'")
    choice = _tree_choice(src)
    lsi, where, codes = _present(raw.get("lsi")), str(config_file or "the defaults"), src.path(Key.ACS_CODES)
    profiles = load_profiles(choice, codes, lsi, where, [f.imprint for f in folders] or [""])
    profile = next(iter(profiles.values()))
    profiles.pop("", None)  # no folder (the tools): one profile without an imprint level
    ignore, log_file = src.file_value(Key.BOOKS_IGNORE), src.file_value(Key.LOG_FILE)
    return Settings(  # a value set nowhere (None) takes the Settings default
        config_file=config_file, folders=tuple(folders), disabled_folders=tuple(disabled), log_format=log_format,
        checkpoint_dir=checkpoint_dir, state_dir=state_dir, profile=profile, profiles=profiles, log_level=log_level,
        pipeline_configs=choice.root, lsi_config=choice.lsi_config, tranche=choice.tranche_file(),
        dialect=Dialect(bom=_or(src.file_value(Key.CHECKPOINT_BOM), Dialect.bom),
                        line_terminator="\n" if src.file_value(Key.CHECKPOINT_LINE_TERMINATOR) == "lf"
                        else Dialect.line_terminator),
        ignore=DEFAULT_IGNORE if ignore is None else tuple(str(p) for p in ignore),
        max_bytes=_or(src.whole_number(Key.BOOKS_MAX_BYTES, 1 << 30), Settings.max_bytes),
        strict=_or(src.file_value(Key.BOOKS_STRICT), Settings.strict),
        on_rewrite=_or(src.file_value(Key.BOOKS_ON_REWRITE), Settings.on_rewrite),
        rows_per_sync=_or(src.whole_number(Key.CHECKPOINT_ROWS_PER_SYNC, 100_000), Settings.rows_per_sync),
        poll_seconds=src.seconds(Key.POLL_SECONDS),
        rescan_seconds=_or(src.seconds(Key.RESCAN_SECONDS), Settings.rescan_seconds),
        metrics_file=_output_file(src.path(Key.METRICS_FILE), Key.METRICS_FILE),
        exports=_or(src.file_value(Key.EXPORTS), {}),
        start_marker=_or(src.file_value(Key.BATCHES_START_MARKER), Settings.start_marker),
        done_marker=_or(src.file_value(Key.BATCHES_DONE_MARKER), Settings.done_marker),
        rotate=_or(src.file_value(Key.BATCHES_ROTATE), Settings.rotate),
        log_file=_output_file((src.base / log_file).resolve() if log_file else None, Key.LOG_FILE),
        files=_files_folder(src),
    )


def _or(value: _T | None, default: _T) -> _T:
    """value, or default where the setting is set nowhere (None)."""
    return default if value is None else value


@dataclass(frozen=True)
class _Sources:
    """Where a top-level setting comes from: flag > SIDECAR_* variable > config file > default."""

    flags: Mapping[str, Any]
    environ: Mapping[str, str]
    raw: Mapping[str, Any]
    config_file: Path | None

    @property
    def base(self) -> Path:
        """Relative paths in the config file resolve against its folder."""
        return self.config_file.parent if self.config_file else Path.cwd()

    def origin(self, key: str) -> tuple[Any, Path]:
        """The setting's value and the folder its relative paths resolve against."""
        if self.flags.get(key) not in (None, []):
            return self.flags[key], Path.cwd()
        env = self.environ.get(f"SIDECAR_{key.upper()}")
        if env:
            return (env.split(os.pathsep) if key == Key.WATCH else env), Path.cwd()
        return self.raw.get(key), self.base

    def get(self, key: str) -> Any:
        return self.origin(key)[0]

    def file_value(self, key: Key) -> Any:
        """A key of a section (books.strict), set in the config file only: None when it is not."""
        section, _, name = key.partition(".")
        values = self.raw.get(section) if name else self.raw
        return values.get(name or section) if isinstance(values, dict) else None

    def path(self, key: str) -> Path | None:
        value, root = self.origin(key)
        if value is None:
            return None
        return (root / os.path.expanduser(str(value))).resolve()

    def whole_number(self, key: Key, high: int) -> int | None:
        """A count set in the config file, from 1 to high; None when it is not set."""
        value: int | None = self.file_value(key)
        if value is not None and not 0 < value <= high:
            raise ConfigError(f"'{key}' in {self.config_file} must be from 1 to {high:,}, not {value}")
        return value

    def seconds(self, key: Key) -> float | None:
        value = self.get(key)
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a number of seconds, not {value!r}") from None
        low, high = SECONDS_RANGE[key]
        if not low <= number <= high:  # NaN fails this too
            raise ConfigError(f"{key} must be from {low:g} to {high:g} seconds, not {value!r}")
        return number


def _output_file(path: Path | None, key: str) -> Path | None:
    """A file the sidecar keeps writing: its folder must exist, and it must not be a folder itself."""
    if path is not None and (not path.parent.is_dir() or path.is_dir()):
        what = "is a folder" if path.is_dir() else f"is in {path.parent}, which is not an existing folder"
        raise ConfigError(f"{key} {path} {what}; give a file in an existing folder")
    return path


def _files_folder(src: _Sources) -> Path | None:
    """The folder of the PDFs a row names. It need not exist yet (a share not mounted): pre-flight then
    reports each file as not found, naming the folder, and nothing else waits for it."""
    if (value := src.origin(Key.FILES)[0]) is not None and not str(value).strip():
        raise ConfigError(f"{Key.FILES} is empty; give the folder the interior and cover PDFs are uploaded from")
    return src.path(Key.FILES)


def ensure_writable_folder(path: Path, key: str) -> None:
    """Create a folder the sidecar writes to, or say which setting names a folder it cannot use."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{key} {path} cannot be created: {exc.strerror or exc}") from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{key} {path} is not a folder the sidecar can write to (user {os.geteuid()}); "
                          "fix its permissions or choose another folder")


def _tree_choice(src: _Sources) -> TreeChoice:
    """The pipeline's configs/ folder and which of its files to read; --lsi-config and a tranche given as a
    file win over the tree's files. A tranche without '/' or '.json' is a name in the tree's tranches/."""
    root = src.path(Key.PIPELINE_CONFIGS)
    if root is not None and not root.is_dir():
        raise ConfigError(f"{Key.PIPELINE_CONFIGS} {root} is not a folder (the pipeline's configs/, with "
                          "default_lsi_config.json, publishers/, imprints/, tranches/, books/)")
    tranche, path = src.get(Key.TRANCHE), src.path(Key.TRANCHE)
    named = isinstance(tranche, str) and "/" not in tranche and not tranche.endswith(".json")
    choice = TreeChoice(root=root, lsi_config=src.path(Key.LSI_CONFIG), publisher=src.get(Key.PUBLISHER),
                        tranche=tranche if named and (root or path is None or not path.exists()) else path)
    return dataclasses.replace(choice, tranche=choice.tranche_file())  # a name the tree lacks: an error now


def _folders(src: _Sources) -> tuple[list[Folder], list[Path]]:
    """The watched folders that are checkpointed, and those listed with checkpoint: false."""
    watch, watch_root = src.origin(Key.WATCH)
    imprint = src.get(Key.IMPRINT)
    folders: list[Folder] = []
    disabled: list[Path] = []
    for entry in watch or []:
        spec = _watch_entry(entry, src.config_file)
        folder_path = (watch_root / os.path.expanduser(spec["path"])).resolve()
        if not spec.get("checkpoint", True):
            disabled.append(folder_path)
            continue
        if folder_path in disabled or any(f.path == folder_path for f in folders):
            raise ConfigError(f"the folder {folder_path} is listed twice in 'watch' (as {spec['path']!r}); "
                              "list each folder once")
        name = spec.get(KEY[IMPRINT]) or imprint
        folders.append(Folder(folder_path, _safe_imprint(name) if name else derive_imprint(Path(spec["path"]))))
    return folders, disabled


def _present(section: Any) -> dict[str, Any]:
    """A config section without its keys left empty (an empty key means "the default")."""
    return {k: v for k, v in (section or {}).items() if v is not None}


def _watch_entry(entry: Any, config_file: Path | None) -> dict[str, Any]:
    """A watch entry: a folder, or {path: folder, imprint: name, checkpoint: true|false}."""
    if isinstance(entry, str):
        return {"path": entry}
    allowed = {"path": str, KEY[IMPRINT]: str, "checkpoint": bool}
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


def _config_path(given: str | None) -> Path | None:
    if given:
        path = Path(given).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    default = Path.cwd() / "config.yaml"
    return default.resolve() if default.is_file() else None


def _read_yaml(path: Path) -> dict[str, Any]:
    text = read_config_text(path, "config file")
    try:
        data = load_yaml(text, CONFIG_MAX_DEPTH)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    except ValueError as exc:  # an integer over Python's 4,300-digit conversion limit
        raise ConfigError(f"{path} holds a number too long to read ({str(exc).split(':')[0]})") from None
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
        if expected is list and key != Key.WATCH and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"'{name}' in {path} must be a list of strings")
        choices = _CHOICES.get(name)
        if choices and value not in choices:
            raise ConfigError(f"'{name}' in {path} must be one of {', '.join(choices)}, not {value!r}")


_TYPE_NAMES = {str: "text", int: "a whole number", bool: "true or false", list: "a list", dict: "a mapping",
               (int, float): "a number", (str, int, float): "text or a number", (list, dict): "a list or a mapping"}
