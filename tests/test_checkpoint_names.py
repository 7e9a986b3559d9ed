"""The checkpoint name is made and recognised in one place: exact per imprint, never out of order."""

import json
import os
import time
from pathlib import Path
from datetime import datetime

import pytest

from sidecar import cli
from sidecar.exits import EXIT_CHECKPOINT, EXIT_OK
from sidecar.store.checkpoint import remove_stale_temp_files
from sidecar.store.names import (CheckpointName, export_name, is_checkpoint_of, is_checkpoint_temp,
                                 new_checkpoint_name, temp_name, temp_target)

from helpers import book, write_book


@pytest.mark.parametrize("name, imprint, expected", [
    ("cumulative_checkpoint_20261126_0930_harbor_light.csv", "harbor_light", ("20261126_0930", 1)),
    ("cumulative_checkpoint_20261126_0930_harbor_light_2.csv", "harbor_light", ("20261126_0930", 2)),
    ("cumulative_checkpoint_20261126_0930_harbor_light_12.csv", "harbor_light", ("20261126_0930", 12)),
    ("cumulative_checkpoint_20261126_0930_harbor_light.csv", "harbor", None),
    ("cumulative_checkpoint_20261126_0930_harbor_light_submission.csv", "harbor_light", None),
    ("cumulative_checkpoint_20261126_0930_harbor_light_1.csv", "harbor_light", None),
    ("cumulative_checkpoint_20261126_0930_harbor_light_02.csv", "harbor_light", None),
    ("cumulative_checkpoint_20261126_0930_harbor_light.csv.manifest.json", "harbor_light", None),
    ("cumulative_checkpoint_2026112_0930_harbor_light.csv", "harbor_light", None),
    ("cumulative_checkpoint_20261126_0930_harbor_light.xlsx", "harbor_light", None),
    (".cumulative_checkpoint_20261126_0930_harbor_light.csv.rewrite", "harbor_light", None),
])
def test_a_file_is_a_checkpoint_of_an_imprint_only_when_its_name_is_exactly_one(name, imprint, expected):
    found = CheckpointName.parse(name, imprint)
    assert (found and (found.stamp, found.sequence)) == expected
    if found:
        assert found.file_name == name


def test_a_csv_export_is_never_named_as_a_checkpoint():
    checkpoint = CheckpointName("20261126_0930", 1, "imp").file_name
    for profile in ("submission", "full", "2", "10"):
        assert not is_checkpoint_of(export_name(Path(checkpoint), profile), "imp")
    assert export_name(Path(checkpoint), "2").name == \
        "cumulative_checkpoint_20261126_0930_imp_export_2.csv"


def test_names_within_one_minute_go_up_to_9_then_take_the_next_minute_so_they_sort_as_made(tmp_path):
    now = datetime(2026, 11, 26, 9, 59)
    made = []
    for _ in range(11):
        path = new_checkpoint_name(tmp_path, "imp", now)
        path.write_text("")
        made.append(path.name)
    assert made[1] == "cumulative_checkpoint_20261126_0959_imp_2.csv"
    assert made[8] == "cumulative_checkpoint_20261126_0959_imp_9.csv"
    assert made[9:] == ["cumulative_checkpoint_20261126_1000_imp.csv", "cumulative_checkpoint_20261126_1000_imp_2.csv"]
    assert made == sorted(made)


def test_a_name_the_ledger_knows_counts_although_its_file_is_gone(tmp_path):
    gone = tmp_path / "cumulative_checkpoint_20261126_1200_imp.csv"
    path = new_checkpoint_name(tmp_path, "imp", datetime(2026, 11, 26, 9, 0), [gone])
    assert path.name == "cumulative_checkpoint_20261126_1200_imp_2.csv"


def test_another_imprint_s_checkpoint_does_not_move_the_name(tmp_path):
    (tmp_path / "cumulative_checkpoint_20261126_1200_imp_b.csv").write_text("")
    assert new_checkpoint_name(tmp_path, "imp", datetime(2026, 11, 26, 9, 0)).name == \
        "cumulative_checkpoint_20261126_0900_imp.csv"


