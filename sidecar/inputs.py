"""Reading any file the sidecar is given: a book, a config file, a code table, a batch marker.

Every input goes through the same guards: a regular file only (never a FIFO, a device or a folder),
opened without blocking, a symbolic link only where the caller allows it, and a size limit checked
before and while reading, so that no file can hang a run or fill its memory.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, InputError


def open_regular_file(path: Path, follow_symlinks: bool = True) -> tuple[int, os.stat_result]:
    """A descriptor and stat of a regular file, opened without blocking. Raises InputError, FileNotFoundError."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError("it is a symbolic link to a file that does not exist") from None
        raise
    except PermissionError:
        raise InputError(f"cannot read it: permission denied for user {user_name()}; "
                         "make it readable to the sidecar") from None
    except OSError as exc:
        if not follow_symlinks and os.path.islink(path):
            raise InputError("it is a symbolic link; the sidecar reads only regular files the pipeline writes") from None
        raise InputError(f"cannot open it: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise InputError(f"it is not a regular file (it is {_kind(st.st_mode)})")
    return fd, st


def read_regular_file(path: Path, max_bytes: int, limit_name: str, follow_symlinks: bool = True
                      ) -> tuple[bytes, os.stat_result]:
    """The file's bytes and its stat, read once. Raises InputError, or FileNotFoundError if it is gone.

    limit_name: the setting that raises max_bytes, named in the message when the file is over it.
    """
    fd, st = open_regular_file(path, follow_symlinks)
    try:
        if st.st_size > max_bytes:
            raise InputError(f"it is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit ({limit_name})")
        chunks = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise InputError(f"it grew over the {max_bytes:,}-byte limit ({limit_name}) while being read")
    except OSError as exc:
        raise InputError(f"cannot read it: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return b"".join(chunks), st


def read_config_text(path: Path, what: str, max_bytes: int = 16 << 20) -> str:
    """A configuration file's text (UTF-8, a BOM allowed); ConfigError naming what and the path if it has none."""
    try:
        data, _ = read_regular_file(path, max_bytes, "configuration files")
        return data.decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except InputError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 (bad byte at offset {exc.start})") from None


def load_json(text: str, what: str = "a book", max_depth: int | None = None) -> Any:
    """JSON text read with the guards every input gets: no key twice in an object, no NaN or Infinity, no
    number over Python's 4,300-digit limit, nesting bounded (by max_depth, else by the recursion limit).
    Raises InputError with the reason (what names the kind of file in it)."""
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"it is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
                        + ("; it may be incomplete" if what == "a book" else "")) from None
    except ValueError as exc:  # a JSON integer over Python's 4,300-digit conversion limit
        raise InputError(f"it holds a number too long to read ({str(exc).split(':')[0]})") from None
    except RecursionError:
        raise InputError(f"its JSON is nested too deeply to be {what}") from None
    if max_depth is not None and _depth(value, max_depth) > max_depth:
        raise InputError(f"its JSON is nested more than {max_depth} levels deep, too deeply to be {what}")
    return value


def load_yaml(text: str, max_depth: int) -> Any:
    """YAML text (the sidecar's config file) read with the guards every input gets: no anchors' aliases, no
    key twice in a mapping, nesting at most max_depth deep. Raises yaml.YAMLError saying where and why, and
    ValueError for an integer over Python's 4,300-digit conversion limit."""
    loader = _NoAliasLoader(text)
    loader.max_depth = max_depth
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors' aliases: a settings file needs none, and nested aliases can expand a few
    hundred bytes into gigabytes (a "billion laughs")."""

    depth = 0
    max_depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # unannotated in types-PyYAML
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in the sidecar's "
                                              "config file; write the value out", event.start_mark)
        if self.depth >= self.max_depth:
            raise yaml.composer.ComposerError(None, None, f"nested more than {self.max_depth} levels deep",
                                              event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"the key '{key}' is there twice",
                                                        key_node.start_mark)
            seen.add(key if isinstance(key, str) else id(key_node))
        return super().construct_mapping(node, deep)


def _depth(value: Any, limit: int) -> int:
    """How many lists and objects deep value nests, counted up to limit + 1 (without recursion)."""
    depth, level = 0, [value]
    while depth <= limit:
        containers = [x for x in level if isinstance(x, (dict, list))]
        if not containers:
            return depth
        depth += 1
        level = [v for x in containers for v in (x.values() if isinstance(x, dict) else x)]
    return depth


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # rare: only then look for the key that came twice
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InputError(f"its JSON has the key '{key}' twice in one object")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise InputError(f"its JSON contains {name}, which is not valid JSON")


def shown(path: object) -> str:
    """A path or name as it may be logged or printed: bytes that are not UTF-8 as \\xNN, control
    characters (a newline could forge a log line) escaped."""
    text = str(path)
    return text if text.isprintable() else "".join(_show(c) for c in text)  # lone surrogates are not printable


def _show(c: str) -> str:
    if "\udc80" <= c <= "\udcff":  # a byte that is not UTF-8, as os.fsdecode keeps it
        return f"\\x{ord(c) - 0xDC00:02x}"
    if c.isprintable() and not "\ud800" <= c <= "\udfff":
        return c
    return c.encode("unicode_escape", "backslashreplace").decode("ascii")


BAD_NAME = "its name is not valid UTF-8; rename it (the pipeline writes UTF-8 names)"


def is_utf8_name(path: Path) -> bool:
    """A name the ledger, the logs and LSI can hold: valid UTF-8 on disk."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def user_name() -> str:
    """The name of the user the sidecar runs as (for messages about permissions)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid())
