"""Workbooks are read within limits: a zip bomb, an entity bomb, a cell past XFD are refusals (exit 3), never
a blow-up; OOXML escapes are undone; the review workbook never cuts a cell without saying so."""

import os
import subprocess
import sys
from datetime import date

import openpyxl
import pytest

from sidecar import cli
from sidecar.exits import EXIT_CHECKPOINT, EXIT_OK
from sidecar.rows.columns import COLUMNS
from sidecar.store.table import open_table
from sidecar.store.xlsx_text import column_index, unescape

from helpers import ROOT, book, checkpoints, write_book
from workbooks import MAIN, PARTS, sheet_xml, write_xlsx, write_zip_bomb

LAUGHS = ('<!DOCTYPE worksheet [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>')


@pytest.fixture
def checkpoint(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    write_book(folder, "a.json", book(1, title="Using _x0041_ Escapes"))
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]) == EXIT_OK
    return checkpoints(data)[0]


@pytest.mark.parametrize("command", ["verify", "compare"])
def test_a_3_mb_workbook_holding_3_gb_is_refused_at_once_in_flat_memory(tmp_path, checkpoint, command):
    bomb = write_zip_bomb(tmp_path / "bomb.xlsx", 3 << 30)
    assert bomb.stat().st_size < 8 << 20
    args = [command, bomb] if command == "verify" else [command, checkpoint, bomb]
    code, err, peak = _measured(args)
    assert code == EXIT_CHECKPOINT
    assert err.startswith(f"sidecar: {bomb} is refused as a workbook: xl/worksheets/sheet1.xml inflates to "
                          "3,221,225,447 bytes (at most 1,073,741,824")
    assert peak < 150, f"{peak:.0f} MB"


def test_a_300_kb_workbook_inflating_1000_times_is_refused_without_taking_compare_s_memory(tmp_path, checkpoint):
    bomb = write_zip_bomb(tmp_path / "bomb.xlsx", 300 << 20)
    assert bomb.stat().st_size < 1 << 20
    code, err, peak = _measured(["compare", checkpoint, bomb])
    assert code == EXIT_CHECKPOINT
    assert err.startswith(f"sidecar: {bomb} is refused as a workbook: xl/worksheets/sheet1.xml inflates 514 times")
    assert err.rstrip().endswith("at most 200 times): a zip bomb")
    assert peak < 150, f"{peak:.0f} MB"


# Started from a small launcher: a child forked from the test process itself would count the test
# process's pages in its peak until it execs.
LAUNCHER = ("import os, subprocess, sys\n"
            "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
            "err = child.stderr.read()\n"
            "_, status, usage = os.wait4(child.pid, 0)\n"
            "sys.stderr.buffer.write(err)\n"
            "print(usage.ru_maxrss)\n"
            "sys.exit(os.waitstatus_to_exitcode(status))\n")


