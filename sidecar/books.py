"""Finding and reading the pipeline's processed JSON files. Read-only: source files are never changed."""

from __future__ import annotations

import hashlib
import json
import os
import stat as stat_mod
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Sequence

from .errors import BookError


@dataclass(frozen=True)
class Source:
    """One read of a source file: its version (stat), its bytes and their hash."""

    path: Path
    stat: str
    sha256: str
    data: bytes


def stat_key(st: os.stat_result) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_ctime_ns}"


def mtime_ns(key: str) -> int:
    return int(key.split(":")[1])


def is_eligible(name: str, ignore: Sequence[str]) -> bool:
    return name.endswith(".json") and not any(fnmatchcase(name, pattern) for pattern in ignore)


def scan(folder: Path, ignore: Sequence[str]) -> list[Path]:
    """Eligible names directly in folder, sorted; folders are skipped, links are kept (and refused later)."""
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries
                     if is_eligible(e.name, ignore) and (e.is_symlink() or not e.is_dir(follow_symlinks=False))]
    except FileNotFoundError:
        return []
    return [folder / name for name in sorted(names)]


def stat_source(path: Path) -> str:
    """The file's identity and version, without following links. Raises FileNotFoundError."""
    return stat_key(os.lstat(path))


def read_source(path: Path, max_bytes: int) -> Source:
    """The file's bytes, read once. Raises BookError, or FileNotFoundError if it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except PermissionError:
        raise BookError(f"cannot read it: permission denied for user {_user()}; "
                        "make it readable to the sidecar") from None
    except OSError as exc:
        if os.path.islink(path):
            raise BookError("it is a symbolic link; the sidecar reads only regular files the pipeline writes") from None
        if isinstance(exc, FileNotFoundError):
            raise
        raise BookError(f"cannot open it: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            raise BookError("it is not a regular file")
        if st.st_size > max_bytes:
            raise BookError(f"it is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit (books.max_bytes)")
        chunks = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise BookError(f"it grew over the {max_bytes:,}-byte limit (books.max_bytes) while being read")
        data = b"".join(chunks)
    finally:
        os.close(fd)
    return Source(path=path, stat=stat_key(st), sha256=hashlib.sha256(data).hexdigest(), data=data)


def parse_book(data: bytes) -> dict[str, Any]:
    """The book in a processed JSON file: a JSON object, or the object under a top-level 'metadata' key."""
    if not data.strip():
        raise BookError("it is empty (the pipeline may still be writing it)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and b"\x00" in data[:2]):
        raise BookError("it is not UTF-8 (it looks like UTF-16); save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BookError(f"it is not valid UTF-8 (bad byte at offset {exc.start}); save it as UTF-8") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BookError(f"it is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                        "it may be incomplete") from None
    except RecursionError:
        raise BookError("its JSON is nested too deeply to be a book") from None
    if not isinstance(value, dict):
        raise BookError(f"its JSON is {_kind(value)}, expected an object with the book's fields")
    inner = value.get("metadata")
    return inner if isinstance(inner, dict) else value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # rare: only then look for the key that came twice
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BookError(f"its JSON has the key '{key}' twice in one object")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise BookError(f"its JSON contains {name}, which is not valid JSON")


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(type(value), "a number")


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid())
