"""The facts the reading child gives of one PDF (sidecar/store/pdf_facts.py), with PDFs built in each test."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import ArrayObject, FloatObject, NameObject, NumberObject

from sidecar.store import pdf_facts
from sidecar.store.pdf_facts import read_facts

from test_preflight import PT, interior

ENCRYPTED = {"unreadable": "encrypted: LSI's premedia cannot open it (PDF/X-1a allows no encryption); "
                           "export it without security", "rule": "file-readable"}


def _raw_pdf(objects: dict[int, bytes], trailer: bytes, version: bytes = b"1.4") -> bytes:
    """A PDF of these numbered objects, with a classic cross-reference table and this trailer's entries."""
    out, offsets = bytearray(b"%PDF-" + version + b"\n"), {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref, size = len(out), max(objects) + 1
    out += b"xref\n0 %d\n" % size + b"".join(
        b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n" for n in range(size))
    out += b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (size, trailer, xref)
    return bytes(out)


def _shared_forms(pages: int, names: int) -> bytes:
    """Each page names one form `names` times; forms nest 4 levels, each naming the next `names` times;
    the innermost names an embedded TrueType font. Every name points to the same few objects."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
               2: b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (100 + i) for i in range(pages))
                  + b"] /Count %d >>" % pages,
               5: b"<< /GTS_PDFXVersion (PDF/X-1a:2001) >>",
               20: b"<< /Type /Font /Subtype /TrueType /BaseFont /ABCDEF+Arial /FontDescriptor 21 0 R >>",
               21: b"<< /Type /FontDescriptor /FontName /ABCDEF+Arial /FontFile2 22 0 R >>",
               22: b"<< /Length 0 >>\nstream\n\nendstream"}
    for level in range(4):
        named = b" ".join(b"/A%d %d 0 R" % (j, 11 + level) for j in range(names))
        resources = b"/XObject << " + named + b" >>" if level < 3 else b"/Font << /F1 20 0 R >>"
        objects[10 + level] = (b"<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources << " + resources
                               + b" >> /Length 0 >>\nstream\n\nendstream")
    for i in range(pages):
        objects[100 + i] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 432 648] /Resources << /XObject << "
                            + b" ".join(b"/A%d 10 0 R" % j for j in range(names)) + b" >> >> >>")
    return _raw_pdf(objects, b"/Root 1 0 R /Info 5 0 R")


def test_a_form_named_many_times_on_many_pages_is_looked_into_once(tmp_path, monkeypatch):
    path = tmp_path / "shared.pdf"
    path.write_bytes(_shared_forms(pages=222, names=12))  # 12^4 names a page, were each walked: 62 KB, 222 pages
    looked: list[int] = []
    original = pdf_facts._is_form

    def once(reader, xobject):
        assert xobject.idnum not in looked, f"form {xobject.idnum} looked into again"
        looked.append(xobject.idnum)
        return original(reader, xobject)

    monkeypatch.setattr(pdf_facts, "_is_form", once)
    facts = read_facts(str(path))
    assert facts == {"page_count": 222, "geometry_pages": 222,
                     "geometry": [{"first": 1, "count": 111, "media": [0.0, 0.0, 432.0, 648.0], "trim": None,
                                   "bleed": None},
                                  {"first": 2, "count": 111, "media": [0.0, 0.0, 432.0, 648.0], "trim": None,
                                   "bleed": None}],
                     "fonts_not_embedded": [], "fonts_not_embedded_count": 0, "pdfx": "PDF/X-1a:2001"}
    assert sorted(looked) == [10, 11, 12, 13]


def test_a_font_not_embedded_in_a_shared_form_is_found_once_and_a_form_deeper_than_4_levels_is_not_looked_into(
        tmp_path):
    data = _shared_forms(pages=4, names=2).replace(b"/FontFile2 22 0 R", b"")
    path = tmp_path / "shared.pdf"
    path.write_bytes(data)
    facts = read_facts(str(path))
    assert (facts["fonts_not_embedded"], facts["fonts_not_embedded_count"]) == (["ABCDEF+Arial"], 1)
    deeper = data.replace(b"/Resources << /Font << /F1 20 0 R >> >>",  # the innermost form names a fifth level
                          b"/Resources << /XObject << /A0 23 0 R >> >>")
    deeper = deeper.replace(b"xref", b"23 0 obj\n<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources "
                            b"<< /Font << /F1 20 0 R >> >> /Length 0 >>\nstream\n\nendstream\nendobj\nxref", 1)
    path.write_bytes(_rebuilt(deeper))
    assert read_facts(str(path))["fonts_not_embedded_count"] == 0


def _rebuilt(data: bytes) -> bytes:
    """The same objects with their cross-reference table worked out again (after an edit moved them)."""
    import re

    objects = {int(m[1]): m[2] for m in re.finditer(rb"(\d+) 0 obj\n(.*?)\nendobj\n", data, re.S)}
    return _raw_pdf(objects, re.search(rb"trailer\n<< /Size \d+ (.*?) >>", data)[1])


def _page(writer: PdfWriter, media: list[float], **entries: object):
    page = writer.add_blank_page(1, 1)
    page[NameObject("/MediaBox")] = ArrayObject(FloatObject(v) for v in media)
    for key, value in entries.items():
        if key in ("TrimBox", "BleedBox"):
            value = ArrayObject(FloatObject(v) for v in value)  # type: ignore[attr-defined]
        page[NameObject(f"/{key}")] = value
    return page


def _geometry(tmp_path: Path, writer: PdfWriter) -> list[dict[str, object]]:
    path = tmp_path / "boxes.pdf"
    writer.write(path)
    return [{k: g[k] for k in ("media", "trim", "bleed")} for g in read_facts(str(path))["geometry"]]


def test_a_box_given_by_its_other_two_corners_is_measured_the_same(tmp_path):
    writer = PdfWriter()
    _page(writer, [432, 648, 0, 0], TrimBox=[441, 9, 9, 657], BleedBox=[0, 666, 450, 0])
    assert _geometry(tmp_path, writer) == [
        {"media": [0.0, 0.0, 432.0, 648.0], "trim": [9.0, 9.0, 441.0, 657.0], "bleed": [0.0, 0.0, 450.0, 666.0]}]


def test_a_page_rotated_90_or_270_is_measured_as_printed_with_its_edges_turned(tmp_path):
    writer = PdfWriter()
    # 6 x 9 in (with bleed) lying on its side, bleed on its left, bottom and right edges as stored: turned a
    # quarter clockwise (90) they are the top, left and bottom edges; at 270 (-90) the bottom, right and top
    boxes = {"TrimBox": [9, 9, 657, 441], "BleedBox": [0, 0, 666, 441]}
    _page(writer, [0, 0, 666, 441], Rotate=NumberObject(90), **boxes)
    _page(writer, [0, 0, 666, 441], Rotate=NumberObject(-90), **boxes)
    _page(writer, [0, 0, 666, 441], Rotate=NumberObject(180), **boxes)
    assert _geometry(tmp_path, writer) == [
        {"media": [0.0, 0.0, 441.0, 666.0], "trim": [9.0, 9.0, 441.0, 657.0], "bleed": [0.0, 0.0, 441.0, 666.0]},
        {"media": [0.0, 0.0, 441.0, 666.0], "trim": [0.0, 9.0, 432.0, 657.0], "bleed": [0.0, 0.0, 441.0, 666.0]},
        {"media": [0.0, 0.0, 666.0, 441.0], "trim": [9.0, 0.0, 657.0, 432.0], "bleed": [0.0, 0.0, 666.0, 441.0]}]


def test_a_page_with_a_user_unit_is_measured_in_points_of_1_72_in(tmp_path):
    writer = PdfWriter()
    _page(writer, [0, 0, 216, 324], UserUnit=FloatObject(2))  # 216 x 324 units of 2/72 in: 6 x 9 in
    _page(writer, [0, 0, 6 * PT, 9 * PT], UserUnit=NameObject("/Two"))  # not a number: the default, 1
    assert [g["media"] for g in _geometry(tmp_path, writer)] == [[0.0, 0.0, 432.0, 648.0]] * 2


def test_an_aes_256_encrypted_file_is_reported_as_encrypted_like_an_rc4_one(tmp_path):
    zeros = lambda n: b"<" + b"00" * n + b">"  # noqa: E731
    aes = _raw_pdf({1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 432 648] >>",
                    4: b"<< /Filter /Standard /V 5 /R 6 /Length 256 /CF << /StdCF << /CFM /AESV3 /Length 32 >> >> "
                       b"/StmF /StdCF /StrF /StdCF /O " + zeros(48) + b" /U " + zeros(48) + b" /OE " + zeros(32)
                       + b" /UE " + zeros(32) + b" /Perms " + zeros(16) + b" /P -4 >>"},
                   b"/Root 1 0 R /Encrypt 4 0 R /ID [" + zeros(16) + b" " + zeros(16) + b"]", b"1.7")
    (tmp_path / "aes.pdf").write_bytes(aes)
    assert read_facts(str(tmp_path / "aes.pdf")) == ENCRYPTED
    assert read_facts(str(interior(tmp_path / "rc4.pdf", pages=2, password="secret"))) == ENCRYPTED
    writer = PdfWriter()
    writer.add_blank_page(6 * PT, 9 * PT)
    writer.encrypt("", "owner", algorithm="RC4-128")  # opens without a password, still encrypted
    writer.write(tmp_path / "open.pdf")
    assert read_facts(str(tmp_path / "open.pdf")) == ENCRYPTED


def test_a_file_that_is_not_a_pdf_says_so_whatever_its_end(tmp_path):
    page = tmp_path / "error.html"
    page.write_bytes(b"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n")
    assert read_facts(str(page)) == {"unreadable": "not a PDF: it does not start with %PDF-"}
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    assert read_facts(str(empty)) == {"unreadable": "not a PDF: it does not start with %PDF-"}
    cut = interior(tmp_path / "cut.pdf", pages=2)
    cut.write_bytes(cut.read_bytes()[:300])
    assert read_facts(str(cut)) == {
        "unreadable": "not a whole PDF: no %%EOF at its end (cut short, or still being written)"}
