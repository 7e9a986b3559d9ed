"""Reading an ACS CSV (a checkpoint, a batch file, a submission) record by record, dialect included."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, TableError
from ..rows.columns import BOM


@dataclass(frozen=True)
class Record:
    line: int  # the physical line the record starts on (the header is line 1)
    offset: int  # byte offset of the record in the file
    length: int  # bytes, terminator included
    cells: list[str]
    terminator: str  # "\r\n", "\n", or "" when the file ends inside the record (a torn tail)


@dataclass(frozen=True)
class Table:
    path: Path
    bom: bool
    header: Record
    records: list[Record]

    @property
    def columns(self) -> list[str]:
        return self.header.cells


def read_table(path: Path) -> Table:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    bom = data.startswith(BOM)
    body = data[len(BOM):] if bom else data
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TableError(f"{path} is not UTF-8 (bad byte at offset {exc.start})") from None
    records = list(_records(body, len(BOM) if bom else 0))
    if not records:
        raise TableError(f"{path} is empty")
    return Table(path=path, bom=bom, header=records[0], records=records[1:])


def _records(body: bytes, base: int) -> list[Record]:
    """Split on line ends outside quotes: a record ends at the first line end with its quotes balanced."""
    out: list[Record] = []
    position = record_start = quotes = 0
    line = record_line = 1
    while position < len(body):
        newline = body.find(b"\n", position)
        end = len(body) if newline < 0 else newline + 1
        quotes += body.count(b'"', position, end)
        position = end
        if newline >= 0 and quotes % 2 == 0:
            out.append(_record(body, base, record_start, end, record_line))
            record_start, quotes, record_line = end, 0, line + 1
        line += 1
    if record_start < len(body):
        out.append(_record(body, base, record_start, len(body), record_line))
    return out


def _record(body: bytes, base: int, start: int, end: int, line: int) -> Record:
    raw = body[start:end]
    if raw.endswith(b"\r\n"):
        terminator, text = "\r\n", raw[:-2]
    elif raw.endswith(b"\n"):
        terminator, text = "\n", raw[:-1]
    else:
        terminator, text = "", raw
    cells = next(csv.reader([text.decode("utf-8")], strict=False), [])
    return Record(line=line, offset=base + start, length=end - start, cells=cells, terminator=terminator)
