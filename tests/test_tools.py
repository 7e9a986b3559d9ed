"""verify, compare, export, list, recover and batch: exact output and exit codes."""

import csv
import io
import json
import re
import shutil

import pytest

from sidecar import cli
from sidecar.exits import EXIT_CHECKPOINT, EXIT_OK, EXIT_REJECTED, EXIT_USAGE
from sidecar.rows.columns import COLUMNS

from helpers import ROOT, book, cell, checkpoints, read_rows, write_book

EXAMPLE = ROOT / "examples" / "output" / "harbor_light_build" / "processed_json"


@pytest.fixture
def example(tmp_path, capsys):
    """The bundled example books in a checkpoint, with the bundled example configs."""
    data = tmp_path / "data"
    assert cli.main(["--once", "--config", str(ROOT / "config.yaml"), "--checkpoint-dir", str(data)]) == EXIT_OK
    capsys.readouterr()
    return checkpoints(data)[0]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_passes_a_clean_checkpoint_and_checks_the_ledger(example, capsys):
    code, out, err = run(capsys, "verify", str(example))
    assert code == EXIT_OK, out
    assert out.splitlines() == [
        f"checkpoint  {example}",
        "rows        3",
        "dialect     UTF-8 with BOM, 4 CRLF",
        "ledger      agrees (3 rows)",
        "LSI checks  0 error(s), 0 warning(s); LSI-ready 3 of 3 rows",
        "clean",
    ]


def test_verify_finds_the_ledger_of_a_state_dir_set_only_in_the_config_file(tmp_path, capsys):
    folder = tmp_path / "output" / "harbor_light_build" / "processed_json"
    shutil.copytree(EXAMPLE, folder)
    config = tmp_path / "c.yaml"
    config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {tmp_path / 'data'}\nstate_dir: {tmp_path / 'elsewhere'}\n")
    assert cli.main(["--once", "--config", str(config)]) == EXIT_OK
    checkpoint = checkpoints(tmp_path / "data")[0]
    record = checkpoint.read_bytes().splitlines(keepends=True)[-1]
    with open(checkpoint, "ab") as f:  # a row appended by hand: the ledger never recorded it
        f.write(record.replace(b"9781739210021", b"9781739210045"))
    capsys.readouterr()
    code, out, _ = run(capsys, "verify", "--config", str(config), str(checkpoint))
    assert code == EXIT_REJECTED
    assert "ledger      1 disagreement(s)" in out.splitlines()
    assert "  line 5: a record the ledger does not know (written, but never recorded)" in out.splitlines()


def test_verify_of_a_missing_file_exits_2(tmp_path, capsys):
    assert run(capsys, "verify", str(tmp_path / "nope.csv"))[1:] == ("", f"sidecar: {tmp_path / 'nope.csv'} does not exist\n")
    assert cli.main(["verify", str(tmp_path / "nope.csv")]) == EXIT_USAGE


@pytest.mark.parametrize(("damage", "problem"), [
    (lambda data: data + b"6024045,,,978", "  line 5: torn tail: the last record is incomplete (13 bytes without a line end)"),
    (lambda data: data + b"a,b,c\r\n", "  line 5: 3 cells, expected 119"),
    (lambda data: data + data[data.index(b"\r\n") + 2:data.index(b"\r\n", data.index(b"\r\n") + 2) + 2],
     "  line 5: duplicate ISBN 9781739210038 (also on line 2)"),
    (lambda data: data.replace(b"\r\n", b"\n", 2), "  file: mixed line ends: 2 LF and 2 CRLF"),
])
def test_verify_finds_what_makes_a_checkpoint_not_whole(example, capsys, damage, problem):
    example.write_bytes(damage(example.read_bytes()))
    code, out, _ = run(capsys, "verify", str(example))
    assert code == EXIT_REJECTED
    assert problem in out.splitlines()
    assert out.endswith("NOT CLEAN\n")


