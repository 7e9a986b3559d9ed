"""Reading an ACS file (a checkpoint, a batch file, a submission, a workbook) record by record, in flat memory.

A file is read in chunks and split into records on line ends outside quotes, so that memory stays the
size of one record whatever the file's size. A record over MAX_RECORD_BYTES, a NUL byte or bytes that
are not UTF-8 make the file unreadable as an ACS table (TableError), never a hang or a memory blow-up.
"""

from __future__ import annotations

import contextlib
import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import ConfigError, InputError, TableError
from ..inputs import open_regular_file
from ..rows.columns import BOM

# No record the sidecar writes comes near this (119 cells, each within LSI's length limits).
MAX_RECORD_BYTES = 1 << 20
CHUNK_BYTES = 1 << 20
csv.field_size_limit(MAX_RECORD_BYTES)


@dataclass(frozen=True)
class Record:
    line: int  # the physical line the record starts on (the header is line 1)
    offset: int  # byte offset of the record in the file
    data: bytes  # its bytes, terminator included
    cells: list[str]
    terminator: str  # "\r\n", "\n", or "" when the file ends inside the record (a torn tail)

    @property
    def length(self) -> int:
        """The record's size in bytes (0 for a workbook's rows: they have no bytes of their own)."""
        return len(self.data)


class _Opened:
    """What every open ACS table shares: its header row, and closing it when the block ends."""

    header: Record

    @property
    def columns(self) -> list[str]:
        return self.header.cells

    def close(self) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def _closed_on_error(self) -> Iterator[None]:
        """Opening reads on: whatever it raises closes the table first."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Table(_Opened):
    """An open ACS CSV: the header is read at open; the records as records() is iterated (once)."""

    kind = "csv"

    def __init__(self, path: Path) -> None:
        """Open path and read its header. Raises ConfigError when it does not exist, TableError when it cannot
        be read as a table (not a regular file, empty, or a header that is not UTF-8 text)."""
        self.path = path
        try:
            fd, _ = open_regular_file(path)
        except FileNotFoundError:
            raise ConfigError(f"{path} does not exist") from None
        except InputError as exc:
            raise TableError(f"cannot read {path}: {exc}") from None
        self.file = os.fdopen(fd, "rb")
        self.bom = self.file.read(len(BOM)) == BOM
        if not self.bom:
            self.file.seek(0)
        self._records = self._split(len(BOM) if self.bom else 0)
        with self._closed_on_error():
            header = next(self._records, None)
            if header is None:
                raise TableError(f"{path} is empty")
        self.header: Record = header

    def records(self) -> Iterator[Record]:
        """The records after the header, in file order. Raises TableError at a record over MAX_RECORD_BYTES, a
        NUL byte or bytes that are not UTF-8; OSError when the file cannot be read."""
        return self._records

    def close(self) -> None:
        """Close the file."""
        self.file.close()

    def _split(self, offset: int) -> Iterator[Record]:
        """Records end at the first line end with their quotes balanced."""
        buf, start, scan, quotes, line = b"", 0, 0, 0, 1
        while True:
            newline = buf.find(b"\n", scan)
            if newline < 0:
                quotes += buf.count(b'"', scan)
                if len(buf) - start > MAX_RECORD_BYTES:
                    self._record(buf[start:], offset, line)  # refuses it, before reading any further
                chunk = self.file.read(CHUNK_BYTES)
                if not chunk:
                    break
                if b"\0" in chunk:
                    at = chunk.index(0)
                    where = line + buf.count(b"\n", start) + chunk.count(b"\n", 0, at)
                    raise TableError(f"{self.path} line {where} holds a NUL byte (offset {offset + len(buf) - start + at}); "
                                     "this is not a text file")
                buf, scan = buf[start:] + chunk, len(buf) - start
                start = 0
                continue
            quotes += buf.count(b'"', scan, newline + 1)
            scan = newline + 1
            if quotes % 2 == 0:
                record = self._record(buf[start:scan], offset, line)
                yield record
                offset += record.length
                line += record.data.count(b"\n")
                start, quotes = scan, 0
        if start < len(buf):
            yield self._record(buf[start:], offset, line)

    def _record(self, raw: bytes, offset: int, line: int) -> Record:
        if len(raw) > MAX_RECORD_BYTES:
            raise TableError(f"{self.path} line {line}: a record of over {MAX_RECORD_BYTES:,} bytes; "
                             "this is not an ACS file")
        if raw.endswith(b"\r\n"):
            terminator, body = "\r\n", raw[:-2]
        elif raw.endswith(b"\n"):
            terminator, body = "\n", raw[:-1]
        else:
            terminator, body = "", raw
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TableError(f"{self.path} is not UTF-8 (bad byte at offset {offset + exc.start}, line {line})") from None
        cells = next(csv.reader([text], strict=False), [])
        return Record(line=line, offset=offset, data=raw, cells=cells, terminator=terminator)


class XlsxTable(_Opened):
    """An ACS workbook (the sidecar's review export, or any workbook whose sheet "Rows", else its first
    sheet, holds ACS rows), read row by row within workbook.py's limits. Cells are the text they show."""

    kind = "xlsx"
    bom = False

    def __init__(self, path: Path) -> None:
        """Raises ConfigError when path does not exist, TableError when it is not a workbook to read."""
        self.path = path
        from .workbook import Workbook  # only for workbooks

        try:
            self.book = Workbook(path)
        except FileNotFoundError:
            raise ConfigError(f"{path} does not exist") from None
        with self._closed_on_error():
            names = [name for name, _ in self.book.sheets]
            self.sheet, part = self.book.sheets[names.index("Rows") if "Rows" in names else 0]
            self._rows = self.book.rows(part)
            first = next(self._rows, None)
            if first is None:
                raise TableError(f"{path} has no rows in its sheet {self.sheet}")
        cells = first.cells
        while cells and not cells[-1]:
            cells.pop()
        self.header = Record(line=first.number, offset=0, data=b"", cells=cells, terminator="\n")

    def records(self) -> Iterator[Record]:
        """The rows after the header, each as wide as the header. Raises TableError (workbook.py's limits)."""
        width = len(self.columns)
        for row in self._rows:
            cells = row.cells
            if len(cells) > width and not any(cells[width:]):
                cells = cells[:width]
            yield Record(line=row.number, offset=0, data=b"", cells=cells + [""] * (width - len(cells)), terminator="\n")

    def close(self) -> None:
        """Close the workbook."""
        self.book.close()


def open_table(path: Path) -> Table | XlsxTable:
    """The file as an ACS table: a workbook by its .xlsx name, otherwise a CSV. Raises what Table() and
    XlsxTable() raise."""
    return XlsxTable(path) if path.suffix.lower() == ".xlsx" else Table(path)
