"""Hand-made .xlsx files for the reader's tests: plain ones, and hostile ones (zip bombs, entity bombs)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
        '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+'
        'xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        f'2006/relationships"><Relationship Id="rId1" Type="{R}/officeDocument" Target="xl/workbook.xml"/>'
        '</Relationships>'),
    "xl/workbook.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{R}"><sheets>'
        '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        f'2006/relationships"><Relationship Id="rId1" Type="{R}/worksheet" Target="worksheets/sheet1.xml"/>'
        '</Relationships>'),
}
SHEET_START = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>'
SHEET_END = "</sheetData></worksheet>"


def sheet_xml(rows: list[list[str]], prolog: str = "") -> str:
    """A worksheet of inline strings, with an optional DTD (or anything) before the root element."""
    body = "".join(f'<row r="{n}">' + "".join(f'<c t="inlineStr"><is><t>{escape(v)}</t></is></c>' for v in row)
                   + "</row>" for n, row in enumerate(rows, start=1))
    text = SHEET_START + body + SHEET_END
    return text.replace("<worksheet", prolog + "<worksheet", 1) if prolog else text


def write_xlsx(path: Path, sheet: str | bytes, extra: dict[str, str] | None = None) -> Path:
    """A workbook with one sheet (sheet1.xml as given), deflated."""
    members = [(name, text.encode()) for name, text in {**PARTS, **(extra or {})}.items()]
    members.append(("xl/worksheets/sheet1.xml", sheet if isinstance(sheet, bytes) else sheet.encode()))
    entries = []
    for name, data in members:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        entries.append((name, c.compress(data) + c.flush(), len(data), zlib.crc32(data)))
    _write_zip(path, entries)
    return path


def write_zip_bomb(path: Path, inflated: int, cell: bytes = b"<c><v>1</v></c>", chunk_mb: int = 16) -> Path:
    """A workbook whose one row is `inflated` bytes of cells, compressed about a thousand times.

    Deflate blocks after a full flush do not depend on what came before, so one compressed chunk is
    repeated instead of compressing the whole (seconds for gigabytes). The CRC is not computed: a reader
    must refuse such a file long before it would check it."""
    chunk = cell * (chunk_mb * (1 << 20) // len(cell))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress((SHEET_START + '<row r="1">').encode()) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    count = max(1, inflated // len(chunk))
    tail = c.compress(("</row>" + SHEET_END).encode()) + c.flush()
    size = len((SHEET_START + '<row r="1">').encode()) + count * len(chunk) + len(("</row>" + SHEET_END).encode())
    entries = []
    for name, text in PARTS.items():
        data = text.encode()
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        entries.append((name, comp.compress(data) + comp.flush(), len(data), zlib.crc32(data)))
    entries.append(("xl/worksheets/sheet1.xml", head + block * count + tail, size, 0))
    _write_zip(path, entries)
    return path


def _write_zip(path: Path, entries: list[tuple[str, bytes, int, int]]) -> None:
    """A zip of deflated members: (name, deflated bytes, inflated size, CRC-32) each."""
    out, central = bytearray(), bytearray()
    for name, data, size, crc in entries:
        raw = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw), 0)
        out += raw + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                               len(raw), 0, 0, 0, 0, 0, offset) + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