def test_verify_reports_a_118_cell_record(example, capsys):
    text = example.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows[2] = rows[2][:118]
    out_buf = io.StringIO()
    csv.writer(out_buf, lineterminator="\r\n").writerows(rows)
    example.write_bytes(b"\xef\xbb\xbf" + out_buf.getvalue().encode())
    code, out, _ = run(capsys, "verify", str(example))
    assert code == EXIT_REJECTED
    assert "  line 3: 118 cells, expected 119" in out.splitlines()
    lines = out.splitlines()
    assert lines[3] == "ledger      1 disagreement(s)"  # the 3rd row's bytes changed; the 4th only moved with them
    assert lines[4] == "  line 3: 118 cells, expected 119"
    assert lines[5] == (f"  line 3: the row of {EXAMPLE / 'The_Cartographers_Daughter.json'} is not what was "
                        "written (edited by hand?)")
    assert not any("line 4" in line for line in lines)


def test_verify_checks_the_real_96_column_submission_and_finds_its_known_defects(shared, capsys):
    code, out, _ = run(capsys, "verify", "--acs-codes", str(shared / "ACS-codes-and-descriptions.csv"),
                       str(shared / "examples" / "xynapse_traces_tranche1_submitted.csv"))
    assert code == EXIT_REJECTED
    lines = out.splitlines()
    assert lines[:3] == [f"ACS file    {(shared / 'examples' / 'xynapse_traces_tranche1_submitted.csv').resolve()}",
                         "rows        68", "dialect     UTF-8 without BOM, 68 LF"]
    assert lines[3].startswith("columns     96 of 119 ACS columns; absent: Reserved 1, Reserved 2, ")
    assert not any("torn tail" in line for line in lines)  # a hand-made file may end without a line end

    def count(pattern):
        return sum(1 for line in lines if re.search(pattern, line))

    assert count(r"error: BISAC Category [23]: '.*' is not a BISAC subject") == 15
    assert count(r"error: Thema Subject [123]: '.*' is not a Thema subject") == 35
    assert count(r"error: Audience: 'General' is not a code from 01 to 08 \[code\]") == 68
    # no false alarms: keywords of 256 to 277 characters are within LSI's 500; a lone space is a blank cell
    assert count(r"Keywords") == 0 and count(r"Carton Pack Quantity") == 0
    assert "  line 748 (9781608883790) error: # Illustrations: '```json" in "\n".join(lines)


def test_verify_of_the_submission_export_of_a_clean_checkpoint_is_clean(example, tmp_path, capsys):
    exported = tmp_path / "submission.csv"
    assert cli.main(["export", str(example), "--profile", "submission", "--output", str(exported)]) == EXIT_OK
    capsys.readouterr()
    code, out, _ = run(capsys, "verify", str(exported))
    assert code == EXIT_OK, out
    assert out.splitlines()[3] == ("columns     96 of 119 ACS columns; absent: Reserved 1, Reserved 2, Reserved 3, "
                                   "Reserved 4, Custom Trim Width (inches), Custom Trim Height (inches), Weight(Lbs), "
                                   "Reserved5, Reserved6, Reserved7, Reserved8, Reserved (Special Instructions), "
                                   "LSI Special Category  (please consult LSI before using, Stamped Text LEFT, "
                                   "Stamped Text CENTER, Stamped Text RIGHT, LSI FlexField1 (please consult LSI "
                                   "before using), LSI FlexField2 (please consult LSI before using), LSI FlexField3 "
                                   "(please consult LSI before using), LSI FlexField4 (please consult LSI before "
                                   "using), LSI FlexField5 (please consult LSI before using), Reserved11, Reserved12")
    assert out.endswith("clean\n")


@pytest.mark.parametrize(("header", "problem"), [
    ("Title,Author\r\nA,B\r\n", "  line 1: header column 2 'Author' is not an ACS column name"),
    ("Name,Size\r\nA,B\r\n", "  line 1: not an ACS file: none of its header names is an ACS column name"),
    ("Title,Title\r\nA,B\r\n", "  line 1: header column 2 'Title' is there twice"),
    ("Title\r\nA\r\n", "  line 1: the column 'ISBN or SKU' is absent, and LSI rejects a file without it"),
])
def test_verify_names_what_is_wrong_with_a_header(tmp_path, capsys, header, problem):
    path = tmp_path / "x.csv"
    path.write_text(header)
    code, out, _ = run(capsys, "verify", str(path))
    assert code == EXIT_REJECTED and problem in out.splitlines()


