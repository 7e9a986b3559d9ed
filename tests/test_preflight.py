"""Pre-flight: the interior and cover PDFs a row names against the row, with PDFs built in each test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, RectangleObject, StreamObject

from sidecar import cli
from sidecar.rows.columns import Problem, Severity
from sidecar.rows.lsi_rules import FILE_RULES, RULES
from sidecar.rows.preflight_rules import page_count_problems, trim_inches
from sidecar.store.pdf_files import Limits, read_files
from sidecar.store.preflight import Places, RowFiles, check_rows

from helpers import checkpoints
from test_config_tree import REAL_BOOK, real_tree

PT = 72
BLEED = 9  # 1/8 in
BOOK_TYPE = "POD: 6 x 9 in or 229 x 152 mm Perfect Bound WHITE"
SPINE = 0.6032608696
ISBN = "9781608883936"
CELLS = {"ISBN or SKU": ISBN, "Title": "AI Governance: Freedom vs. Constraint", "Pages": "222",
         "Rendition /Booktype": BOOK_TYPE, "Interior Path / Filename": f"{ISBN}_ai_gover_interior.pdf",
         "Cover Path / Filename": f"{ISBN}_ai_gover_cover.pdf"}


def _font(writer: PdfWriter, embedded: bool) -> DictionaryObject:
    if not embedded:
        return writer._add_object(DictionaryObject({  # a standard-14 font named, not embedded
            NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica")}))
    program = StreamObject()
    program.set_data(b"\0" * 16)
    descriptor = DictionaryObject({NameObject("/Type"): NameObject("/FontDescriptor"),
                                   NameObject("/FontName"): NameObject("/Caslon"),
                                   NameObject("/FontFile2"): writer._add_object(program)})
    descendant = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/CIDFontType2"),
                                   NameObject("/FontDescriptor"): writer._add_object(descriptor)})
    from pypdf.generic import ArrayObject
    return writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type0"),
        NameObject("/BaseFont"): NameObject("/Caslon"),
        NameObject("/DescendantFonts"): ArrayObject([writer._add_object(descendant)])}))


def interior(path: Path, pages: int = 222, size: tuple[float, float] = (6, 9), bleed: str = "none",
             font: str | None = None, pdfx: bool = True, password: str | None = None) -> Path:
    """An interior of blank pages. bleed: none (MediaBox only), three (1/8 in on top, bottom and outside,
    with TrimBox and BleedBox), all (1/8 in on all four edges, bind side too)."""
    writer = PdfWriter()
    w, h = size[0] * PT, size[1] * PT
    for n in range(pages):
        recto = n % 2 == 0  # page 1 is a right-hand page: bound on its left edge
        if bleed == "none":
            page = writer.add_blank_page(w, h)
        else:
            extra_w = BLEED if bleed == "three" else 2 * BLEED
            page = writer.add_blank_page(w + extra_w, h + 2 * BLEED)
            left = 0 if bleed == "three" and recto else BLEED
            page.trimbox = RectangleObject([left, BLEED, left + w, BLEED + h])
            page.bleedbox = RectangleObject([0, 0, w + extra_w, h + 2 * BLEED])
        if font:
            page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
                {NameObject("/F1"): _font(writer, font == "embedded")})})
    return _write(writer, path, pdfx, password)


def cover(path: Path, width_in: float | None = None, pages: int = 1, trimbox: bool = False,
          height_in: float = 9.25) -> Path:
    writer = PdfWriter()
    full_w, full_h = (width_in if width_in is not None else 2 * 6 + SPINE + 0.25) * PT, height_in * PT
    for _ in range(pages):
        page = writer.add_blank_page(full_w, full_h)
        if trimbox:
            page.trimbox = RectangleObject([BLEED, BLEED, full_w - BLEED, full_h - BLEED])
    return _write(writer, path, True, None)


def _write(writer: PdfWriter, path: Path, pdfx: bool, password: str | None) -> Path:
    if pdfx:
        writer.add_metadata({"/GTS_PDFXVersion": "PDF/X-1a:2001"})
    if password:
        writer.encrypt(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.write(path)
    return path


def check_row(line: int, cells: dict[str, str], book: dict, root: Path | None, imprint: str, places: Places,
              limits: Limits = Limits()):
    [check] = check_rows([RowFiles(line, cells, book, root, imprint)], places, limits)
    return check


def located(role: str, cells: dict[str, str], book: dict, root: Path | None, places: Places) -> tuple[str | None, str]:
    """The file pre-flight found for the row's role, and its not-found message (blank when found)."""
    check = check_row(2, cells, book, root, "xynapse_traces", places)
    return check.files[role], "".join(f.message for f in check.findings if f.rule == "file-found" and f.role == role)


