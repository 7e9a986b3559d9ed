"""Rotation, finalization and batch markers: each book in exactly one checkpoint, nothing lost."""

import json
import subprocess
import sys
import time
from datetime import datetime

from sidecar import cli
from sidecar.engine.ingest import Ingestor
from sidecar.exits import EXIT_OK
from sidecar.settings import load_settings

from helpers import book, cell, checkpoints, read_rows, write_book
from daemon import Daemon


def once(folder, data, *extra):
    return cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data), *extra])


def titles(path):
    return [cell(r, "Title") for r in read_rows(path)]


def test_rotate_starts_a_new_checkpoint_that_takes_only_new_books(tmp_path, capsys):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    assert once(folder, data) == EXIT_OK
    capsys.readouterr()
    assert cli.main(["rotate", "--watch", str(folder), "--checkpoint-dir", str(data), "--batch-id", "t2"]) == EXIT_OK
    first, second = checkpoints(data)
    assert capsys.readouterr().out == f"sidecar: processed_json: current checkpoint {second}\n"
    assert second.name == first.name.replace(".csv", "_2.csv")  # the same minute: never the same name
    write_book(folder, "b.json", book(2))
    assert once(folder, data) == EXIT_OK
    assert (titles(first), titles(second)) == (["Book 1"], ["Book 2"])


def test_finalize_writes_a_manifest_and_the_next_book_starts_a_new_checkpoint(tmp_path, capsys):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    write_book(folder, "b.json", book(2))
    assert once(folder, data) == EXIT_OK
    assert cli.main(["finalize", "--watch", str(folder), "--checkpoint-dir", str(data)]) == EXIT_OK
    [done] = checkpoints(data)
    assert capsys.readouterr().out.endswith("sidecar: processed_json: no open checkpoint; the next book starts one\n")
    manifest = json.loads(done.with_name(done.name + ".manifest.json").read_text())
    import hashlib

    assert manifest["checkpoint"] == done.name and manifest["books"] == 2 and manifest["imprint"] == "processed_json"
    assert manifest["sha256"] == hashlib.sha256(done.read_bytes()).hexdigest()
    assert manifest["source_folders"] == [str(folder)]
    assert manifest["first_append"] <= manifest["last_append"] <= manifest["finalized"]
    assert len(manifest["settings_digest"]) == 64
    assert manifest["rows_by_settings_digest"] == {manifest["settings_digest"]: manifest["books"]}
    assert once(folder, data) == EXIT_OK  # finalized books are not written again
    assert len(checkpoints(data)) == 1
    write_book(folder, "c.json", book(3))
    assert once(folder, data) == EXIT_OK
    assert [titles(p) for p in checkpoints(data)] == [["Book 1", "Book 2"], ["Book 3"]]
    capsys.readouterr()
    assert cli.main(["list", "--checkpoint-dir", str(data), "--json"]) == EXIT_OK
    assert [e["state"] for e in json.loads(capsys.readouterr().out)] == ["open", "finalized"]


def test_a_finalize_interrupted_before_its_manifest_is_completed_at_the_next_start(tmp_path):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    assert once(folder, data) == EXIT_OK
    settings = load_settings({"watch": [str(folder)], "checkpoint_dir": str(data)}, {})
    with Ingestor(settings) as ingestor:
        record = ingestor.appenders["processed_json"].record
        ingestor.ledger.close_checkpoint(record.id, finalized=True)  # the kill came before the manifest
    assert not record.path.with_name(record.path.name + ".manifest.json").exists()
    assert once(folder, data) == EXIT_OK
    assert json.loads(record.path.with_name(record.path.name + ".manifest.json").read_text())["books"] == 1


def test_batch_markers_from_the_pipeline_rotate_and_finalize_once_each(tmp_path):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    assert once(folder, data) == EXIT_OK
    (folder / ".batch-start").write_text("tranche-2\n")
    write_book(folder, "b.json", book(2))
    assert once(folder, data) == EXIT_OK
    assert once(folder, data) == EXIT_OK  # the same marker does not rotate twice
    first, second = checkpoints(data)
    assert (titles(first), titles(second)) == (["Book 1"], ["Book 2"])
    (folder / ".batch-done").write_text("")
    assert once(folder, data) == EXIT_OK
    assert second.with_name(second.name + ".manifest.json").exists()
    assert json.loads(second.with_name(second.name + ".manifest.json").read_text())["batch_id"] == "tranche-2"
    assert sorted(p.name for p in folder.iterdir()) == [".batch-done", ".batch-start", "a.json", "b.json"]