def test_verify_json(example, capsys):
    code, out, _ = run(capsys, "verify", "--json", str(example))
    report = json.loads(out)
    assert code == EXIT_OK and report["clean"] is True and report["rows"] == 3 and report["problems"] == []


def test_a_checkpoint_and_the_batch_file_of_the_same_folder_compare_equal(example, tmp_path, capsys):
    batch_file = tmp_path / "batch.csv"
    code, out, _ = run(capsys, "batch", str(EXAMPLE), "--output", str(batch_file), "--config", str(ROOT / "config.yaml"))
    assert (code, out) == (0, f"sidecar: 3 rows, 0 rejected; batch file: {batch_file}\n")
    assert [cell(r, "Title") for r in read_rows(batch_file)] == [  # ordered by file name, like the pipeline
        "Notes on Quiet Machines", "The Cartographer's Daughter", "Tidewater Almanac"]
    code, out, _ = run(capsys, "compare", str(example), str(batch_file))
    assert code == EXIT_OK
    assert out.splitlines()[2:] == ["compared on 119 common columns", "same content"]


def test_a_checkpoint_and_its_own_submission_export_compare_equal_whatever_the_date_form(example, tmp_path, capsys):
    upload = tmp_path / "upload.csv"
    assert run(capsys, "export", str(example), "--profile", "submission", "--output", str(upload))[0] == EXIT_OK
    assert "/26," in upload.read_text()  # its Pub Date in M/D/YY
    code, out, _ = run(capsys, "compare", str(example), str(upload))
    lines = out.splitlines()
    assert (code, lines[2], lines[-1]) == (EXIT_OK, "compared on 96 common columns", "same content")


def test_compare_reports_missing_extra_and_differing_books_with_both_values(example, tmp_path, capsys):
    other = tmp_path / "other.csv"
    shutil.copy(example, other)
    text = other.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows[1][COLUMNS.index("Pages")] = "999"
    del rows[2]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    other.write_text(buf.getvalue())
    code, out, _ = run(capsys, "compare", str(example), str(other))
    assert code == EXIT_REJECTED
    assert out.splitlines()[2:] == [
        "compared on 119 common columns",
        "extra in left: 9781739210014",
        "differs: 9781739210038",
        "  Pages: '148' != '999'",
        "0 missing, 1 extra, 1 differing",
    ]


def test_compare_with_the_real_96_column_submission_names_the_expected_columns(shared, tmp_path, capsys):
    folder = tmp_path / "output" / "xynapse_traces_build" / "processed_json"
    folder.mkdir(parents=True)
    shutil.copy(shared / "examples" / "AI_Governance_Freedom_vs_Constraint.json", folder)
    configs = shared / "pipeline-configs"
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(tmp_path / "d"),
                     "--lsi-config", str(configs / "default_lsi_config.json"),
                     "--tranche", str(configs / "tranches" / "xynapse_tranche_1.json")]) == EXIT_OK
    capsys.readouterr()
    code, out, _ = run(capsys, "compare", "--json", str(checkpoints(tmp_path / "d")[0]),
                       str(shared / "examples" / "xynapse_traces_tranche1_submitted.csv"))
    result = json.loads(out)
    assert code == EXIT_REJECTED
    assert len(result["common_columns"]) == 96 and result["only_right"] == []
    assert set(result["only_left"]) == {
        "Reserved 1", "Reserved 2", "Reserved 3", "Reserved 4", "Custom Trim Width (inches)",
        "Custom Trim Height (inches)", "Weight(Lbs)", "Reserved5", "Reserved6", "Reserved7", "Reserved8",
        "Reserved (Special Instructions)", "LSI Special Category  (please consult LSI before using",
        "Stamped Text LEFT", "Stamped Text CENTER", "Stamped Text RIGHT", "Reserved11", "Reserved12",
        *(f"LSI FlexField{n} (please consult LSI before using)" for n in range(1, 6))}
    assert len(result["missing"]) == 67 and result["extra"] == []
    # What the publisher set by hand, or the pipeline could not know, and the sidecar's documented choices:
    assert {d["column"] for d in result["differing"]["9781608883936"]} == {
        "Metadata Contact Dictionary", "Rendition /Booktype", "Pub Date",  # the file names now agree
        "Annotation / Summary", "BISAC Category", "BISAC Category 2", "BISAC Category 3",
        "Carton Pack Quantity", "Contributor One BIO", "Contributor One Affiliations", "Contributor One Location",
        "Contributor One Location Type Code", "Contributor One Prior Work", "Thema Subject 1", "Thema Subject 2",
        "Thema Subject 3", "Audience", "Short Description", "Table of Contents", "# in Series",
        *(price for price in COLUMNS if "Suggested List Price" in price and "Ingram" not in price and "SIBI" not in price),
    }