def messages(tmp_path: Path, cells: dict[str, str] = CELLS, spine: float | None = SPINE) -> list[str]:
    """Preflight of one row whose files are in tmp_path/files: each problem as 'severity rule: role: message'."""
    book = {"spine_width_in": spine} if spine is not None else {}
    check = check_row(2, cells, book, None, "xynapse_traces", Places(files=tmp_path / "files"))
    return [f"{f.severity} {f.rule}: {f.role}: {f.message}" for f in check.findings]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """The right files for CELLS: a 222-page 6 x 9 interior without bleed and its cover."""
    folder = tmp_path / "files"
    interior(folder / CELLS["Interior Path / Filename"])
    cover(folder / CELLS["Cover Path / Filename"])
    return folder


def test_the_right_files_have_no_problem(tmp_path, files):
    assert messages(tmp_path) == []


def test_an_interior_with_correct_bleed_on_the_three_trim_edges_has_no_problem(tmp_path, files):
    interior(files / CELLS["Interior Path / Filename"], bleed="three")
    assert messages(tmp_path) == []


def test_an_interior_with_bleed_on_the_bind_side_is_refused(tmp_path, files):
    interior(files / CELLS["Interior Path / Filename"], bleed="all")
    assert messages(tmp_path) == [
        "error interior-bind-bleed: interior: 222 of 222 pages have bleed of 0.125 in on the left (bind) edge "
        "(first: page 1); LSI accepts no bleed on the bind side"]


def test_an_interior_one_page_short_is_refused_with_both_counts_and_the_odd_count(tmp_path, files):
    interior(files / CELLS["Interior Path / Filename"], pages=221)
    assert messages(tmp_path) == [
        "error page-count: interior: 221 pages in the PDF, the row's Pages says 222",
        "error pages: interior: 221 pages, an odd number; LSI's final page count is even"]


def test_an_odd_page_count_that_the_row_agrees_with_is_still_refused(tmp_path, files):
    interior(files / CELLS["Interior Path / Filename"], pages=223)
    assert messages(tmp_path, {**CELLS, "Pages": "223"}) == [
        "error pages: interior: 223 pages, an odd number; LSI's final page count is even"]


def test_a4_pages_for_a_6_x_9_book_are_refused(tmp_path, files):
    interior(files / CELLS["Interior Path / Filename"], size=(595.276 / PT, 841.89 / PT))
    assert messages(tmp_path) == [
        "error interior-trim: interior: 222 of 222 pages are 8.268 x 11.693 in (MediaBox, no TrimBox) "
        "(first: page 1); the trim of the book type is 6 x 9 in or 5.984 x 9.016 in"]


