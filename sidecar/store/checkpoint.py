"""The checkpoint CSV on disk: atomic creation, durable O(1) appends, tail cuts and row replacement.

The file holds only whole records: every append is a single write(2) on an O_APPEND descriptor,
made durable by fdatasync before the ledger records it. Which bytes are committed is the ledger's
business (ledger.py); this module only moves bytes safely.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import CheckpointError, DiskFull
from ..faults import fault_point
from .atomic import fsync_dir, write_all
from .ledger import RowRecord
from .names import is_checkpoint_temp, rewrite_name, temp_name

EDITED_ADVICE = ("put back the file as the sidecar wrote it, or move it aside to start a new checkpoint "
                 "(its books are then written again); edit copies, never the checkpoint")


def create_with_header(path: Path, header: bytes) -> None:
    """Make path hold exactly header, atomically; never touches an existing file. Raises CheckpointError when
    path exists, DiskFull when the disk or quota is full, CheckpointError for any other I/O error."""
    tmp = temp_name(path, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            write_all(fd, header)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # unlike rename, link never replaces an existing file
        finally:
            os.unlink(tmp)
        fsync_dir(path.parent)
    except FileExistsError:
        raise CheckpointError(f"{path} already exists; it is not the sidecar's to overwrite") from None
    except OSError as exc:
        raise _failure(exc)(f"cannot create {path}: {exc.strerror or exc}") from None


class CheckpointFile:
    """An open checkpoint: appends go to its end; size is what this process has written."""

    def __init__(self, path: Path) -> None:
        """Open path for appends. Raises CheckpointError when it is missing; OSError when it cannot be opened."""
        self.path = path
        self._open()

    def _open(self) -> None:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        except FileNotFoundError:
            raise CheckpointError(f"checkpoint {self.path} is missing") from None
        self.size = os.fstat(self.fd).st_size

    def close(self) -> None:
        """Close the descriptor; closing twice is harmless."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _check_size(self) -> None:
        """Only this process writes the file: any other size means a hand edit while it ran."""
        size = os.fstat(self.fd).st_size
        if size != self.size:
            raise CheckpointError(f"{self.path} is {size} bytes, {self.size} expected: it was changed outside "
                                  f"the sidecar while it ran; {EDITED_ADVICE}")

    def append(self, data: bytes) -> int:
        """Write data at the end in one write(2); returns its offset (bytes). Durable only after sync().
        Raises CheckpointError when the file's size is not what this process wrote (edited meanwhile), and
        DiskFull (the disk or quota is full) or CheckpointError when the write fails: the file is then cut
        back to where it was."""
        self._check_size()
        offset = self.size
        try:
            fault_point("write-eio")
            fault_point("write-enospc")
            write_all(self.fd, data)
        except OSError as exc:
            # A partial record must not stay: cut back to the last whole one, then give up. Nothing was
            # made durable or recorded, so a full disk (DiskFull) may be retried once there is space.
            os.ftruncate(self.fd, offset)
            raise _failure(exc)(f"cannot append to {self.path}: {exc}") from None
        self.size += len(data)
        fault_point("after-write")
        return offset

    def sync(self) -> None:
        """fdatasync the file. Raises CheckpointError when it fails: never retried (the page cache may have
        dropped the data already), the caller stops and the next start re-derives the file from the ledger."""
        try:
            fault_point("fsync-eio")
            os.fdatasync(self.fd)
        except OSError as exc:
            # After a failed fsync the page cache may already have dropped the data (fsyncgate):
            # never retry; stop, and let the restart re-derive from the ledger.
            raise CheckpointError(f"cannot make {self.path} durable: {exc}") from None
        fault_point("after-fsync")

    def truncate(self, size: int) -> None:
        """Cut the file to size bytes, durably (fsync). Raises CheckpointError when it cannot."""
        try:
            os.ftruncate(self.fd, size)
            os.fsync(self.fd)
        except OSError as exc:
            raise CheckpointError(f"cannot cut {self.path} back to {size} bytes: {exc.strerror or exc}") from None
        self.size = size

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to length bytes from offset (fewer at the end of the file). Raises OSError."""
        return os.pread(self.fd, length, offset)

    def rewrite_tmp(self, replacements: Sequence[tuple[int, int, bytes]]) -> Path:
        """A durable copy of the file with each (offset, length, new) range replaced by new, in one pass:
        the ranges must be in file order and apart. Raises CheckpointError when it cannot be written (the
        partial copy is removed) or the file was changed outside the sidecar."""
        self._check_size()
        tmp = rewrite_name(self.path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                done = 0
                for offset, length, new in replacements:
                    _copy(self.fd, fd, done, offset - done)
                    write_all(fd, new)
                    done = offset + length
                _copy(self.fd, fd, done, self.size - done)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _failure(exc)(f"cannot rewrite {self.path} to replace rows: {exc.strerror or exc}") from None
        return tmp

    def swap_in(self, tmp: Path) -> None:
        """Atomically put tmp in place of the file and reopen it. Raises CheckpointError when the rename
        or the folder's fsync fails (the ledger already describes tmp: the next start finishes the swap)."""
        put_in_place(tmp, self.path)
        self.close()
        self._open()


def put_in_place(tmp: Path, path: Path) -> None:
    """Rename a replacement copy over its checkpoint, durably. Raises CheckpointError on an I/O error."""
    try:
        fault_point("rename-eio")
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        raise CheckpointError(f"cannot put the rewritten copy {tmp.name} in place of {path}: "
                              f"{exc.strerror or exc}; the next start finishes it") from None


def remove_stale_temp_files(folder: Path, imprints: Iterable[str]) -> None:
    """Temp files of the imprints' checkpoints and manifests that a killed process left; only the lock
    holder calls this. Raises OSError when the folder cannot be listed."""
    imprints = list(imprints)
    for tmp in folder.iterdir():
        if is_checkpoint_temp(tmp, imprints):
            tmp.unlink(missing_ok=True)


def _failure(exc: OSError) -> type[CheckpointError]:
    """A write that failed for want of space (nothing kept) is DiskFull; any other failure is final."""
    return DiskFull if exc.errno in (errno.ENOSPC, errno.EDQUOT) else CheckpointError


def _copy(src: int, dst: int, offset: int, count: int) -> None:
    while count > 0:
        chunk = os.pread(src, min(count, 1 << 20), offset)
        if not chunk:
            raise CheckpointError("checkpoint shrank while being rewritten")
        write_all(dst, chunk)
        offset += len(chunk)
        count -= len(chunk)


def first_changed_row(path: Path, rows: Iterable[RowRecord], header_len: int) -> str | None:
    """What is wrong with the first recorded row whose bytes are not what was written; None when all hold.
    rows: the checkpoint's ledger rows in file order. Raises OSError when the file cannot be read.

    The rows tile the file from the header on, so it is read once, front to back, in large reads. Rows
    recorded before the ledger kept row hashes are checked for their place only.
    """
    with open(path, "rb", buffering=1 << 20) as f:
        f.seek(header_len)
        expected = header_len
        for row in rows:
            if row.offset != expected:
                return f"{_where(row)} does not follow the previous one (the ledger expects byte {expected})"
            data = f.read(row.length)
            if len(data) != row.length:
                return f"{_where(row)} is cut short"
            if row.row_sha256 is not None and hashlib.sha256(data).hexdigest() != row.row_sha256:
                return f"{_where(row)} is not what was written"
            expected = row.offset + row.length
    return None


def _where(row: RowRecord) -> str:
    return f"the row of {row.source} (ISBN {row.isbn or '-'}) at byte {row.offset}"