def test_export_submission_has_the_real_submission_s_shape(example, shared, tmp_path, capsys):
    output = tmp_path / "upload.csv"
    code, out, _ = run(capsys, "export", str(example), "--profile", "submission", "--output", str(output))
    assert (code, out) == (0, f"sidecar: 3 rows (0 not LSI-ready) exported to {output}\n")
    data = output.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data
    with open(shared / "examples" / "xynapse_traces_tranche1_submitted.csv", newline="", encoding="utf-8") as f:
        submitted_header = next(csv.reader(f))
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert rows[0] == submitted_header
    assert all(len(r) == 96 for r in rows)
    pub = rows[0].index("Pub Date")
    assert sorted(r[pub] for r in rows[1:]) == ["3/10/26", "3/17/26", "3/3/26"]


def test_export_with_an_unknown_profile_names_the_known_ones(example, capsys):
    code, _, err = run(capsys, "export", str(example), "--profile", "amazon")
    assert code == EXIT_USAGE
    assert err == ("sidecar: no export profile 'amazon' (known: full, submission; add one under 'exports:' "
                   "in config.yaml)\n")


def test_export_profiles_come_from_config_yaml(example, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("exports:\n  minimal:\n    columns: ['ISBN or SKU', 'Title']\n    bom: false\n    line_terminator: lf\n")
    output = tmp_path / "min.csv"
    assert run(capsys, "export", str(example), "--profile", "minimal", "--config", str(config), "--output", str(output))[0] == 0
    assert output.read_text().splitlines() == ["ISBN or SKU,Title", "9781739210038,Notes on Quiet Machines",
                                               "9781739210014,The Cartographer's Daughter", "9781739210021,Tidewater Almanac"]


def test_list_shows_the_checkpoints_newest_first(example, capsys):
    code, out, _ = run(capsys, "list", "--checkpoint-dir", str(example.parent), "--json")
    [entry] = json.loads(out)
    assert code == EXIT_OK
    assert (entry["checkpoint"], entry["imprint"], entry["rows"], entry["state"], entry["size"]) == (
        str(example), "harbor_light", 3, "open", example.stat().st_size)


def test_recover_lists_what_is_missing_and_writes_the_resume_list(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    write_book(folder, "b.json", book(2))
    (folder / "bad.json").write_text("{")
    args = ["--watch", str(folder), "--checkpoint-dir", str(data)]
    assert cli.main(["--once", *args]) == EXIT_REJECTED
    write_book(folder, "c.json", book(3))  # arrived after the crash
    resume = tmp_path / "resume.csv"
    capsys.readouterr()
    code, out, _ = run(capsys, "recover", *args, "--resume-list", str(resume))
    assert code == EXIT_REJECTED
    assert out.splitlines() == [
        "imprint in: 1 not in a checkpoint yet, 1 rejected",
        f"  waiting   {folder / 'c.json'}",
        f"  rejected  {folder / 'bad.json'}: it is not valid JSON (Expecting property name enclosed in double "
        "quotes at line 1 column 2); it may be incomplete",
    ]
    assert resume.read_text() == f"ISBN,Title\n{book(1)['isbn13']},Book 1\n{book(2)['isbn13']},Book 2\n"


def test_batch_rejects_bad_books_and_duplicate_isbns_and_exits_1(tmp_path, capsys):
    folder = tmp_path / "in"
    write_book(folder, "a.json", book(1))
    write_book(folder, "b.json", book(1, title="Same ISBN"))
    (folder / "c.json").write_text("[]")
    output = tmp_path / "batch.csv"
    code, out, err = run(capsys, "batch", str(folder), "--output", str(output))
    assert (code, out) == (1, f"sidecar: 1 rows, 2 rejected; batch file: {output}\n")
    assert f"rejected {folder / 'b.json'}: ISBN {book(1)['isbn13']} is already in the batch from {folder / 'a.json'}" in err
    assert f"rejected {folder / 'c.json'}: its JSON is an array" in err
    assert [cell(r, "Title") for r in read_rows(output)] == ["Book 1"]


@pytest.mark.parametrize("command", [["compare", "{missing}", "{example}"], ["export", "{missing}", "--profile", "full"]])
def test_compare_and_export_of_a_missing_file_exit_2_naming_it(example, tmp_path, capsys, command):
    missing = tmp_path / "gone.csv"
    argv = [part.format(missing=missing, example=example) for part in command]
    assert run(capsys, *argv) == (EXIT_USAGE, "", f"sidecar: {missing} does not exist\n")


def test_export_refuses_a_torn_checkpoint_as_a_data_error(example, tmp_path, capsys):
    example.write_bytes(example.read_bytes() + b"6024045,,,978")
    code, _, err = run(capsys, "export", str(example), "--profile", "submission", "--output", str(tmp_path / "o.csv"))
    assert code == EXIT_CHECKPOINT
    assert err == f"sidecar: {example} line 5 is not a whole record (run `sidecar verify` on it)\n"
    assert not (tmp_path / "o.csv").exists()


def test_verify_lists_a_bounded_number_of_problems_and_counts_them_all(shared, capsys, monkeypatch):
    monkeypatch.setattr("sidecar.tools.verify.LISTED", 2)
    code, out, _ = run(capsys, "verify", "--acs-codes", str(shared / "ACS-codes-and-descriptions.csv"),
                       str(shared / "examples" / "xynapse_traces_tranche1_submitted.csv"))
    lines = out.splitlines()
    assert code == EXIT_REJECTED
    [checks] = [i for i, line in enumerate(lines) if line.startswith("LSI checks")]
    assert lines[checks].startswith("LSI checks  ") and int(lines[checks].split()[2]) > 100
    assert lines[checks + 3] == f"  ... and {int(lines[checks].split()[2]) - 2} more"


@pytest.mark.parametrize(("content", "message"), [
    (b"Title,ISBN or SKU\r\nA,1\r\nB\x00,2\r\n", "{path} line 3 holds a NUL byte (offset 25); this is not a text file"),
    (b"Title,ISBN or SKU\r\nA,1\r\nCaf\xe9,2\r\n", "{path} is not UTF-8 (bad byte at offset 27, line 3)"),
    (b"Title,ISBN or SKU\r\n\"" + b"x" * (1 << 20) + b"\",1\r\n",
     "{path} line 2: a record of over 1,048,576 bytes; this is not an ACS file"),
])
def test_a_file_the_tools_cannot_read_is_named_with_its_line_and_problem(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    for command in (["verify", str(path)], ["compare", str(path), str(path)]):
        assert cli.main(command) == EXIT_CHECKPOINT
        assert capsys.readouterr().err == f"sidecar: {message.format(path=path)}\n"


def test_verify_of_a_checkpoint_copied_away_from_its_ledger_checks_the_rows_only(example, tmp_path, capsys):
    copy = tmp_path / "elsewhere" / example.name
    copy.parent.mkdir()
    copy.write_bytes(example.read_bytes())
    code, out, _ = run(capsys, "verify", str(copy))
    assert code == EXIT_OK
    assert out.splitlines()[3] == "ledger      no ledger found"
    assert out.splitlines()[4:] == ["LSI checks  0 error(s), 0 warning(s); LSI-ready 3 of 3 rows", "clean"]