def test_pages_of_the_book_type_s_metric_size_pass_and_a_custom_trim_is_the_row_s(tmp_path, files):
    interior(files / CELLS["Interior Path / Filename"], size=(152 / 25.4, 229 / 25.4))  # "6 x 9 in or 229 x 152 mm"
    assert messages(tmp_path) == []
    custom = {**CELLS, "Rendition /Booktype": "POD: B&W Custom Trim Size Perfect Bound on White w/Matte Lam",
              "Custom Trim Width (inches)": "5.25", "Custom Trim Height (inches)": "7.75"}
    interior(files / CELLS["Interior Path / Filename"], size=(5.25, 7.75))
    cover(files / CELLS["Cover Path / Filename"], width_in=2 * 5.25 + SPINE + 0.25, height_in=7.75 + 0.25)
    assert messages(tmp_path, custom) == []
    interior(files / CELLS["Interior Path / Filename"], size=(6, 9))
    assert messages(tmp_path, custom) == [
        "error interior-trim: interior: 222 of 222 pages are 6 x 9 in (MediaBox, no TrimBox) (first: page 1); "
        "the trim of the book type is 5.25 x 7.75 in"]
    assert messages(tmp_path, {**custom, "Custom Trim Height (inches)": ""}) == [
        "warning interior-not-checked: interior: trim and bleed not checked: the row's Custom Trim Width (inches) "
        "and Custom Trim Height (inches) are not both sizes",
        "warning cover-not-checked: cover: size not checked: the book type "
        "'POD: B&W Custom Trim Size Perfect Bound on White w/Matte Lam' names no trim (in inches, or the row's "
        "custom trim)"]


def test_a_font_that_is_not_embedded_is_named_and_an_embedded_one_is_not(tmp_path, files):
    interior(files / CELLS["Interior Path / Filename"], font="embedded")
    assert messages(tmp_path) == []
    interior(files / CELLS["Interior Path / Filename"], font="named")
    assert messages(tmp_path) == ["error fonts-embedded: interior: 1 font not embedded: Helvetica"]


def test_a_font_inside_a_form_is_found_without_reading_the_page_s_image(tmp_path, files, monkeypatch):
    from pypdf.generic import DecodedStreamObject, NumberObject

    from sidecar.store.pdf_facts import read_facts

    writer = PdfWriter()
    form = DecodedStreamObject()
    form.set_data(b"")
    form.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
                 NameObject("/BBox"): RectangleObject([0, 0, 10, 10]),
                 NameObject("/Resources"): DictionaryObject({NameObject("/Font"): DictionaryObject(
                     {NameObject("/F9"): _font(writer, embedded=False)})})})
    image = DecodedStreamObject()
    image.set_data(b"\xff" * 3_000_000)
    image.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                  NameObject("/Width"): NumberObject(1000), NameObject("/Height"): NumberObject(1000),
                  NameObject("/ColorSpace"): NameObject("/DeviceRGB"), NameObject("/BitsPerComponent"): NumberObject(8)})
    for _ in range(222):
        page = writer.add_blank_page(6 * PT, 9 * PT)
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): DictionaryObject(
            {NameObject("/Fm1"): writer._add_object(form), NameObject("/Im1"): writer._add_object(image)})})
    path = _write(writer, files / CELLS["Interior Path / Filename"], True, None)
    assert messages(tmp_path) == ["error fonts-embedded: interior: 1 font not embedded: Helvetica"]
    read: list[int] = []
    original = StreamObject.initialize_from_dictionary

    def spy(data):  # every stream pypdf reads from the file passes here with its bytes
        read.append(len(data.get("__streamdata__", b"")))
        return original(data)

    monkeypatch.setattr(StreamObject, "initialize_from_dictionary", staticmethod(spy))
    assert read_facts(str(path))["fonts_not_embedded"] == ["Helvetica"]
    assert 3_000_000 not in read and read  # the form's stream was read, the image's never
    from pypdf import PdfReader

    PdfReader(path).pages[0]["/Resources"]["/XObject"]["/Im1"].get_object()
    assert 3_000_000 in read  # what resolving the image would have cost


def test_a_file_that_is_not_pdf_x_1a_is_a_warning(tmp_path, files):
    interior(files / CELLS["Interior Path / Filename"], pdfx=False)
    assert messages(tmp_path) == [
        "warning pdf-x1a: interior: not PDF/X-1a (declares no PDF/X version); LSI asks for PDF/X-1a:2001"]