def _measured(args):
    """The CLI's exit code, stderr and peak resident memory (MB), in a child process."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, "-m", "sidecar", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stderr, int(done.stdout) / 1024


@pytest.mark.parametrize("name, sheet, reason", [
    ("laughs", sheet_xml([["Title"], ["&d;"]], prolog=LAUGHS),
     "xl/worksheets/sheet1.xml declares a DTD or entities (DTDForbidden), which no workbook needs"),
    ("external", sheet_xml([["Title"]], prolog='<!DOCTYPE worksheet SYSTEM "file:///etc/passwd">'),
     "xl/worksheets/sheet1.xml declares a DTD or entities (DTDForbidden), which no workbook needs"),
    ("past_xfd", sheet_xml([["Title"]]).replace("<c t=", '<c r="XFE1" t=', 1),
     "cell XFE1 is past a sheet's last column (XFD)"),
    ("wide", sheet_xml([["Title"] * 1025]),
     "a value in column 1,025 (row 1); an ACS sheet has 119 columns, and this reader takes at most 1,024"),
    ("long_cell", sheet_xml([["Title"], ["x" * (1 << 20 | 1)]]),
     "a text of over 1,048,576 characters (row 2); no ACS cell is so long"),
    ("long_row", sheet_xml([["Title"] * 3, ["x" * 400_000] * 3]),
     "row 2 holds over 1,048,576 characters; no ACS record is so long"),
    ("past_last_row", sheet_xml([["Title"]]).replace('<row r="1">', '<row r="1048577">'),
     "row 1,048,577 is past a sheet's last row (1,048,576)"),
    ("bad_shared", sheet_xml([["Title"]]).replace('t="inlineStr"><is><t>Title</t></is>', 't="s"><v>7</v>'),
     "row 1 refers to shared string '7', which is not there (0 strings)"),
    ("lone_surrogate", sheet_xml([["Title"], ["_xD83D_"]]),
     "row 2: an _xHHHH_ escape makes half of a character"),
    ("not_xml", "<worksheet><sheetData><row>", "xl/worksheets/sheet1.xml is not well-formed XML (no element found"),
])
def test_a_hostile_workbook_is_refused_with_the_file_and_the_reason(tmp_path, capsys, name, sheet, reason):
    path = write_xlsx(tmp_path / f"{name}.xlsx", sheet)
    for args in (["verify", str(path)], ["compare", str(path), str(path)]):
        assert cli.main(args) == EXIT_CHECKPOINT
        err = capsys.readouterr().err
        assert err.startswith(f"sidecar: {path} is refused as a workbook: {reason}"), err
        assert err.count("\n") == 1


def test_escapes_are_undone_as_ooxml_writes_them():
    assert unescape("Using _x005F_x0041_ Escapes") == "Using _x0041_ Escapes"
    assert unescape("_x0041__x000D__x000a_") == "A\r\n"
    assert unescape("_xD83D__xDCDA_") == "📚"
    assert unescape("_x41_ and _xZZZZ_ stay") == "_x41_ and _xZZZZ_ stay"
    assert [column_index(c) for c in ("A", "Z", "AA", "DO", "XFD")] == [1, 26, 27, 119, 16_384]


def test_compare_reads_a_review_workbook_s_escaped_title_as_the_checkpoint_s(tmp_path, checkpoint, capsys):
    review = tmp_path / "review.xlsx"
    assert cli.main(["export", str(checkpoint), "--format", "xlsx", "--output", str(review)]) == EXIT_OK
    capsys.readouterr()
    assert cli.main(["compare", str(checkpoint), str(review)]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == "same content"


def test_a_workbook_made_by_another_program_is_read_as_it_shows(tmp_path, capsys):
    path = tmp_path / "other.xlsx"
    book_ = openpyxl.Workbook()
    sheet = book_.active
    sheet.append(["Title", "ISBN or SKU", "Pages", "Pub Date", "Price", "Flag"])
    sheet.append(["Shared _x0041_ text", "9781000000016", 128, None, 19.9, True])
    sheet["D2"] = date(2026, 1, 6)
    sheet["D2"].number_format = "yyyy-mm-dd"
    sheet.append([])
    sheet.append(["Row four", "9781000000023"])
    book_.save(path)
    with open_table(path) as table:
        assert table.columns == ["Title", "ISBN or SKU", "Pages", "Pub Date", "Price", "Flag"]
        assert [(r.line, r.cells) for r in table.records()] == [
            # openpyxl writes the text without escaping it, so the file holds an escape: Excel shows "A" too
            (2, ["Shared A text", "9781000000016", "128", "2026-01-06", "19.9", "True"]),
            (4, ["Row four", "9781000000023", "", "", "", ""])]


def test_the_review_workbook_flags_a_cell_it_cannot_hold_whole(tmp_path, capsys):
    header = ",".join(f'"{c}"' for c in COLUMNS)
    cells = [""] * len(COLUMNS)
    cells[COLUMNS.index("ISBN or SKU")] = "9781000000016"
    cells[COLUMNS.index("Title")] = "Long"
    cells[COLUMNS.index("Table of Contents")] = "é" * 40_000
    foreign = tmp_path / "foreign.csv"
    foreign.write_bytes(("\ufeff" + header + "\r\n" + ",".join(cells) + "\r\n").encode())
    review = tmp_path / "foreign.xlsx"
    assert cli.main(["export", str(foreign), "--format", "xlsx", "--output", str(review)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out == (f"sidecar: 1 rows (1 not LSI-ready) in the review workbook {review}; 1 cell was cut to the "
                   "32,767 characters a spreadsheet cell holds (filled and explained in the workbook)\n")
    sheet = openpyxl.load_workbook(review)["Rows"]
    toc = sheet.cell(row=2, column=COLUMNS.index("Table of Contents") + 1)
    assert toc.value == "é" * 32_767
    assert toc.fill.fgColor.rgb.endswith("F8CBAD")
    assert "cut: the checkpoint's value has 40,000 characters; this cell shows the first 32,767" in toc.comment.text
    summary = dict((row[0].value, row[1].value) for row in openpyxl.load_workbook(review)["Summary"].iter_rows())
    assert summary["Cells cut"] == "1"


def test_a_workbook_declaring_more_parts_than_any_workbook_has_is_refused_before_its_directory_is_read(tmp_path,
                                                                                                      capsys):
    path = write_xlsx(tmp_path / "parts.xlsx", sheet_xml([["Title"]]),
                      extra={f"xl/media/p{n}.bin": "" for n in range(10_001)})
    assert cli.main(["verify", str(path)]) == EXIT_CHECKPOINT
    assert capsys.readouterr().err == f"sidecar: {path} is refused as a workbook: 10,006 parts (at most 10,000)\n"


def test_cells_inside_the_shared_strings_and_shared_strings_inside_a_sheet_are_not_read(tmp_path, capsys):
    rels = PARTS["xl/_rels/workbook.xml.rels"].replace(
        "</Relationships>", '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                            'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    shared = (f'<sst xmlns="{MAIN}"><si><t>Title</t></si><si><t>Kept</t><c t="s"><v>0</v></c></si>'
              '<row r="9"><c><v>1</v></c></row></sst>')
    sheet = sheet_xml([["Title"], ["x"]]).replace('t="inlineStr"><is><t>Title</t></is>', 't="s"><v>0</v>')
    sheet = sheet.replace('<t>x</t></is>', '<t>x</t></is><si><t>not a shared string</t></si>')
    path = write_xlsx(tmp_path / "mixed.xlsx", sheet, extra={"xl/_rels/workbook.xml.rels": rels,
                                                            "xl/sharedStrings.xml": shared})
    with open_table(path) as table:
        assert table.columns == ["Title"]
        assert [(r.line, r.cells) for r in table.records()] == [(2, ["x"])]
        assert table.book.strings == ["Title", "Kept"]


def test_a_fifo_or_a_folder_named_xlsx_is_refused_without_blocking(tmp_path, capsys):
    fifo, folder = tmp_path / "pipe.xlsx", tmp_path / "folder.xlsx"
    os.mkfifo(fifo)
    folder.mkdir()
    assert cli.main(["verify", str(fifo)]) == EXIT_CHECKPOINT
    assert capsys.readouterr().err == f"sidecar: cannot read {fifo}: it is not a regular file (it is a named pipe)\n"
    assert cli.main(["verify", str(folder)]) == EXIT_CHECKPOINT
    assert capsys.readouterr().err == f"sidecar: cannot read {folder}: it is not a regular file (it is a folder)\n"
