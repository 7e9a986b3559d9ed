import json
import os

from sidecar import cli
from sidecar.exits import EXIT_CHECKPOINT, EXIT_OK, EXIT_REJECTED
from sidecar.rows.lsi_rules import AGAIN

from helpers import book, checkpoints, write_book


def test_status_shows_rows_rejections_and_files_not_yet_in(tmp_path, capsys):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    (folder / "bad.json").write_text("[]")
    args = ["--watch", str(folder), "--checkpoint-dir", str(data)]
    assert cli.main(["--once", *args]) == EXIT_REJECTED
    write_book(folder, "new.json", book(2))  # arrived after the run
    capsys.readouterr()
    assert cli.main(["status", *args]) == EXIT_OK
    out = capsys.readouterr().out
    lines = out.splitlines()
    [checkpoint] = checkpoints(data)
    assert lines[0] == "imprint processed_json"
    assert lines[2] == f"  checkpoint  {checkpoint}"
    assert lines[3].startswith("  rows        1 (last appended ")
    assert lines[4:] == [
        "  ledger/CSV  agree",
        "  LSI-ready   0 of 1",
        "    not ready: Lightning Source Account #: blank, and LSI rejects the whole file when it is (1 rows; fix: set "
        f"'lightning_source_account' in the tranche or books/<isbn>.json (or the book's JSON), and take it out of any "
        f"blank_fields / field_exclusions list; {AGAIN})",
        "    not ready: Metadata Contact Dictionary: blank, and LSI rejects the whole file when it is (1 rows; fix: set "
        f"'metadata_contact_dictionary' in the tranche or books/<isbn>.json (or the book's JSON), and take it out of any "
        f"blank_fields / field_exclusions list; {AGAIN})",
        "    not ready: Rendition /Booktype: blank, and LSI rejects the whole file when it is (1 rows; fix: set "
        f"'rendition_booktype' in the tranche or books/<isbn>.json (or the book's JSON), and take it out of any "
        f"blank_fields / field_exclusions list; {AGAIN})",
        "  rejected    1",
        f"    {folder / 'bad.json'}: its JSON is an array, expected an object with the book's fields",
        "  waiting     1",
        f"    {folder / 'new.json'}",
    ]


def test_status_reads_without_writing(tmp_path, capsys):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    args = ["--watch", str(folder), "--checkpoint-dir", str(data)]
    assert cli.main(["--once", *args]) == EXIT_OK
    def files():  # every file, the ledger's -wal and -shm included: status creates none
        return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in data.rglob("*") if p.is_file()}

    before = files()
    os.chmod(data / "state" / "ledger.sqlite3", 0o444)
    capsys.readouterr()
    assert cli.main(["status", "--json", *args]) == EXIT_OK
    status = json.loads(capsys.readouterr().out)
    assert status["imprints"]["processed_json"]["rows"] == 1
    assert files() == before


def test_status_before_any_run_says_so(tmp_path, capsys):
    assert cli.main(["status", "--watch", str(tmp_path / "in"), "--checkpoint-dir", str(tmp_path / "d")]) == EXIT_CHECKPOINT
    assert capsys.readouterr().err == (f"sidecar: no ledger at {tmp_path / 'd' / 'state' / 'ledger.sqlite3'}: "
                                       "the sidecar has not run with this state folder yet\n")