def test_a_cover_a_tenth_of_an_inch_too_narrow_is_refused_with_the_sum(tmp_path, files):
    cover(files / CELLS["Cover Path / Filename"], width_in=2 * 6 + SPINE + 0.25 - 0.1)
    assert messages(tmp_path) == [
        "error cover-size: cover: 12.753 x 9.25 in (MediaBox, no TrimBox), expected 12.853 x 9.25 in: "
        "2 x 6 in trim + 0.603 in spine + 2 x 0.125 in bleed (tolerance 1/32 in)"]


def test_a_cover_with_a_trimbox_is_measured_without_its_bleed(tmp_path, files):
    cover(files / CELLS["Cover Path / Filename"], trimbox=True)
    assert messages(tmp_path) == []
    cover(files / CELLS["Cover Path / Filename"], width_in=2 * 6 + SPINE + 0.25 + 0.1, trimbox=True)
    assert messages(tmp_path) == [
        "error cover-size: cover: 12.703 x 9 in (TrimBox), expected 12.603 x 9 in: 2 x 6 in trim + 0.603 in spine "
        "(tolerance 1/32 in)"]


@pytest.mark.parametrize("pages", [2, 0])
def test_a_cover_of_two_pages_or_none_is_refused(tmp_path, files, pages):
    cover(files / CELLS["Cover Path / Filename"], pages=pages)
    assert messages(tmp_path) == [
        f"error cover-one-page: cover: {pages} pages; LSI wants the whole cover (back, spine, front) on one page"]


def test_the_cover_of_another_binding_or_an_unknown_spine_is_reported_not_checked(tmp_path, files):
    case = "POD: 6 x 9 in or 229 x 152 mm Case Laminate on White w/Gloss Lam"
    assert messages(tmp_path, {**CELLS, "Rendition /Booktype": case}) == [
        f"warning cover-not-checked: cover: size not checked: the book type '{case}' is not perfect bound"]
    assert messages(tmp_path, spine=None) == [
        "warning cover-not-checked: cover: size not checked: the book's spine_width_in is unknown"]


def test_a_missing_file_is_a_problem_naming_where_it_was_looked_for(tmp_path, files):
    (files / CELLS["Cover Path / Filename"]).unlink()
    assert messages(tmp_path) == [
        f"error file-found: cover: not found; looked for {files / CELLS['Cover Path / Filename']}"]


def test_the_pipeline_s_places_are_looked_at_when_the_files_folder_lacks_the_file(tmp_path):
    root = tmp_path / "codexes"
    (tmp_path / "files").mkdir()
    places = Places(files=tmp_path / "files", templates={
        "interior": "{imprint}_build/interior/{title_slug}_interior.pdf",
        "cover": "{imprint}_build/covers/{title_slug}_cover.pdf"})
    book = {"full_spread_pdf_path": "output/xynapse_traces_build/covers/AI_Governance_Freedom_vs_Constraint_cover_spread.pdf"}
    assert located("cover", CELLS, book, root, places) == (None, "not found; looked for " + ", ".join([
        str(tmp_path / "files" / f"{ISBN}_ai_gover_cover.pdf"),
        str(root / "output/xynapse_traces_build/covers/AI_Governance_Freedom_vs_Constraint_cover_spread.pdf"),
        str(root / "output/xynapse_traces_build/covers/AI_Governance_Freedom_vs_Constraint_cover.pdf")]))
    spread = cover(root / book["full_spread_pdf_path"])
    assert located("cover", CELLS, book, root, places) == (str(spread), "")
    made = interior(root / "output/xynapse_traces_build/interior/AI_Governance_Freedom_vs_Constraint_interior.pdf")
    assert located("interior", CELLS, book, root, places) == (str(made), "")


