"""Faults around the checkpoint's files are refusals with exit 3 that name what was found, never exit 5."""

import json
import subprocess
import time
from pathlib import Path

from sidecar import cli
from sidecar.exits import EXIT_OK

from helpers import book, cell, check_invariants, read_rows, run_child, write_book


def test_an_io_error_renaming_a_rewritten_checkpoint_in_place_is_exit_3_and_the_next_start_finishes_it(tmp_path):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    config = tmp_path / "config.yaml"
    config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {data}\n")
    for n in range(3):
        write_book(folder, f"book{n}.json", book(n))
    assert run_child(["--once", "--config", str(config)]).returncode == EXIT_OK
    write_book(folder, "book0.json", book(0, title="Book 0 revised"))  # not the last row: a rewrite and a rename
    failed = run_child(["--once", "--config", str(config)], env={"SIDECAR_FAULT": "rename-eio"})
    assert failed.returncode == cli.EXIT_CHECKPOINT, failed.stderr
    [checkpoint] = data.glob("*.csv")
    assert failed.stderr.splitlines()[-1] == (
        f"sidecar: cannot put the rewritten copy .{checkpoint.name}.rewrite in place of {checkpoint}: "
        "Input/output error (injected); the next start finishes it")
    assert run_child(["--once", "--config", str(config)]).returncode == EXIT_OK
    rows = check_invariants(folder, data)
    assert [cell(r, "Title") for r in read_rows(checkpoint)] == ["Book 0 revised", "Book 1", "Book 2"]
    assert len(rows) == 3


def test_a_lock_held_by_another_program_names_that_program_not_the_last_sidecar(tmp_path, capsys):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    args = ["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]
    assert run_child(args).returncode == EXIT_OK  # leaves its pid, now exited, in the lock file
    lock = data / ".sidecar.lock"
    exited = json.loads(lock.read_text())["pid"]
    holder = subprocess.Popen(["flock", str(lock), "sleep", "60"])
    try:
        deadline = time.monotonic() + 10
        while f" {holder.pid} " not in Path("/proc/locks").read_text():
            assert time.monotonic() < deadline, "flock did not take the lock"
            time.sleep(0.02)
        capsys.readouterr()
        assert cli.main(args) == cli.EXIT_CHECKPOINT
    finally:
        holder.kill()
        holder.wait()
    assert capsys.readouterr().err == (
        f"sidecar: {data} is in use by pid {holder.pid} (flock), which holds its lock file .sidecar.lock (the file "
        f"names pid {exited}, an earlier holder); stop it first, or give this one another "
        "--checkpoint-dir/--state-dir\n")
