"""Reading a workbook (.xlsx) sheet row by row, within limits, with XML that can neither expand nor reach out.

An .xlsx file is a zip of XML parts: a small file may declare gigabytes (a zip bomb), an XML part may
declare entities that expand a billion times, a row may hold millions of cells. So the zip's directory
is checked before a part is inflated (its size, how much it inflates, all parts read together), the XML is parsed as a stream of events by a parser that refuses any DTD or entity
(defusedxml), and every row, cell and shared string is counted as it streams: memory stays the size of
one row and the shared strings, and anything past a limit is refused (TableError) with the file and
the reason, never read on. Cell text is given back as the spreadsheet shows it, with OOXML's `_xHHHH_`
escapes undone.
"""

from __future__ import annotations

import os
import posixpath
import re
import struct
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator
from xml.etree.ElementTree import ParseError

from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from ..errors import InputError, TableError
from ..inputs import open_regular_file
from .table import MAX_RECORD_BYTES
from .xlsx_text import DATE_FORMATS, Dates, column_index, is_date_format, unescape

MAX_PART_BYTES = 1 << 30  # one part, inflated (the Rows sheet of a 3,000-book review workbook: 20 MB)
MAX_TOTAL_BYTES = 2 << 30  # the parts read, inflated
MAX_RATIO = 200  # how many times a part over RATIO_FROM_BYTES may inflate (the sidecar's own: under 60)
RATIO_FROM_BYTES = 4 << 20  # smaller parts may inflate more: they cannot cost much
MAX_PARTS = 10_000
MAX_ROWS = 1_048_576  # a spreadsheet's last row
MAX_COLUMN = 16_384  # XFD, a spreadsheet's last column
MAX_COLUMNS = 1_024  # of values in an ACS sheet (it has 119 columns)
MAX_CELLS = 50_000_000  # of a sheet, with a value or not
MAX_SHARED_STRINGS = 2_000_000
MAX_SHARED_CHARS = 64 << 20
CHUNK_BYTES = 1 << 16
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_HOLDERS = {MAIN + name: name for name in ("c", "is", "si")}
_COORDINATE = re.compile(r"([A-Z]{1,3})(\d+)")


@dataclass(frozen=True)
class SheetRow:
    number: int  # the sheet's row number (1 for the first)
    cells: list[str]  # by column, "" where the sheet has no value


def _directory_entries(f: BinaryIO) -> int | None:
    """How many parts the zip's end record declares, read before zipfile reads its whole directory (a
    small file may declare millions); None when there is no end record (zipfile then says what is wrong).
    Raises OSError when the file cannot be read."""
    size = f.seek(0, 2)
    f.seek(max(0, size - (1 << 16) - 22))
    tail = f.read()
    f.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    entries: int = struct.unpack_from("<H", tail, at + 10)[0]
    locator = at - 20
    if entries == 0xFFFF and locator >= 0 and tail[locator:locator + 4] == b"PK\x06\x07":
        return MAX_PARTS + 1  # a zip64 directory: no workbook has 65,535 parts
    return entries


