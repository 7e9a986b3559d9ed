"""Re-conversion after a settings change, and a book's identity: each book in one row, each row under the
settings in force (or marked stale with the reason), whatever came in between."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import pytest

from sidecar import cli
from sidecar.engine.ingest import Ingestor
from sidecar.exits import EXIT_CHECKPOINT, EXIT_OK, EXIT_REJECTED
from sidecar.settings import load_settings
from sidecar.store.checkpoint import CheckpointFile

from helpers import book, cell, check_invariants, checkpoints, read_rows, write_book

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def setup(tmp_path):
    """A folder, its data folder, and a config whose lsi.pub_date_format the test switches (A: iso, B: m/d/yy)."""
    folder, data, config = tmp_path / "processed_json", tmp_path / "data", tmp_path / "config.yaml"
    folder.mkdir()

    def settings(date_format: str = "iso", **batches: str) -> None:
        config.write_text(json.dumps({"watch": [str(folder)], "checkpoint_dir": str(data),
                                      "lsi": {"pub_date_format": date_format}, "batches": batches}))

    settings()
    return folder, data, config, settings


def once(config: Path, *extra: str) -> int:
    return cli.main(["--once", "--config", str(config), *extra])


def dates(path: Path) -> list[str]:
    return [cell(r, "Pub Date") for r in read_rows(path)]


def ledger(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(data / "state" / "ledger.sqlite3")


# ----------------------------------------------------------------------------- doubled


def test_a_book_without_an_isbn_yet_renamed_with_mv_keeps_one_row(setup, capsys):
    folder, data, config, _ = setup
    write_book(folder, "draft.json", {"title": "Stage one", "page_count": 120})
    assert once(config) == EXIT_OK
    os.rename(folder / "draft.json", folder / "stage-one.json")
    assert once(config) == EXIT_OK
    rows = check_invariants(folder, data)
    assert [cell(r, "Title") for r in rows] == ["Stage one"]
    assert ledger(data).execute("SELECT source FROM rows").fetchall() == [(str(folder / "stage-one.json"),)]
    assert "draft.json was renamed to" in capsys.readouterr().err


def test_a_renamed_book_without_an_isbn_that_was_also_edited_keeps_one_row(setup):
    folder, data, config, _ = setup
    write_book(folder, "draft.json", {"title": "Stage one", "page_count": 120})
    assert once(config) == EXIT_OK
    os.rename(folder / "draft.json", folder / "stage-one.json")  # mv keeps the inode; then the pipeline edits it
    with open(folder / "stage-one.json", "r+") as f:
        data_ = json.load(f)
        data_["page_count"] = 130
        f.seek(0)
        f.truncate()
        json.dump(data_, f)
    assert once(config) == EXIT_OK
    rows = check_invariants(folder, data)
    assert [(cell(r, "Title"), cell(r, "Pages")) for r in rows] == [("Stage one", "130")]


def test_a_writer_s_tmp_file_seen_by_the_service_then_renamed_keeps_one_row(tmp_path):
    from daemon import Daemon

    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = Daemon(tmp_path, folder).start()
    try:
        write_book(folder, "tmpk2j4x9.json", {"title": "Stage one", "page_count": 120})  # closed: taken at once
        d.wait_for_rows(lambda rows: len(rows) == 1)
        os.rename(folder / "tmpk2j4x9.json", folder / "stage-one.json")  # the writer renames it after close
        db = sqlite3.connect(tmp_path / "data" / "state" / "ledger.sqlite3")
        d.wait_for_rows(lambda rows: db.execute("SELECT source FROM rows").fetchall()
                        == [(str(folder / "stage-one.json"),)])
        assert d.stop() == EXIT_OK
    finally:
        d.kill()
    assert [cell(r, "Title") for r in check_invariants(folder, tmp_path / "data")] == ["Stage one"]


@pytest.mark.parametrize("rotation", ["marker", "daily"])
def test_a_rotation_while_a_settings_change_is_pending_copies_nothing(setup, monkeypatch, rotation):
    folder, data, config, settings = setup
    for n in range(3):
        write_book(folder, f"b{n}.json", book(n))
    settings("iso", rotate="daily") if rotation == "daily" else None
    assert once(config) == EXIT_OK
    settings("m/d/yy", rotate="daily") if rotation == "daily" else settings("m/d/yy")
    if rotation == "marker":
        (folder / ".batch-start").write_text("batch 2")
    else:
        class Tomorrow(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.now(tz).replace(year=datetime.now().year + 1)

        monkeypatch.setattr("sidecar.engine.ingest.datetime", Tomorrow)
        write_book(folder, "b3.json", book(3))  # the first book of the new day starts the new checkpoint
    assert once(config) == EXIT_OK
    first, *later = checkpoints(data)  # (the patched clock makes every later book a new day's first)
    assert dates(first) == ["2026-01-06"] * 3  # the finished batch stays as it was closed
    assert [d for p in later for d in dates(p)] == ([] if rotation == "marker" else ["1/6/26"])  # no copies
    check_invariants(folder, data)


def test_an_isbn_10_and_its_isbn_13_in_two_files_are_one_book(setup, capsys):
    folder, data, config, _ = setup
    write_book(folder, "a.json", book(1, isbn13="0306406152"))
    write_book(folder, "b.json", book(2, isbn13="978-0-306-40615-7"))
    assert once(config) == EXIT_REJECTED
    [row] = check_invariants(folder, data, malformed=[str(folder / "b.json")])
    assert cell(row, "ISBN or SKU") == "0306406152"  # the cell keeps what the book gave...
    assert ledger(data).execute("SELECT isbn FROM rows").fetchall() == [("9780306406157",)]  # ...the key is one
    err = capsys.readouterr().err
    assert "ISBN or SKU: 0306406152 is an ISBN-10; LSI takes the ISBN-13 9780306406157" in err
    assert (f"rejected {folder / 'b.json'}: ISBN 9780306406157 is already in the checkpoint from "
            f"{folder / 'a.json'}; two files describe the same book") in err


def test_an_x_check_digit_is_never_dropped(setup, capsys):
    folder, data, config, _ = setup
    write_book(folder, "a.json", book(1, isbn13="0-8044-2957-x"))
    assert once(config) == EXIT_OK
    [row] = read_rows(checkpoints(data)[0])
    assert cell(row, "ISBN or SKU") == "080442957X"
    assert ledger(data).execute("SELECT isbn FROM rows").fetchall() == [("9780804429573",)]


# ----------------------------------------------------------------------------- wrong values, silently


def _stop_after(monkeypatch, count: int) -> threading.Event:
    """An Ingestor whose catch-up is stopped (as a SIGHUP or SIGTERM does) after count books."""
    stop, ingest, seen = threading.Event(), Ingestor.ingest, []

    def counting(self, *args, **kwargs):
        seen.append(1)
        if len(seen) >= count:
            stop.set()
        return ingest(self, *args, **kwargs)

    monkeypatch.setattr(Ingestor, "ingest", counting)
    return stop


def test_settings_a_b_a_with_b_cut_short_leave_every_row_under_a(setup, monkeypatch):
    folder, data, config, settings = setup
    for n in range(6):
        write_book(folder, f"b{n}.json", book(n))
    assert once(config) == EXIT_OK
    settings("m/d/yy")
    with monkeypatch.context() as m:
        stop = _stop_after(m, 3)
        with Ingestor(load_settings({"config": str(config)})) as ingestor:
            ingestor.catch_up(stop=stop)  # the reload came while B's pass ran: 3 rows converted under B
    assert dates(checkpoints(data)[0]) == ["1/6/26"] * 3 + ["2026-01-06"] * 3
    settings("iso")
    assert once(config) == EXIT_OK
    assert dates(checkpoints(data)[0]) == ["2026-01-06"] * 6
    check_invariants(folder, data)


def test_a_settings_change_while_a_source_is_deleted_marks_its_row_stale(setup, capsys):
    folder, data, config, settings = setup
    for n in range(3):
        write_book(folder, f"b{n}.json", book(n))
    assert once(config) == EXIT_OK
    (folder / "b1.json").unlink()
    settings("m/d/yy")
    capsys.readouterr()
    assert once(config) == EXIT_OK
    out, err = capsys.readouterr()
    assert out.startswith("sidecar: 0 appended, 2 replaced, 0 unchanged, 0 rejected, 3 not LSI-ready, "
                          "1 stale (see sidecar status); checkpoint: ")
    reason = "its source file is gone: the row stays as it was converted under other settings"
    assert f"{folder / 'b1.json'}: {reason}" in err
    assert dates(checkpoints(data)[0]) == ["1/6/26", "2026-01-06", "1/6/26"]  # kept, never dropped
    assert cli.main(["status", "--config", str(config)]) == EXIT_OK
    assert (f"  stale       1 (not converted under the settings in force)\n"
            f"    {folder / 'b1.json'} (ISBN {book(1)['isbn13']}): {reason}") in capsys.readouterr().out
    assert cli.main(["recover", "--config", str(config)]) == EXIT_REJECTED
    assert f"  stale     {folder / 'b1.json'} (ISBN {book(1)['isbn13']}): {reason}" in capsys.readouterr().out
    settings("iso")  # back to the settings the row was made under: it is current again
    assert once(config) == EXIT_OK
    assert cli.main(["recover", "--config", str(config)]) == EXIT_OK


def test_a_changed_acs_code_table_converts_rows_again(setup, shared, tmp_path, capsys):
    folder, data, config, _ = setup
    codes = tmp_path / "codes.csv"
    table = (shared / "ACS-codes-and-descriptions.csv").read_text(encoding="utf-8-sig")
    assert table.count(",FIC000000,FICTION / General,") == 1
    codes.write_text(table, encoding="utf-8")
    write_book(folder, "a.json", book(1, bisac_codes="FIC000000"))
    assert once(config, "--acs-codes", str(codes)) == EXIT_OK
    assert [cell(r, "BISAC Category") for r in read_rows(checkpoints(data)[0])] == ["FICTION / General"]
    # The same file, other content: LSI renamed the subject.
    codes.write_text(table.replace(",FIC000000,FICTION / General,", ",FIC000000,FICTION / General Works,"),
                     encoding="utf-8")
    capsys.readouterr()
    assert once(config, "--acs-codes", str(codes)) == EXIT_OK
    out, err = capsys.readouterr()
    assert "the configuration for processed_json changed: its books are converted again" in err
    assert out.startswith("sidecar: 0 appended, 1 replaced, 0 unchanged")
    assert [cell(r, "BISAC Category") for r in read_rows(checkpoints(data)[0])] == ["FICTION / General Works"]


def test_two_files_that_swap_their_isbns_settle_to_the_right_rows(setup, capsys):
    folder, data, config, _ = setup
    for n in range(3):
        write_book(folder, f"b{n}.json", book(n))
    assert once(config) == EXIT_OK
    write_book(folder, "b0.json", book(1, title="Now book one"))
    write_book(folder, "b1.json", book(0, title="Now book zero"))
    assert once(config) == EXIT_OK
    rows = check_invariants(folder, data)
    assert [(cell(r, "ISBN or SKU"), cell(r, "Title")) for r in rows] == [
        (book(1)["isbn13"], "Now book one"), (book(0)["isbn13"], "Now book zero"), (book(2)["isbn13"], "Book 2")]
    assert "rejected" not in capsys.readouterr().err


# ----------------------------------------------------------------------------- cost


def test_a_pass_over_every_row_rewrites_the_checkpoint_once(setup, monkeypatch):
    folder, data, config, settings = setup
    for n in range(40):
        write_book(folder, f"b{n:02}.json", book(n))
    assert once(config) == EXIT_OK
    size = checkpoints(data)[0].stat().st_size
    copies, replaced, rewrite = [], [], CheckpointFile.rewrite_tmp

    def counted(self, replacements):
        copies.append(self.size)
        replaced.extend(replacements)
        return rewrite(self, replacements)

    monkeypatch.setattr(CheckpointFile, "rewrite_tmp", counted)
    settings("m/d/yy")
    assert once(config) == EXIT_OK
    assert copies == [size] and len(replaced) == 40  # one copy of the file, not one per row
    assert dates(checkpoints(data)[0]) == ["1/6/26"] * 40


# ----------------------------------------------------------------------------- the ledger


def test_a_ledger_made_before_schema_versions_is_migrated_once(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    (data / "state").mkdir(parents=True)
    for name in "abc":
        write_book(folder, f"{name}.json", json.loads((FIXTURES / f"ledger_v0_{name}.json").read_text()))
    shutil.copy(FIXTURES / "ledger_v0_checkpoint.csv", data / "cumulative_checkpoint_20261130_0100_old.csv")
    db = sqlite3.connect(data / "state" / "ledger.sqlite3")
    db.executescript((FIXTURES / "ledger_v0.sql").read_text().replace("@ROOT@", str(tmp_path)))
    db.close()
    args = ["--once", "--watch", str(folder), "--checkpoint-dir", str(data), "--imprint", "old"]
    assert cli.main(args) == EXIT_OK
    # Converted once under the new rule set: only the ISBN-10 book's file names change (keyed by its ISBN-13).
    assert capsys.readouterr().out.startswith("sidecar: 0 appended, 1 replaced, 2 unchanged, 0 rejected")
    assert [(cell(r, "ISBN or SKU"), cell(r, "Interior Path / Filename")) for r in read_rows(
        data / "cumulative_checkpoint_20261130_0100_old.csv")][1] == ("0306406152", "9780306406157_book_2_interior.pdf")
    db = ledger(data)
    assert db.execute("PRAGMA user_version").fetchone() == (1,)
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'configurations'").fetchall() == []
    rows = db.execute("SELECT isbn, digest IS NOT NULL, stale FROM rows ORDER BY offset").fetchall()
    assert rows == [("9781000000016", 1, None), ("9780306406157", 1, None), ("", 1, None)]
    write_book(folder, "d.json", {"title": "Same book", "isbn13": "9780306406157"})
    assert cli.main(args) == EXIT_REJECTED  # the ISBN-10 row is keyed by its ISBN-13 now
    assert len(check_invariants(folder, data, malformed=[str(folder / "d.json")])) == 3


def test_a_ledger_of_a_newer_version_is_refused(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    args = ["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]
    assert cli.main(args) == EXIT_OK
    db = ledger(data)
    db.execute("PRAGMA user_version = 2")
    db.close()
    assert cli.main(args) == EXIT_CHECKPOINT
    assert (f"the ledger {data / 'state' / 'ledger.sqlite3'} is of version 2, made by a newer sidecar than this "
            "one (version 1)") in capsys.readouterr().err


def test_a_sighup_storm_toggling_two_configurations_leaves_every_row_under_the_last(tmp_path):
    from daemon import Daemon

    folder, config = tmp_path / "processed_json", tmp_path / "config.yaml"
    for n in range(70):
        write_book(folder, f"b{n:02}.json", book(n))
    config.write_text("lsi: {pub_date_format: iso}\n")
    d = Daemon(tmp_path, folder, extra=["--config", str(config)]).start()
    try:
        d.wait_for_rows(lambda rows: len(rows) == 70)
        for n in range(12):  # each reload cuts short the pass the one before started
            config.write_text(f"lsi: {{pub_date_format: {'m/d/yy' if n % 2 == 0 else 'iso'}}}\n")
            d.messages.clear()
            d.signal(signal.SIGHUP)
            d.wait_for_message("=1")  # RELOADING=1 or READY=1: it heard this one (a reload may take several)
        config.write_text("lsi: {pub_date_format: m/d/yy}\n")
        d.signal(signal.SIGHUP)
        d.wait_for_rows(lambda rows: [cell(r, "Pub Date") for r in rows] == ["1/6/26"] * 70, timeout=60)
        assert d.stop() == EXIT_OK
    finally:
        d.kill()
    assert len(check_invariants(folder, tmp_path / "data")) == 70


def test_a_file_taking_an_isbn_whose_holder_cannot_take_its_own_new_one_waits_and_doubles_nothing(setup, capsys):
    folder, data, config, _ = setup
    for n in range(3):
        write_book(folder, f"b{n}.json", book(n))
    assert once(config) == EXIT_OK
    write_book(folder, "b0.json", book(1, title="Now book one"))  # b0 takes b1's ISBN...
    write_book(folder, "b1.json", book(2, title="Now book two"))  # ...b1 takes b2's, which b2 still has
    assert once(config) == EXIT_REJECTED
    rows = check_invariants(folder, data, malformed=[str(folder / "b0.json"), str(folder / "b1.json")])
    assert [cell(r, "Title") for r in rows] == ["Book 0", "Book 1", "Book 2"]
    err = capsys.readouterr().err
    assert (f"rejected {folder / 'b1.json'}: ISBN {book(2)['isbn13']} is already in the checkpoint from "
            f"{folder / 'b2.json'}") in err
    assert (f"rejected {folder / 'b0.json'}: ISBN {book(1)['isbn13']} is still in the checkpoint from "
            f"{folder / 'b1.json'}, whose file now gives another ISBN that cannot be written yet") in err
    write_book(folder, "b2.json", book(3, title="Now book three"))  # the conflict goes: the chain settles
    write_book(folder, "b0.json", book(1, title="Now book one!"))
    assert once(config) == EXIT_OK
    assert [(cell(r, "ISBN or SKU"), cell(r, "Title")) for r in check_invariants(folder, data)] == [
        (book(1)["isbn13"], "Now book one!"), (book(2)["isbn13"], "Now book two"), (book(3)["isbn13"], "Now book three")]
