"""Writing a whole file so that readers see the old version or the new one, never a part."""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from .names import temp_name


def fsync_dir(path: Path) -> None:
    """Make the folder's entries (a file created, renamed or removed in it) durable. Raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """One write(2) for the whole buffer; a short write is an error, never silently continued. Raises
    OSError: a disk that fills up mid-write gives a short write, then ENOSPC, which is what is raised."""
    written = os.write(fd, data)
    if written != len(data):
        os.write(fd, data[written:])  # only to learn why (ENOSPC, EDQUOT, EIO...); the caller cuts it back
        raise OSError(errno.EIO, f"short write: {written} of {len(data)} bytes")


@contextmanager
def atomic_writer(path: Path, durable: bool) -> Iterator[BinaryIO]:
    """A file to write that replaces path, through a temp file in the same folder and a rename, only
    when the block ends without an error.

    durable: the data and the rename are on disk when this returns (fsync of the file and its folder),
    for files the sidecar's own state depends on. Without it a crash may leave the old version, which is
    enough for outputs that are simply written again (exports, metrics, requests).
    Raises OSError as atomic_write() does; an exception in the block removes the temp file and is raised.
    """
    tmp = temp_name(path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes, durable: bool) -> None:
    """Replace path with data (see atomic_writer). Raises OSError when the temp file cannot be written, synced
    or renamed (it is then removed, path left as it was), or, when durable, the folder cannot be synced."""
    with atomic_writer(path, durable) as f:
        f.write(data)