class Workbook:
    """An open .xlsx file: its sheet names, and one sheet's rows as a stream (see the module's limits)."""

    def __init__(self, path: Path) -> None:
        """Raises FileNotFoundError when path does not exist, TableError when it is not a workbook this
        reader takes (not a zip, a part too large or inflating too much, XML that is not plain)."""
        self.path = path
        try:
            fd, _ = open_regular_file(path)  # never blocks on a FIFO, never reads a device
        except InputError as exc:
            raise TableError(f"cannot read {path}: {exc}") from None
        self.file = os.fdopen(fd, "rb")
        try:
            entries = _directory_entries(self.file)
            if entries is not None and entries > MAX_PARTS:
                raise self.refuse(f"{entries:,} parts (at most {MAX_PARTS:,})")
            self.zip = zipfile.ZipFile(self.file)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            self.file.close()
            raise TableError(f"{path} is not an xlsx workbook ({type(exc).__name__}: {exc})") from None
        except BaseException:
            self.file.close()
            raise
        self.inflated = 0
        try:
            self.sheets = self._sheet_parts()
            self.strings = self._shared_strings()
            self.dates = self._dates()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the zip and its file."""
        self.zip.close()
        self.file.close()

    def refuse(self, reason: str) -> TableError:
        """The TableError (returned, for the caller to raise) that refuses this file as a workbook, and why."""
        return TableError(f"{self.path} is refused as a workbook: {reason}")

    def _check_size(self, part: str) -> None:
        """Before a part is inflated: its size, how much it inflates, and all parts read so far."""
        p = self.zip.getinfo(part)
        self.inflated += p.file_size
        if p.file_size > MAX_PART_BYTES or self.inflated > MAX_TOTAL_BYTES:
            raise self.refuse(f"{part} inflates to {p.file_size:,} bytes (at most {MAX_PART_BYTES:,}, and "
                              f"{MAX_TOTAL_BYTES:,} for the parts read); a zip bomb, or too large a sheet: "
                              "save it as CSV and give that")
        if p.file_size > RATIO_FROM_BYTES and p.file_size > MAX_RATIO * max(p.compress_size, 1):
            raise self.refuse(f"{part} inflates {p.file_size // max(p.compress_size, 1):,} times "
                              f"({p.compress_size:,} to {p.file_size:,} bytes; at most {MAX_RATIO} times): "
                              "a zip bomb")

    def parse(self, part: str, target: _Target) -> Iterator[None]:
        """Feed a part to target; yields after each chunk (CHUNK_BYTES) so that a caller can take what it made.
        Raises TableError (refuse()) when the part is missing, over a limit, not plain well-formed XML or unreadable."""
        try:
            self._check_size(part)
            with self.zip.open(part) as member:
                parser = DefusedXMLParser(target=target, forbid_dtd=True)
                while chunk := member.read(CHUNK_BYTES):
                    parser.feed(chunk)
                    yield
                parser.close()
                yield
        except KeyError:
            raise self.refuse(f"it has no part {part}") from None
        except DefusedXmlException as exc:
            raise self.refuse(f"{part} declares a DTD or entities ({type(exc).__name__}), which no workbook "
                              "needs") from None
        except ParseError as exc:
            raise self.refuse(f"{part} is not well-formed XML ({exc})") from None
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
            raise self.refuse(f"{part} cannot be read ({type(exc).__name__}: {exc})") from None

    def _read_small(self, part: str, target: _Target) -> _Target:
        for _ in self.parse(part, target):
            pass
        return target

    def _relations(self, part: str) -> dict[str, tuple[str, str]]:
        """A part's relationships: id -> (type, the target part's name in the zip)."""
        folder, name = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", name + ".rels")
        if rels not in self.zip.NameToInfo:
            return {}
        found: dict[str, tuple[str, str]] = {}

        def relation(attrib: dict[str, str]) -> None:
            target = attrib.get("Target", "")
            where = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            found[attrib.get("Id", "")] = (attrib.get("Type", ""), where)

        self._read_small(rels, _Elements({PACKAGE_REL + "Relationship": relation}, self))
        return found

    def _sheet_parts(self) -> list[tuple[str, str]]:
        """(name, part) of each sheet, in the workbook's order."""
        book = next((t for kind, t in self._relations("").values() if kind.endswith("/officeDocument")),
                    "xl/workbook.xml")
        relations = self._relations(book)
        sheets: list[tuple[str, str]] = []

        def sheet(attrib: dict[str, str]) -> None:
            kind, part = relations.get(attrib.get(REL + "id", ""), ("", ""))
            if kind.endswith("/worksheet"):
                sheets.append((attrib.get("name", ""), part))

        self.date1904 = False

        def properties(attrib: dict[str, str]) -> None:
            self.date1904 = attrib.get("date1904", "").lower() in ("1", "true")

        self._read_small(book, _Elements({MAIN + "sheet": sheet, MAIN + "workbookPr": properties}, self))
        self._styles = next((t for kind, t in relations.values() if kind.endswith("/styles")), None)
        self._shared = next((t for kind, t in relations.values() if kind.endswith("/sharedStrings")), None)
        if not sheets:
            raise self.refuse("it has no worksheet")
        return sheets

    def _shared_strings(self) -> list[str]:
        if self._shared is None or self._shared not in self.zip.NameToInfo:
            return []
        target = _SheetTarget(self, [], shared=True)
        self._read_small(self._shared, target)
        return target.strings

    def _dates(self) -> Dates:
        """Which cell styles show a number as a date (the style's number format)."""
        formats: dict[int, str] = {}
        styles: list[int] = []
        within = [False]

        def number_format(attrib: dict[str, str]) -> None:
            if attrib.get("numFmtId", "").isdigit():
                formats[int(attrib["numFmtId"])] = attrib.get("formatCode", "")

        def cell_styles(attrib: dict[str, str]) -> None:
            within[0] = True

        def style(attrib: dict[str, str]) -> None:
            if within[0] and len(styles) < MAX_COLUMN:
                styles.append(int(attrib["numFmtId"]) if attrib.get("numFmtId", "").isdigit() else 0)

        def other_styles(attrib: dict[str, str]) -> None:
            within[0] = False

        if self._styles is not None and self._styles in self.zip.NameToInfo:
            self._read_small(self._styles, _Elements({MAIN + "numFmt": number_format, MAIN + "cellXfs": cell_styles,
                                                      MAIN + "cellStyleXfs": other_styles, MAIN + "xf": style}, self))
        return Dates({n for n, f in enumerate(styles) if f in DATE_FORMATS or is_date_format(formats.get(f, ""))},
                     self.date1904)

    def rows(self, part: str) -> Iterator[SheetRow]:
        """The rows of a sheet that have a value, in order, as they stream. Raises TableError at the first
        thing past a limit or not well-formed, with the file and the reason."""
        target = _SheetTarget(self, self.strings)
        for _ in self.parse(part, target):
            yield from target.done
            target.done.clear()


