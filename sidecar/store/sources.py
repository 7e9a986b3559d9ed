"""The pipeline's processed JSON files on disk: found, stat'ed and read once. Source files are never changed."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Sequence

from ..errors import BookError, InputError
from ..inputs import read_regular_file


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
        data, st = read_regular_file(path, max_bytes, "books.max_bytes", follow_symlinks=False)
    except InputError as exc:
        raise BookError(str(exc)) from None
    return Source(path=path, stat=stat_key(st), sha256=hashlib.sha256(data).hexdigest(), data=data)