def test_a_files_folder_not_there_yet_and_a_template_the_row_cannot_fill_are_named_as_such(tmp_path):
    places = Places(files=tmp_path / "share", templates={"interior": "{imprint}_build/{series}_{isbn}_interior.pdf"})
    assert located("interior", {**CELLS, "ISBN or SKU": ""}, {}, tmp_path, places) == (None, "not found; looked for " + ", ".join([
        f"{tmp_path / 'share'} (the files folder: missing)",
        "the tranche's interior template '{imprint}_build/{series}_{isbn}_interior.pdf' ({series} is not one of "
        "{isbn}, {title}, {title_slug}, {slug8}, {imprint}, {author}; the row gives no {isbn})"]))
    # The fields conversion fills a file name with: {slug8} as the default names use it.
    places = Places(templates={"interior": "{imprint}_build/interior/{isbn}_{slug8}_interior.pdf"})
    made = interior(tmp_path / "output" / "xynapse_traces_build" / "interior" / CELLS["Interior Path / Filename"])
    assert located("interior", CELLS, {}, tmp_path, places) == (str(made), "")


def test_a_truncated_file_is_one_problem_with_its_reason(tmp_path, files):
    path = files / CELLS["Interior Path / Filename"]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _old(path)
    assert messages(tmp_path) == [
        "error file-readable: interior: not a whole PDF: no %%EOF at its end (cut short, or still being written)"]


def test_a_cut_file_put_in_place_a_moment_ago_is_judged_once_it_has_held_still(tmp_path, files):
    path = files / CELLS["Interior Path / Filename"]
    path.write_bytes(path.read_bytes()[:5000])
    assert messages(tmp_path) == [
        "error file-readable: interior: not a whole PDF: no %%EOF at its end (cut short, or still being written)"]


def test_a_cut_file_dated_ahead_of_the_clock_is_judged_at_once(tmp_path, files):
    path = files / CELLS["Interior Path / Filename"]
    path.write_bytes(path.read_bytes()[:5000])
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 3600 * 10**9))  # a file server's clock an hour ahead
    assert read_files({"a": path}, patient=False)["a"] == {
        "unreadable": "not a whole PDF: no %%EOF at its end (cut short, or still being written)"}


def test_a_file_still_being_written_is_not_judged_and_that_is_no_pass(tmp_path, files):
    path = files / CELLS["Interior Path / Filename"]
    path.write_bytes(path.read_bytes()[:5000])
    done = threading.Event()

    def write_on() -> None:  # a slow writer: a byte every 0.2 s until the check is over
        while not done.wait(0.2):
            with open(path, "ab") as f:
                f.write(b" ")

    writer = threading.Thread(target=write_on)
    writer.start()
    try:
        [message] = messages(tmp_path)
    finally:
        done.set()
        writer.join()
    assert message.startswith("error file-settled: interior: ")
    assert message.endswith("not judged yet")


def test_an_encrypted_file_is_one_problem_with_its_reason(tmp_path, files):
    interior(files / CELLS["Interior Path / Filename"], password="secret")
    assert messages(tmp_path) == [
        "error file-readable: interior: encrypted: LSI's premedia cannot open it (PDF/X-1a allows no encryption); "
        "export it without security"]


def test_a_file_that_is_not_a_pdf_or_not_a_regular_file_is_one_problem(tmp_path, files):
    import os

    path = files / CELLS["Interior Path / Filename"]
    path.write_bytes(b"<html>not found</html>\n%%EOF\n")
    _old(path)
    assert messages(tmp_path) == ["error file-readable: interior: not a PDF: it does not start with %PDF-"]
    path.unlink()
    os.mkfifo(path)
    assert messages(tmp_path) == ["error file-readable: interior: it is not a regular file (it is a named pipe)"]


