"""Writing a whole file so that readers see the old version or the new one, never a part."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """One write(2) for the whole buffer; a short write is an error, never silently continued."""
    written = os.write(fd, data)
    if written != len(data):
        raise OSError(f"short write: {written} of {len(data)} bytes")


def atomic_write(path: Path, data: bytes, durable: bool) -> None:
    """Replace path with data through a temp file in the same folder and a rename.

    durable: the data and the rename are on disk when this returns (fsync of the file and its folder),
    for files the sidecar's own state depends on. Without it a crash may leave the old version, which is
    enough for outputs that are simply written again (exports, metrics, requests).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
