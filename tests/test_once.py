"""sidecar --once end to end, in process: appends, rewrites, restarts, repairs and the lock."""

import hashlib
import os
import shutil
import sqlite3
from datetime import datetime

import pytest

from sidecar import cli
from sidecar.store.checkpoint import create_with_header
from sidecar.store.names import new_checkpoint_name
from sidecar.store.lock import DirLock
from sidecar.rows.columns import Dialect, encode_header
from sidecar.errors import CheckpointError
from sidecar.exits import EXIT_CHECKPOINT, EXIT_NOT_READY, EXIT_OK, EXIT_REJECTED, EXIT_USAGE
from sidecar.store.ledger import ledger_path

from helpers import ROOT, book, cell, check_invariants, checkpoints, read_rows, write_book


@pytest.fixture
def run(tmp_path):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    folder.mkdir()

    def run(*extra: str) -> int:
        return cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data), *extra])

    run.folder, run.data = folder, data
    return run


def titles(data):
    return [cell(r, "Title") for r in read_rows(checkpoints(data)[0])]


def test_the_bundled_example_runs_as_the_readme_says(tmp_path, capsys):
    code = cli.main(["--once", "--config", str(ROOT / "config.yaml"), "--checkpoint-dir", str(tmp_path / "d")])
    assert code == EXIT_OK
    [checkpoint] = checkpoints(tmp_path / "d")
    assert checkpoint.name.startswith("cumulative_checkpoint_") and checkpoint.name.endswith("_harbor_light.csv")
    assert sorted(titles(tmp_path / "d")) == ["Notes on Quiet Machines", "The Cartographer's Daughter",
                                             "Tidewater Almanac"]
    out, err = capsys.readouterr()
    assert out == f"sidecar: 3 appended, 0 replaced, 0 unchanged, 0 rejected, 0 not LSI-ready; checkpoint: {checkpoint}\n"
    assert "WARNING" not in err


def test_a_second_run_changes_nothing(run, capsys):
    for n in range(3):
        write_book(run.folder, f"b{n}.json", book(n))
    assert run() == EXIT_OK
    [checkpoint] = checkpoints(run.data)
    before = checkpoint.read_bytes()
    capsys.readouterr()
    assert run() == EXIT_OK
    assert checkpoint.read_bytes() == before
    assert capsys.readouterr().out.startswith("sidecar: 0 appended, 0 replaced, 3 unchanged, 0 rejected")
    check_invariants(run.folder, run.data)


def test_source_files_are_never_changed(run):
    paths = [write_book(run.folder, f"b{n}.json", book(n)) for n in range(3)]
    before = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths}
    assert run() == EXIT_OK
    assert {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths} == before
    assert sorted(run.folder.iterdir()) == sorted(paths)


def test_a_rewritten_newest_book_replaces_its_row(run, capsys):
    write_book(run.folder, "a.json", book(1))
    write_book(run.folder, "b.json", book(2))
    assert run() == EXIT_OK
    for version in ("v2", "v3", "v4"):
        write_book(run.folder, "b.json", book(2, title=f"Book 2 {version}", page_count=222))
        assert run() == EXIT_OK
    assert titles(run.data) == ["Book 1", "Book 2 v4"]
    assert "sidecar: 0 appended, 1 replaced, 1 unchanged, 0 rejected" in capsys.readouterr().out
    check_invariants(run.folder, run.data)


def test_a_rewritten_older_book_replaces_its_row_in_place(run):
    for n in range(4):
        write_book(run.folder, f"b{n}.json", book(n))
    assert run() == EXIT_OK
    write_book(run.folder, "b1.json", book(1, title="Book 1 with a much longer title than before"))
    assert run() == EXIT_OK
    assert titles(run.data) == ["Book 0", "Book 1 with a much longer title than before", "Book 2", "Book 3"]
    check_invariants(run.folder, run.data)
    assert not [p for p in run.data.iterdir() if p.name.startswith(".cumulative")], "a rewrite copy was left"