def test_reading_is_stopped_at_the_time_and_memory_limits_with_one_problem_per_file(tmp_path, files):
    book = {"spine_width_in": SPINE}
    slow = check_row(2, CELLS, book, None, "", Places(files=files), Limits(seconds=0))
    assert [(f.rule, f.role, f.message) for f in slow.findings] == [
        ("file-limits", role, "not checked: reading it took over 0 s (the limit); stopped")
        for role in ("interior", "cover")]
    big = check_row(2, CELLS, book, None, "", Places(files=files), Limits(memory_bytes=1 << 20))
    assert [(f.rule, f.message) for f in big.findings] == [
        ("file-limits", "not checked: reading it needed over 1 MB (the limit); stopped")] * 2


def test_rows_read_together_keep_each_file_s_problem_to_its_own_row(tmp_path, files):
    cut = interior(files / "cut.pdf")
    cut.write_bytes(cut.read_bytes()[:3000])
    _old(cut)
    interior(files / "short.pdf", pages=220)
    rows = [RowFiles(2, CELLS, {"spine_width_in": SPINE}, None, ""),
            RowFiles(3, {**CELLS, "Interior Path / Filename": "cut.pdf"}, {"spine_width_in": SPINE}, None, ""),
            RowFiles(4, {**CELLS, "Interior Path / Filename": "short.pdf"}, {"spine_width_in": SPINE}, None, "")]
    checks = check_rows(rows, Places(files=files))
    assert [(c.line, [(f.rule, f.role) for f in c.findings]) for c in checks] == [
        (2, []), (3, [("file-readable", "interior")]), (4, [("page-count", "interior")])]


def test_a_stray_module_in_the_current_folder_is_not_imported_by_the_reading_child(tmp_path, files):
    (tmp_path / "pypdf.py").write_text("raise SystemExit('a stray pypdf.py was imported')\n")  # tests run in tmp_path
    assert messages(tmp_path) == []


def test_page_count_problems_join_the_metadata_rules_as_problems_on_pages():
    assert page_count_problems(222, "222") == []
    assert page_count_problems(221, "") == [
        Problem("page-count", Severity.ERROR, "Pages", "interior: 221 pages in the PDF, the row's Pages is blank"),
        Problem("pages", Severity.ERROR, "Pages", "interior: 221 pages, an odd number; LSI's final page count is even")]


def test_every_rule_has_a_source_page_and_a_fix_and_the_trim_comes_from_the_book_type():
    for rule in FILE_RULES:
        assert rule.id in RULES and rule.sources[0].url.startswith("https://") and rule.fix
    assert trim_inches(BOOK_TYPE) == (6.0, 9.0)
    assert trim_inches("POD: 6.14 x 9.21in or 234 x 156mm (Royal 8vo) Case Laminate WHITE") == (6.14, 9.21)
    assert trim_inches("eBook: Unencrypted Adobe Acrobat") is None
    rules_doc = (Path(__file__).resolve().parents[1] / "docs" / "preflight.md").read_text()
    for rule in FILE_RULES:
        assert f"`{rule.id}`" in rules_doc and rule.sources[0].url in rules_doc, rule.id


def _old(path: Path) -> None:
    """Date a file back a minute: it is not being written."""
    import os

    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 60_000_000_000))