class _Target:
    """What the XML parser calls (the TreeBuilder interface), building no tree."""

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        pass

    def end(self, tag: str) -> None:
        pass

    def data(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class _Elements(_Target):
    """Calls a function with the attributes of each element of the given names (for the small parts)."""

    def __init__(self, wanted: dict[str, Callable[[dict[str, str]], None]], book: Workbook) -> None:
        self.wanted, self.book, self.count = wanted, book, 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.count += 1
        if self.count > MAX_CELLS:
            raise self.book.refuse(f"over {MAX_CELLS:,} XML elements in one part")
        if tag in self.wanted:
            self.wanted[tag](attrib)


class _SheetTarget(_Target):
    """Rows of a worksheet (or, with shared=True, the items of the shared strings part), counted as they come."""

    def __init__(self, book: Workbook, strings: list[str], shared: bool = False) -> None:
        self.book, self.strings, self.shared, self.max_record = book, strings, shared, MAX_RECORD_BYTES
        self.done: list[SheetRow] = []
        self.row: dict[int, str] = {}
        self.row_number = self.column = self.cells = self.row_chars = self.shared_chars = 0
        self.kind = ""
        self.text: list[str] = []
        self.text_chars = 0
        self.collect = False  # inside a <v>, or a <t> that is not a phonetic reading
        self.phonetic = 0
        self.holders: Counter[str] = Counter()  # the open <c>, <is> and <si>: where a <v> or <t> is a value
        self.parts: list[str] = []
        self.style = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if self.shared and tag in (MAIN + "row", MAIN + "c") or not self.shared and tag == MAIN + "si":
            return  # a sheet's elements in the shared strings, or the reverse: not read
        if tag in _HOLDERS:
            self.holders[_HOLDERS[tag]] += 1
        if tag == MAIN + "row":
            self.row_number = int(attrib["r"]) if attrib.get("r", "").isdigit() else self.row_number + 1
            if self.row_number > MAX_ROWS:
                raise self.book.refuse(f"row {self.row_number:,} is past a sheet's last row ({MAX_ROWS:,})")
            self.row, self.column, self.row_chars = {}, 0, 0
        elif tag == MAIN + "c":
            self._cell(attrib)
        elif tag in (MAIN + "v", MAIN + "t"):
            self.collect = not self.phonetic and (
                tag == MAIN + "t" and self.holders["si"] > 0 if self.shared else
                self.holders["c"] > 0 and (self.holders["is"] > 0) == (tag == MAIN + "t"))
            self.text, self.text_chars = [], 0
        elif tag == MAIN + "rPh":
            self.phonetic += 1
        elif tag == MAIN + "si":
            self.text, self.text_chars, self.parts = [], 0, []

    def _cell(self, attrib: dict[str, str]) -> None:
        self.cells += 1
        if self.cells > MAX_CELLS:
            raise self.book.refuse(f"over {MAX_CELLS:,} cells in one sheet")
        found = _COORDINATE.fullmatch(attrib.get("r", ""))
        self.column = column_index(found.group(1)) if found else self.column + 1
        if self.column > MAX_COLUMN:
            raise self.book.refuse(f"cell {attrib.get('r') or self.column} is past a sheet's last column (XFD)")
        self.kind, self.parts = attrib.get("t", "n"), []
        self.style = int(attrib["s"]) if attrib.get("s", "").isdigit() else 0

    def data(self, text: str) -> None:
        if self.collect:
            self.text.append(text)
            self.text_chars += len(text)
            if self.text_chars > self.max_record:
                raise self.book.refuse(f"a text of over {self.max_record:,} characters "
                                       f"(row {self.row_number:,}); no ACS cell is so long")

    def end(self, tag: str) -> None:
        if self.shared and tag in (MAIN + "row", MAIN + "c") or not self.shared and tag == MAIN + "si":
            return
        if tag in _HOLDERS:
            self.holders[_HOLDERS[tag]] -= 1
        if tag in (MAIN + "v", MAIN + "t"):
            if self.collect:
                self.parts.append("".join(self.text))
            self.collect = False
        elif tag == MAIN + "rPh":
            self.phonetic -= 1
        elif tag == MAIN + "si":
            self._shared_item()
        elif tag == MAIN + "c":
            value = self._value()
            if value:
                self._put(value)
        elif tag == MAIN + "row":
            if self.row:
                width = max(self.row)
                self.done.append(SheetRow(self.row_number, [self.row.get(n, "") for n in range(1, width + 1)]))

    def _shared_item(self) -> None:
        text = self._text("".join(self.parts))
        self.shared_chars += len(text)
        if len(self.strings) >= MAX_SHARED_STRINGS or self.shared_chars > MAX_SHARED_CHARS:
            raise self.book.refuse(f"over {MAX_SHARED_STRINGS:,} shared strings or {MAX_SHARED_CHARS:,} "
                                   "characters in them")
        self.strings.append(text)

    def _text(self, text: str) -> str:
        try:
            return unescape(text)
        except ValueError:
            raise self.book.refuse(f"row {self.row_number:,}: an _xHHHH_ escape makes half of a character") from None

    def _value(self) -> str:
        raw = "".join(self.parts)
        if self.kind == "s":
            if not raw.strip().isdigit() or int(raw) >= len(self.strings):
                raise self.book.refuse(f"row {self.row_number:,} refers to shared string {raw[:20]!r}, "
                                       f"which is not there ({len(self.strings):,} strings)")
            return self.strings[int(raw)]
        if self.kind in ("inlineStr", "str"):
            return self._text(raw)
        if self.kind == "b":
            return {"1": "True", "0": "False"}.get(raw.strip(), raw)
        if self.kind == "n" and raw:
            return self.book.dates.show(raw, self.style)
        return raw

    def _put(self, value: str) -> None:
        if self.column > MAX_COLUMNS:
            raise self.book.refuse(f"a value in column {self.column:,} (row {self.row_number:,}); an ACS sheet "
                                   f"has 119 columns, and this reader takes at most {MAX_COLUMNS:,}")
        self.row_chars += len(value)
        if self.row_chars > self.max_record:
            raise self.book.refuse(f"row {self.row_number:,} holds over {self.max_record:,} characters; "
                                   "no ACS record is so long")
        self.row[self.column] = value