def test_after_a_time_zone_change_a_new_checkpoint_still_sorts_after_the_older_one(tmp_path, monkeypatch):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    args = ["--watch", str(folder), "--checkpoint-dir", str(data)]
    try:
        monkeypatch.setenv("TZ", "Etc/GMT-5")  # UTC+5, as the POSIX sign goes
        time.tzset()
        assert cli.main(["--once", *args]) == EXIT_OK
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
        assert cli.main(["rotate", *args]) == EXIT_OK
    finally:
        monkeypatch.undo()
        time.tzset()
    names = [p.name for p in data.iterdir() if p.suffix == ".csv"]
    first = next(n for n in names if n.endswith("_processed_json.csv"))
    assert len(names) == 2 and sorted(names) == [first, first.replace(".csv", "_2.csv")]


def test_list_does_not_show_a_csv_export_as_a_checkpoint(tmp_path, capsys):
    folder, data = tmp_path / "output" / "harbor_light_build" / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]) == EXIT_OK
    [checkpoint] = data.glob("*.csv")
    assert cli.main(["export", str(checkpoint), "--profile", "submission", "--checkpoint-dir", str(data)]) == EXIT_OK
    exported = data / checkpoint.name.replace(".csv", "_submission.csv")
    assert exported.exists()
    capsys.readouterr()
    assert cli.main(["list", "--checkpoint-dir", str(data), "--json"]) == EXIT_OK
    entries = json.loads(capsys.readouterr().out)
    assert [(e["checkpoint"], e["imprint"], e["rows"], e["state"]) for e in entries] == [
        (str(checkpoint), "harbor_light", 1, "open")]


def test_list_without_a_ledger_shows_checkpoints_but_not_their_exports(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("cumulative_checkpoint_20261126_0930_imp.csv", "cumulative_checkpoint_20261126_0930_imp_2.csv",
                 "cumulative_checkpoint_20261126_0930_imp_submission.csv", "notes.csv"):
        (data / name).write_text("x")
    assert cli.main(["list", "--checkpoint-dir", str(data), "--json"]) == EXIT_OK
    entries = json.loads(capsys.readouterr().out)
    assert sorted(os.path.basename(e["checkpoint"]) for e in entries) == [
        "cumulative_checkpoint_20261126_0930_imp.csv", "cumulative_checkpoint_20261126_0930_imp_2.csv"]
    assert {e["state"] for e in entries} == {"not in the ledger"}


def test_an_imprint_whose_name_begins_another_s_does_not_claim_its_checkpoints(tmp_path, capsys):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data), "--imprint", "harbor_light"]) == EXIT_OK
    capsys.readouterr()
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data), "--imprint", "harbor",
                     "--state-dir", str(tmp_path / "other_state")]) == EXIT_OK, capsys.readouterr().err
    assert len([p for p in data.glob("*_harbor.csv")]) == 1


def test_a_lost_ledger_is_still_refused_for_the_imprint_s_own_checkpoints(tmp_path, capsys):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    args = ["--once", "--watch", str(folder), "--checkpoint-dir", str(data), "--imprint", "harbor"]
    assert cli.main(args) == EXIT_OK
    [checkpoint] = data.glob("*.csv")
    capsys.readouterr()
    assert cli.main([*args, "--state-dir", str(tmp_path / "other_state")]) == EXIT_CHECKPOINT
    assert f"checkpoint(s) such as {checkpoint.name} are in {data}" in capsys.readouterr().err


def test_only_temp_files_of_the_imprint_s_checkpoints_and_manifests_are_removed_at_start(tmp_path):
    checkpoint = CheckpointName("20261126_0930", 1, "imp").file_name
    stale = [f".{checkpoint}.4242.tmp", f".{checkpoint}.manifest.json.4242.tmp"]
    kept = [f".{checkpoint.replace('.csv', '_submission.csv')}.4242.tmp",  # an export being written
            f".{CheckpointName('20261126_0930', 1, 'imp_b').file_name}.4242.tmp", f".{checkpoint}.rewrite",
            checkpoint]
    for name in stale + kept:
        (tmp_path / name).write_text("")
    assert [is_checkpoint_temp(tmp_path / n, ["imp"]) for n in stale + kept] == [True] * 2 + [False] * 4
    remove_stale_temp_files(tmp_path, ["imp"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


@pytest.mark.parametrize("name, target", [
    (".a.csv.4242.tmp", "a.csv"), (".a.manifest.json.1.tmp", "a.manifest.json"),
    ("a.csv.4242.tmp", None), (".a.csv.tmp", None), (".a.csv.42x.tmp", None), (".4242.tmp", None), (".a.csv", None),
])
def test_a_temp_file_name_is_read_back_by_the_rule_that_makes_it(tmp_path, name, target):
    assert temp_target(name) == target
    if target is not None:
        assert temp_name(tmp_path / target, int(name.split(".")[-2])).name == name