def _real_book_checkpoint(shared: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    tree = real_tree(shared, tmp_path)
    folder = tmp_path / "output" / "xynapse_traces_build" / "processed_json"
    folder.mkdir(parents=True)
    (folder / REAL_BOOK).write_bytes((shared / "examples" / REAL_BOOK).read_bytes())
    flags = ["--watch", str(folder), "--checkpoint-dir", str(tmp_path / "data"), "--pipeline-configs", str(tree),
             "--tranche", "xynapse_tranche_1"]
    assert cli.main(["--once", *flags]) == cli.EXIT_OK
    return checkpoints(tmp_path / "data")[0], flags


def test_the_real_book_with_a_222_page_interior_and_its_cover_in_the_pipeline_s_places_is_clean(
        shared, tmp_path, capsys):
    checkpoint, flags = _real_book_checkpoint(shared, tmp_path)
    build = tmp_path / "output" / "xynapse_traces_build"
    interior(build / "interior" / "AI_Governance_Freedom_vs_Constraint_interior.pdf", bleed="three")
    cover(build / "covers" / "AI_Governance_Freedom_vs_Constraint_cover_spread.pdf")
    capsys.readouterr()
    assert cli.main(["preflight", *flags]) == cli.EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out == [f"files of    {checkpoint}", " line  ISBN           errors  warnings  title",
                   f"    2  {ISBN}       0         0  AI Governance: Freedom vs. Constraint", "files clean"]


def test_preflight_and_verify_with_files_report_the_real_book_s_short_interior_and_exit_1(shared, tmp_path, capsys):
    checkpoint, flags = _real_book_checkpoint(shared, tmp_path)
    files = tmp_path / "upload"
    interior(files / f"{ISBN}_ai_gover_interior.pdf", pages=220)
    cover(files / f"{ISBN}_ai_gover_cover.pdf")
    capsys.readouterr()
    assert cli.main(["preflight", str(checkpoint), "--files", str(files), *flags, "--json"]) == cli.EXIT_REJECTED
    report = json.loads(capsys.readouterr().out)
    assert report["clean"] is False
    [book] = report["books"]
    assert book["files"] == {"interior": str(files / f"{ISBN}_ai_gover_interior.pdf"),
                             "cover": str(files / f"{ISBN}_ai_gover_cover.pdf")}
    assert book["problems"] == [{"rule": "page-count", "severity": "error", "file": "interior",
                                 "message": "220 pages in the PDF, the row's Pages says 222",
                                 "fix": RULES["page-count"].fix}]
    assert cli.main(["verify", str(checkpoint), "--files", str(files), *flags]) == cli.EXIT_REJECTED
    out = capsys.readouterr().out.splitlines()
    assert f"  line 2 ({ISBN}) error: interior: 220 pages in the PDF, the row's Pages says 222 [page-count]" in out
    assert out[-1] == "files NOT CLEAN"
    assert cli.main(["verify", str(checkpoint), "--files", str(files), "--json", *flags]) == cli.EXIT_REJECTED
    verified = json.loads(capsys.readouterr().out)
    assert verified["files"]["books"] == report["books"] and verified["files"]["clean"] is False
    assert verified["clean"] is False  # as the exit code says: the rows' own checks and the files' together
    interior(files / f"{ISBN}_ai_gover_interior.pdf", pages=222)
    assert cli.main(["preflight", str(checkpoint), "--files", str(files), *flags]) == cli.EXIT_OK


def test_the_files_setting_comes_from_the_config_file_the_environment_or_the_flag_and_is_not_empty(tmp_path):
    from sidecar.errors import ConfigError
    from sidecar.settings import load_settings

    (tmp_path / "upload").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text("files: upload\n")
    assert load_settings({"config": str(config)}, {}, need_watch=False).files == tmp_path / "upload"
    assert load_settings({}, {"SIDECAR_FILES": str(tmp_path)}, need_watch=False).files == tmp_path
    assert load_settings({"files": str(tmp_path / "upload")}, {}, need_watch=False).files == tmp_path / "upload"
    # A share not mounted yet: the settings load (nothing else waits for it); pre-flight names the folder.
    assert load_settings({"files": str(tmp_path / "nowhere")}, {}, need_watch=False).files == tmp_path / "nowhere"
    with pytest.raises(ConfigError) as raised:
        load_settings({"files": ""}, {}, need_watch=False)
    assert str(raised.value) == "files is empty; give the folder the interior and cover PDFs are uploaded from"


def test_a_page_tree_fanned_out_to_millions_of_pages_stops_at_pypdf_s_limit_as_one_problem(tmp_path, files):
    n = 2000  # a 24 KB file whose page tree names 2000 x 2000 pages
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Count %d /Kids [" % (n * n) + b"3 0 R " * n + b"] >>",
               b"<< /Type /Pages /Parent 2 0 R /Count %d /Kids [" % n + b"4 0 R " * n + b"] >>",
               b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 432 648] >>"]
    data, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(data))
        data += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(data)
    data += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    data += b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    path = files / CELLS["Interior Path / Filename"]
    path.write_bytes(bytes(data))
    _old(path)
    assert messages(tmp_path) == [
        "error file-readable: interior: not a readable PDF (LimitReachedError: Maximum page tree entry limit "
        "reached: 100001 > 100000.)"]


