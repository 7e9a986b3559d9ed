"""The pipeline's processed JSON files on disk: found, stat'ed and read once. Source files are never changed."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Sequence

from ..errors import BookError, FolderError, InputError
from ..inputs import read_regular_file, shown, user_name
from ..settings import Key


@dataclass(frozen=True)
class Source:
    """One read of a source file: its version (stat), its bytes and their hash."""

    path: Path
    stat: str
    sha256: str
    data: bytes


def stat_key(st: os.stat_result) -> str:
    """A file version's key for the ledger: "size:mtime_ns:inode:ctime_ns" (bytes, nanoseconds)."""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_ctime_ns}"


def mtime_ns(key: str) -> int:
    """The modification time (ns since the epoch) in a stat_key(). Raises IndexError, ValueError for another text."""
    return int(key.split(":")[1])


def is_eligible(name: str, ignore: Sequence[str]) -> bool:
    """A .json name that none of the ignore patterns (books.ignore, fnmatch, case-sensitive) matches."""
    return name.endswith(".json") and not any(fnmatchcase(name, pattern) for pattern in ignore)


def scan(folder: Path, ignore: Sequence[str]) -> list[Path]:
    """Eligible names directly in folder, sorted; folders are skipped, links are kept (and refused later).
    A folder that does not exist (yet) has none. Raises FolderError when it cannot be listed."""
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries
                     if is_eligible(e.name, ignore) and (e.is_symlink() or not e.is_dir(follow_symlinks=False))]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise folder_error(folder, exc) from None
    return [folder / name for name in sorted(names)]


def folder_error(folder: Path, exc: OSError) -> FolderError:
    """Why a watched folder cannot be used, in words a person can act on."""
    if isinstance(exc, NotADirectoryError):
        why = "it is not a folder (a file has its name)"
    elif isinstance(exc, PermissionError):
        why = f"permission denied for user {user_name()}; make it readable and searchable (r-x) to the sidecar"
    else:
        why = exc.strerror or str(exc)
    return FolderError(f"the watched folder {shown(folder)} cannot be read: {why}")


def stat_source(path: Path) -> str:
    """The file's identity and version, without following links. Raises FileNotFoundError, or FolderError
    when its folder cannot be searched or is no longer a folder."""
    try:
        return stat_key(os.lstat(path))
    except (PermissionError, NotADirectoryError) as exc:
        raise folder_error(path.parent, exc) from None


def read_source(path: Path, max_bytes: int) -> Source:
    """The file's bytes, read once, at most max_bytes (books.max_bytes), never through a symbolic link.
    Raises BookError saying why it cannot be read, or FileNotFoundError if it is gone."""
    try:
        data, st = read_regular_file(path, max_bytes, Key.BOOKS_MAX_BYTES, follow_symlinks=False)
    except InputError as exc:
        raise BookError(str(exc)) from None
    return Source(path=path, stat=stat_key(st), sha256=hashlib.sha256(data).hexdigest(), data=data)
