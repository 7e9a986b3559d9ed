"""The review workbook: every cell comes back exactly, in openpyxl and through LibreOffice; nothing runs."""

import csv
import io
import os
import shutil
import subprocess
import zipfile

import openpyxl
import pytest

from sidecar import cli
from sidecar.exits import EXIT_CHECKPOINT, EXIT_OK
from sidecar.rows.columns import COLUMNS

from helpers import ROOT, book, cell, checkpoints, read_rows, write_book

TRICKY = [
    book(1, title="한국어 제목: 기계의 시간", keywords="하나; 둘"),
    book(2, title="عنوان عربي للكتاب", author="مؤلف"),
    book(3, title="Emoji 📚🚀 and \"quotes\", commas", table_of_contents="Part 1\nPart 2, \"two\"\nPart 3"),
    book(4, title='=HYPERLINK("http://example.com","click")', audience="General/Trade",
         contributor_one_location_type_code="4", list_price_usd="19.90", us_wholesale_discount="40"),
    book(5, title="+1 Strategies", isbn13="9781608883936", min_age="0"),
]


@pytest.fixture
def workbook(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    for n, data_ in enumerate(TRICKY, start=1):
        write_book(folder, f"{n}.json", data_)
    config = tmp_path / "c.yaml"
    config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {data}\n")
    assert cli.main(["--once", "--config", str(config)]) == EXIT_OK
    [checkpoint] = checkpoints(data)
    output = tmp_path / "review.xlsx"
    capsys.readouterr()
    assert cli.main(["export", str(checkpoint), "--format", "xlsx", "--output", str(output)]) == EXIT_OK
    assert capsys.readouterr().out == f"sidecar: 5 rows (5 not LSI-ready) in the review workbook {output}\n"
    return checkpoint, output


def test_every_cell_of_the_workbook_is_the_checkpoint_s_text_and_none_is_a_formula(workbook):
    checkpoint, output = workbook
    expected = [list(COLUMNS), *read_rows(checkpoint)]
    assert cell(expected[4], "Title") == '=HYPERLINK("http://example.com","click")'
    assert (cell(expected[4], "Audience"), cell(expected[4], "Contributor One Location Type Code")) == ("01", "04")
    book_ = openpyxl.load_workbook(output)
    assert book_.sheetnames == ["Rows", "Problems", "Summary"]
    formulas = [c.coordinate for ws in book_ for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []
    rows = [[c.value or "" for c in row] for row in book_["Rows"].iter_rows()]
    assert rows == expected
    assert all(c.data_type in ("s", "n") and (c.value is None or isinstance(c.value, str))
               for row in book_["Rows"].iter_rows() for c in row)
    sheet = book_["Rows"]
    assert (sheet.freeze_panes, sheet.auto_filter.ref) == ("A2", "A1:DO6")


def test_cells_with_problems_are_filled_and_explained_and_listed(workbook):
    _, output = workbook
    book_ = openpyxl.load_workbook(output)
    account = book_["Rows"].cell(row=2, column=1)  # Lightning Source Account #: blank in this config
    assert account.fill.fgColor.rgb.endswith("F8CBAD")
    assert account.comment.text == "error: blank, and LSI rejects the whole file when it is"
    problems = [[c.value for c in row] for row in book_["Problems"].iter_rows()]
    assert problems[0] == ["Row", "ISBN", "Title", "Column", "Severity", "Rule", "Reason", "What fixes it"]
    assert ["2", "9781000000016", "한국어 제목: 기계의 시간", "Lightning Source Account #", "error", "required",
            "blank, and LSI rejects the whole file when it is",
            "set 'lightning_source_account' in the tranche or books/<isbn>.json (or the book's JSON), and take it out "
            "of any blank_fields / field_exclusions list; the row is written again when the book changes or the "
            "sidecar restarts or reloads"] in problems
    summary = dict((row[0].value, row[1].value) for row in book_["Summary"].iter_rows())
    assert (summary["Books"], summary["LSI-ready"], summary["Not LSI-ready"]) == ("5", "0", "5")
    assert len(summary["sha256"]) == 64


def test_libreoffice_reads_the_workbook_back_to_the_same_csv(workbook, tmp_path):
    checkpoint, output = workbook
    assert shutil.which("soffice"), "LibreOffice (Debian's libreoffice-calc-nogui) is needed: .ci/run installs it"
    out = tmp_path / "lo"
    done = subprocess.run(
        ["soffice", "--headless", "--norestore", "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,1", "--outdir", str(out),
         str(output)], capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    text = (out / "review-Rows.csv").read_text(encoding="utf-8")  # the first sheet, named after it
    back = list(csv.reader(io.StringIO(text, newline="")))
    assert back == [list(COLUMNS), *read_rows(checkpoint)]


def test_verify_and_compare_read_the_workbook(tmp_path, capsys):
    data = tmp_path / "data"  # the three bundled example books, with the bundled configs
    assert cli.main(["--once", "--config", str(ROOT / "config.yaml"), "--checkpoint-dir", str(data)]) == EXIT_OK
    [checkpoint] = checkpoints(data)
    output = tmp_path / "review.xlsx"
    assert cli.main(["export", str(checkpoint), "--format", "xlsx", "--output", str(output)]) == EXIT_OK
    capsys.readouterr()
    assert cli.main(["verify", str(output)]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [f"ACS file    {output}", "rows        3", "dialect     xlsx workbook, sheet Rows",
                         "columns     119 of 119 ACS columns"]
    assert lines[-1] == "clean"
    assert cli.main(["compare", str(checkpoint), str(output)]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == "same content"


def test_a_file_named_xlsx_that_is_not_a_workbook_is_a_clear_error(tmp_path, capsys):
    fake = tmp_path / "x.xlsx"
    fake.write_text("Title,ISBN or SKU\r\n")
    assert cli.main(["verify", str(fake)]) == EXIT_CHECKPOINT
    err = capsys.readouterr().err
    assert err.startswith(f"sidecar: {fake} is not an xlsx workbook (BadZipFile: ") and err.count("\n") == 1


def test_the_workbook_saved_again_by_libreoffice_compares_as_the_same_content(workbook, tmp_path, capsys):
    checkpoint, output = workbook
    assert shutil.which("soffice"), "LibreOffice (Debian's libreoffice-calc-nogui) is needed: .ci/run installs it"
    out = tmp_path / "lo"
    done = subprocess.run(["soffice", "--headless", "--norestore", "--convert-to", "xlsx", "--outdir", str(out),
                           str(output)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    resaved = out / "review.xlsx"  # shared strings and LibreOffice's own styles, where XlsxWriter wrote inline text
    with zipfile.ZipFile(resaved) as parts:
        assert "xl/sharedStrings.xml" in parts.namelist()
    capsys.readouterr()
    assert cli.main(["compare", str(checkpoint), str(resaved)]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == "same content"