def test_with_files_set_status_once_and_the_review_workbook_count_rows_whose_files_are_wrong(
        shared, tmp_path, capsys, monkeypatch):
    from openpyxl import load_workbook

    checkpoint, flags = _real_book_checkpoint(shared, tmp_path)
    files = tmp_path / "upload"
    interior(files / f"{ISBN}_ai_gover_interior.pdf", pages=221)
    cover(files / f"{ISBN}_ai_gover_cover.pdf")
    capsys.readouterr()
    monkeypatch.setenv("SIDECAR_FILES", str(files))
    assert cli.main(["status", *flags]) == cli.EXIT_OK
    out = capsys.readouterr().out.splitlines()
    fix = RULES["page-count"].fix
    assert out[out.index("  files       0 of 1 rows' files agree with them") + 1:][:2] == [
        f"    file problem: interior page-count (1 rows): {fix}",
        f"    file problem: interior pages (1 rows): {RULES['pages'].fix}"]
    assert cli.main(["--once", "--require-ready", *flags]) == cli.EXIT_NOT_READY
    out, err = capsys.readouterr()
    assert out.splitlines()[1:] == ["sidecar: files: 0 of 1 rows' files agree with them"]
    assert (f"WARNING 1 of 1 rows have file problems (sidecar preflight lists them): interior page-count (1 rows: {fix}); "
            f"interior pages (1 rows: {RULES['pages'].fix})") in err
    output = tmp_path / "review.xlsx"
    assert cli.main(["export", str(checkpoint), "--format", "xlsx", "--output", str(output), *flags]) == cli.EXIT_OK
    book = load_workbook(output, read_only=True)
    problems = [[c.value for c in row] for row in book["Problems"].iter_rows(min_row=2)]
    assert [p[3:] for p in problems if p[3].endswith("Path / Filename")] == [
        ["Interior Path / Filename", "error", "page-count", "interior: 221 pages in the PDF, the row's Pages says 222",
         fix],
        ["Interior Path / Filename", "error", "pages", "interior: 221 pages, an odd number; LSI's final page count is "
         "even", RULES["pages"].fix]]
    monkeypatch.delenv("SIDECAR_FILES")
    assert cli.main(["--once", "--require-ready", *flags]) == cli.EXIT_NOT_READY  # the row's own problems only
    assert "file problems" not in capsys.readouterr().err


def test_verify_and_preflight_keep_their_exit_code_when_their_reader_goes_away(shared, tmp_path):
    submitted = shared / "examples" / "xynapse_traces_tranche1_submitted.csv"
    for command in (["verify", str(submitted)], ["preflight", str(submitted), "--files", str(tmp_path)]):
        proc = subprocess.Popen([sys.executable, "-m", "sidecar", *command], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=tmp_path)
        assert proc.stdout is not None
        proc.stdout.close()  # `sidecar verify X | head -0`: nobody reads what it prints
        _, err = proc.communicate(timeout=60)
        assert (proc.returncode, err) == (cli.EXIT_REJECTED, b""), command


def test_a_file_named_in_another_unicode_normalisation_is_found(tmp_path):
    import unicodedata

    name = "Tidewater Ünïcode Almanac_interior.pdf"
    made = interior(tmp_path / "files" / unicodedata.normalize("NFD", name))  # as a Mac writes the name
    cells = {**CELLS, "Interior Path / Filename": unicodedata.normalize("NFC", name)}
    assert located("interior", cells, {}, None, Places(files=tmp_path / "files")) == (str(made), "")