def test_a_rewrite_that_changes_no_cell_leaves_the_file_alone(run):
    write_book(run.folder, "a.json", book(1))
    assert run() == EXIT_OK
    [checkpoint] = checkpoints(run.data)
    before = checkpoint.read_bytes()
    write_book(run.folder, "a.json", book(1, responses={"model": ["more raw output"]}))
    assert run() == EXIT_OK
    assert checkpoint.read_bytes() == before
    check_invariants(run.folder, run.data)


@pytest.mark.parametrize(("policy", "expected"), [
    ("append", ["Book 1", "Book 1 v2"]),
    ("ignore", ["Book 1"]),
])
def test_the_rewrite_policy_is_the_publisher_s_choice(run, tmp_path, policy, expected):
    config = tmp_path / "c.yaml"
    config.write_text(f"books: {{on_rewrite: {policy}}}\n")
    write_book(run.folder, "a.json", book(1))
    assert run("--config", str(config)) == EXIT_OK
    write_book(run.folder, "a.json", book(1, title="Book 1 v2"))
    assert run("--config", str(config)) == EXIT_OK
    assert run("--config", str(config)) == EXIT_OK
    assert titles(run.data) == expected


def test_a_restart_goes_on_appending_to_the_same_checkpoint(run):
    write_book(run.folder, "a.json", book(1))
    assert run() == EXIT_OK
    write_book(run.folder, "b.json", book(2))
    assert run() == EXIT_OK
    assert len(checkpoints(run.data)) == 1
    assert titles(run.data) == ["Book 1", "Book 2"]


def test_rows_ready_together_share_one_fsync(run, tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("checkpoint: {rows_per_sync: 2}\n")
    for n in range(5):
        write_book(run.folder, f"b{n}.json", book(n))
    real, calls = os.fdatasync, []
    monkeypatch.setattr("sidecar.store.checkpoint.os.fdatasync", lambda fd: (calls.append(fd), real(fd)))
    assert run("--config", str(config)) == EXIT_OK
    assert len(calls) == 3
    check_invariants(run.folder, run.data)


def test_a_torn_tail_is_cut_at_start_up(run, capsys):
    write_book(run.folder, "a.json", book(1))
    assert run() == EXIT_OK
    [checkpoint] = checkpoints(run.data)
    good = checkpoint.read_bytes()
    with open(checkpoint, "ab") as f:
        f.write(b"6024045,,,97816088\x00\x00\x00")
    assert run() == EXIT_OK
    assert checkpoint.read_bytes() == good
    assert f"cut 21 bytes after the last recorded row of {checkpoint}" in capsys.readouterr().err


def test_a_row_written_but_not_recorded_is_replaced_by_one_recorded_row(run):
    write_book(run.folder, "a.json", book(1))
    assert run() == EXIT_OK
    [checkpoint] = checkpoints(run.data)
    write_book(run.folder, "b.json", book(2))
    rows_before = checkpoint.read_bytes()
    assert run() == EXIT_OK
    b_row = checkpoint.read_bytes()[len(rows_before):]
    # Undo only the ledger's record of b's row: the state a kill between fsync and commit leaves.
    db = sqlite3.connect(ledger_path(run.data / "state"))
    db.execute("DELETE FROM rows WHERE source LIKE '%b.json'")
    db.commit()
    db.close()
    assert checkpoint.read_bytes().endswith(b_row)
    assert run() == EXIT_OK
    assert checkpoint.read_bytes() == rows_before + b_row
    check_invariants(run.folder, run.data)


def test_a_checkpoint_removed_by_hand_is_started_anew_with_every_book(run, capsys):
    for n in range(2):
        write_book(run.folder, f"b{n}.json", book(n))
    assert run() == EXIT_OK
    [checkpoint] = checkpoints(run.data)
    checkpoint.unlink()
    assert run() == EXIT_OK
    assert "was removed; its books will be written to a new checkpoint" in capsys.readouterr().err
    assert len(read_rows(checkpoints(run.data)[0])) == 2


def test_a_checkpoint_shortened_by_hand_stops_the_run_with_advice(run, capsys):
    write_book(run.folder, "a.json", book(1))
    assert run() == EXIT_OK
    [checkpoint] = checkpoints(run.data)
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[:-10])
    capsys.readouterr()
    assert run() == EXIT_CHECKPOINT
    assert capsys.readouterr().err == (
        f"sidecar: {checkpoint} is {len(data) - 10} bytes but its ledger records {len(data)}: it was changed "
        "outside the sidecar; put back the file as the sidecar wrote it, or move it aside to start a new "
        "checkpoint (its books are then written again); edit copies, never the checkpoint\n")


