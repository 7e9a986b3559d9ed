"""The fault scenarios (scenarios.py) in their short form: real service, simulated pipeline."""

import os
import subprocess
from datetime import datetime, timedelta

import pytest

from sidecar import cli
from sidecar.exits import EXIT_CHECKPOINT, EXIT_OK

import scenarios
from helpers import book, checkpoints, write_book


@pytest.mark.parametrize("poll", [None, 0.2], ids=["inotify", "polling"])
def test_random_kills_while_the_pipeline_writes_lose_and_double_nothing(tmp_path, poll):
    figures = scenarios.kill_storm(tmp_path, kills=12 if poll is None else 6, books=60, rate=25, poll=poll)
    assert figures.kills == (12 if poll is None else 6)
    assert figures.books + figures.malformed == 60


@pytest.mark.parametrize("point", ["fsync-eio", "write-eio"])
def test_an_io_error_stops_the_service_and_a_restart_completes_the_work(tmp_path, point):
    figures = scenarios.failing_disk(tmp_path, point)
    assert figures.exit_codes[EXIT_CHECKPOINT] == 3


def _can_mount() -> bool:
    probe = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", "/mnt"], capture_output=True)
    if probe.returncode == 0:
        subprocess.run(["umount", "/mnt"], check=True)
    return probe.returncode == 0


@pytest.mark.skipif(os.geteuid() != 0 or not _can_mount(), reason="needs root and permission to mount a tmpfs")
def test_a_full_disk_is_waited_out_without_a_restart_and_nothing_is_torn_when_space_comes_back(tmp_path):
    figures = scenarios.full_disk(tmp_path)
    assert (figures.exit_codes, figures.restarts) == ({0: 1}, 0)
    assert figures.books >= 50


def test_a_second_instance_is_refused_and_names_the_first(tmp_path):
    assert scenarios.second_instance(tmp_path).exit_codes == {3: 1}


def test_a_clock_set_back_never_gives_a_checkpoint_name_that_goes_backwards(tmp_path, monkeypatch):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    args = ["--watch", str(folder), "--checkpoint-dir", str(data)]
    assert cli.main(["--once", *args]) == EXIT_OK

    class Yesterday(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) - timedelta(days=1)

    monkeypatch.setattr("sidecar.engine.ingest.datetime", Yesterday)
    for _ in range(2):
        assert cli.main(["rotate", *args]) == EXIT_OK
    names = [p.name for p in checkpoints(data)]
    assert names == sorted(names) and len(set(names)) == 3
    assert names[1] == names[0].replace(".csv", "_2.csv")


def test_a_short_soak_with_kills_and_rotations_keeps_every_invariant(tmp_path):
    result = scenarios.soak(tmp_path, minutes=0.4, rate=5)
    assert result["breaches"] == 0 and result["books"] + result["malformed"] == 120
    assert result["kills"] + result["rotations"] >= 2