def test_daily_rotation_starts_a_checkpoint_with_the_first_book_of_a_new_day(tmp_path, monkeypatch):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    config = tmp_path / "c.yaml"
    config.write_text("batches: {rotate: daily}\n")
    write_book(folder, "a.json", book(1))
    assert once(folder, data, "--config", str(config)) == EXIT_OK

    class Tomorrow(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz).replace(year=datetime.now().year + 1)

    monkeypatch.setattr("sidecar.engine.ingest.datetime", Tomorrow)
    write_book(folder, "b.json", book(2))
    assert once(folder, data, "--config", str(config)) == EXIT_OK
    assert [titles(p) for p in checkpoints(data)] == [["Book 1"], ["Book 2"]]


def test_checkpointing_can_be_turned_off_per_folder(tmp_path, capsys):
    on, off, data = tmp_path / "a_build" / "processed_json", tmp_path / "b_build" / "processed_json", tmp_path / "d"
    write_book(on, "a.json", book(1))
    write_book(off, "b.json", book(2))
    config = tmp_path / "c.yaml"
    config.write_text(f"watch:\n  - {on}\n  - {{path: {off}, checkpoint: false}}\ncheckpoint_dir: {data}\n")
    assert cli.main(["--once", "--config", str(config)]) == EXIT_OK
    assert [p.name.endswith("_a.csv") for p in checkpoints(data)] == [True]
    assert f"checkpointing is off for {off} (checkpoint: false in the config)" in capsys.readouterr().err


def test_rotation_while_the_service_runs_under_load_loses_and_doubles_nothing(tmp_path):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = Daemon(tmp_path, folder).start()
    try:
        writer = subprocess.Popen([sys.executable, "-c", f"""
import json, os, sys, time
for n in range(300):
    time.sleep(0.01)  # a steady stream, about 100 books a second
    tmp = os.path.join({str(folder)!r}, f".b{{n}}.tmp")
    with open(tmp, "w") as f:
        json.dump({{"title": f"Book {{n}}", "isbn13": "978{{:010d}}".format(n), "page_count": 100}}, f)
    os.replace(tmp, os.path.join({str(folder)!r}, f"b{{n:03}}.json"))
"""])
        d.wait_for_rows(lambda rows: len(rows) >= 50)
        assert cli.main(["rotate", "--watch", str(folder), "--checkpoint-dir", str(d.data)]) == EXIT_OK
        assert writer.wait(timeout=60) == EXIT_OK
        deadline = time.monotonic() + 30
        while sum(len(read_rows(p)) for p in checkpoints(d.data)) < 300:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert d.stop() == EXIT_OK
    finally:
        d.kill()
    first, second = checkpoints(d.data)
    a, b = titles(first), titles(second)
    assert len(a) >= 50 and len(b) >= 1
    assert sorted(a + b) == sorted(f"Book {n}" for n in range(300))  # each book in exactly one of them


def test_the_running_service_acts_on_markers_in_the_order_they_came(tmp_path):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = Daemon(tmp_path, folder).start()
    try:
        write_book(folder, "a.json", book(1))
        (folder / ".batch-start").write_text("second")
        write_book(folder, "b.json", book(2))
        (folder / ".batch-done").write_text("")
        deadline = time.monotonic() + 20
        while not list(d.data.glob("*.manifest.json")):
            assert time.monotonic() < deadline, d.logs()
            time.sleep(0.02)
        assert d.stop() == EXIT_OK
    finally:
        d.kill()
    first, second = checkpoints(d.data)
    assert (titles(first), titles(second)) == (["Book 1"], ["Book 2"])
    assert json.loads(second.with_name(second.name + ".manifest.json").read_text())["batch_id"] == "second"


def test_the_log_can_also_go_to_a_file(tmp_path):
    folder = tmp_path / "in"
    write_book(folder, "a.json", book(1))
    config = tmp_path / "c.yaml"
    config.write_text("log_file: logs/sidecar.log\n")
    (tmp_path / "logs").mkdir()
    assert once(folder, tmp_path / "d", "--config", str(config)) == EXIT_OK
    assert "INFO    appended ISBN 9781000000016 'Book 1' from a.json to " in (tmp_path / "logs" / "sidecar.log").read_text()