def test_a_second_instance_is_refused_and_told_who_holds_the_lock(run, capsys):
    run.data.mkdir()
    lock = DirLock(run.data)
    try:
        assert run() == EXIT_CHECKPOINT
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert err.startswith(f"sidecar: {run.data} is in use by another sidecar ({{\"pid\": {os.getpid()}, ")
    assert err.endswith("; stop it first, or give this one another --checkpoint-dir/--state-dir\n")


def test_a_new_checkpoint_never_truncates_one_from_the_same_minute(tmp_path):
    now = datetime(2026, 11, 26, 9, 30)
    first = new_checkpoint_name(tmp_path, "imp", now)
    assert first.name == "cumulative_checkpoint_20261126_0930_imp.csv"
    create_with_header(first, encode_header(Dialect()))
    first.write_bytes(first.read_bytes() + b"a row\r\n")
    second = new_checkpoint_name(tmp_path, "imp", now)
    assert second.name == "cumulative_checkpoint_20261126_0930_imp_2.csv"
    with pytest.raises(CheckpointError):
        create_with_header(first, encode_header(Dialect()))
    assert first.read_bytes().endswith(b"a row\r\n")
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def test_the_imprint_comes_from_the_pipeline_s_folder_name(tmp_path):
    folder = tmp_path / "output" / "xynapse_traces_build" / "processed_json"
    write_book(folder, "a.json", book(1))
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(tmp_path / "d")]) == EXIT_OK
    assert checkpoints(tmp_path / "d")[0].name.endswith("_xynapse_traces.csv")


def test_a_changed_csv_dialect_is_refused_rather_than_mixed(run, tmp_path, capsys):
    write_book(run.folder, "a.json", book(1))
    assert run() == EXIT_OK
    config = tmp_path / "c.yaml"
    config.write_text("checkpoint: {line_terminator: lf}\n")
    capsys.readouterr()
    assert run("--config", str(config)) == EXIT_CHECKPOINT
    assert "does not start with the header this configuration writes" in capsys.readouterr().err


def test_two_folders_of_two_imprints_get_a_checkpoint_each(tmp_path):
    a = tmp_path / "output" / "alpha_build" / "processed_json"
    b = tmp_path / "output" / "beta_build" / "processed_json"
    write_book(a, "a.json", book(1))
    write_book(b, "b.json", book(2))
    assert cli.main(["--once", "--watch", str(a), "--watch", str(b), "--checkpoint-dir", str(tmp_path / "d")]) == EXIT_OK
    names = [p.name for p in checkpoints(tmp_path / "d")]
    assert len(names) == 2 and names[0].endswith("_alpha.csv") and names[1].endswith("_beta.csv")
    shutil.rmtree(a.parent.parent)


def test_a_failed_fsync_stops_the_run_and_a_restart_completes_the_work(run, monkeypatch, capsys):
    for n in range(3):
        write_book(run.folder, f"b{n}.json", book(n))

    def eio(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("sidecar.store.checkpoint.os.fdatasync", eio)
    assert run() == EXIT_CHECKPOINT
    [checkpoint] = checkpoints(run.data)
    assert capsys.readouterr().err.endswith(
        f"sidecar: cannot make {checkpoint} durable: [Errno 5] Input/output error\n")
    assert check_invariants(run.folder, run.data, complete=False) == []  # nothing recorded...
    assert len(read_rows(checkpoint)) == 3  # ...though written: the next start cuts it
    monkeypatch.undo()
    assert run() == EXIT_OK
    assert len(check_invariants(run.folder, run.data)) == 3


def test_a_short_write_on_a_full_disk_leaves_no_partial_row(run, monkeypatch, capsys):
    write_book(run.folder, "a.json", book(1))
    assert run() == EXIT_OK
    [checkpoint] = checkpoints(run.data)
    before = checkpoint.read_bytes()
    write_book(run.folder, "b.json", book(2))
    real_write = os.write

    def half(fd, data):
        return real_write(fd, data[: len(data) // 2]) if fd != 1 and fd != 2 and len(data) > 100 else real_write(fd, data)

    monkeypatch.setattr("sidecar.store.checkpoint.os.write", half)
    assert run() == EXIT_CHECKPOINT
    assert checkpoint.read_bytes() == before
    assert "sidecar: cannot append to " in capsys.readouterr().err
    monkeypatch.undo()
    assert run() == EXIT_OK
    assert len(check_invariants(run.folder, run.data)) == 2


def test_a_terminal_gets_a_progress_bar(run, monkeypatch, capsys):
    for n in range(3):
        write_book(run.folder, f"b{n}.json", book(n))
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert run() == EXIT_OK
    err = capsys.readouterr().err
    assert "\r[##########....................] 1/3 books" in err
    assert "\r[##############################] 3/3 books" in err
    assert "\r\x1b[K" in err  # log lines clear the bar's line first


def test_rows_that_are_not_lsi_ready_are_counted_named_and_can_fail_a_script(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    write_book(folder, "a.json", book(1))  # no account, booktype, returnability... in this configuration
    args = ["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]
    assert cli.main(args) == EXIT_OK  # every book is in: 0, as before
    out, err = capsys.readouterr()
    assert out.startswith("sidecar: 1 appended, 0 replaced, 0 unchanged, 0 rejected, 1 not LSI-ready; checkpoint: ")
    assert ("WARNING 1 of 1 rows are not LSI-ready: Lightning Source Account #: blank, and LSI rejects the whole "
            "file when it is (1 rows: set 'lightning_source_account' in the tranche or books/<isbn>.json (or the "
            "book's JSON), and take it out of any blank_fields / field_exclusions list; the row is written again when "
            "the book changes or the sidecar restarts or reloads);") in err
    assert cli.main([*args, "--require-ready"]) == EXIT_NOT_READY
    write_book(folder, "b.json", book(2, title=""))  # rejected: rejection wins over readiness
    (folder / "b.json").write_text("[]")
    assert cli.main([*args, "--require-ready"]) == EXIT_REJECTED
    capsys.readouterr()
    ready = ["--once", "--config", str(ROOT / "config.yaml"), "--checkpoint-dir", str(tmp_path / "d"), "--require-ready"]
    assert cli.main(ready) == EXIT_OK  # the bundled example's rows are LSI-ready
    assert ", 0 not LSI-ready; checkpoint: " in capsys.readouterr().out


def test_a_watched_folder_that_does_not_exist_is_a_mistyped_path_for_once_and_batch(tmp_path, capsys):
    folder = tmp_path / "output" / "harbor_light_build" / "processed_jsn"  # a typo
    data = tmp_path / "data"
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]) == EXIT_USAGE
    message = (f"sidecar: the watched folder {folder} does not exist; check the path (--watch, SIDECAR_WATCH or "
               "'watch:' in the config file)\n")
    assert capsys.readouterr().err == message
    assert not data.exists()
    output = tmp_path / "batch.csv"
    assert cli.main(["batch", str(folder), "--output", str(output), "--checkpoint-dir", str(data)]) == EXIT_USAGE
    assert capsys.readouterr().err == message and not output.exists()
