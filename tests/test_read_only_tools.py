"""status, recover, verify and list read the ledger without writing anything, as a user who may read the
state folder but not write it: with the service stopped (no -wal file) and while a writer has it open."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sidecar import cli
from sidecar.exits import EXIT_OK
from sidecar.store.ledger import Ledger

from helpers import ROOT, book, write_book

# nobody, with CAP_DAC_READ_SEARCH only: it may read the project wherever it was cloned (a 0700 folder too),
# and still may not write anything it does not own, the state folder included.
READER = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--inh-caps", "+dac_read_search",
          "--ambient-caps", "+dac_read_search"] if os.geteuid() == 0 else []


@pytest.fixture
def site():
    """Books, a checkpoint and its ledger made by this user, in a folder others may read and not write."""
    base = Path(tempfile.mkdtemp(prefix="sidecar-ro-"))
    os.chmod(base, 0o755)
    folder, data = base / "in", base / "data"
    for n in (1, 2):
        write_book(folder, f"{n}.json", book(n))
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]) == EXIT_OK
    yield folder, data
    for path in (data, data / "state"):
        os.chmod(path, 0o755)
    shutil.rmtree(base)


def as_reader(*args):
    """The CLI run by a user who cannot write the state folder (nobody; or this user, the folder made 0555)."""
    done = subprocess.run([*READER, sys.executable, "-m", "sidecar", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def state_files(data):
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (data / "state").iterdir())


def read_only(data):
    if not READER:
        os.chmod(data / "state", 0o555)
        os.chmod(data, 0o555)


@pytest.mark.timeout(120)
def test_the_read_only_tools_work_for_a_user_who_cannot_write_the_state_folder(site):
    folder, data = site
    [checkpoint] = data.glob("*.csv")
    before = state_files(data)
    assert [name for name, _, _ in before] == [".sidecar.lock", "ledger.sqlite3"]
    read_only(data)
    args = ["--watch", folder, "--checkpoint-dir", data]
    code, out, err = as_reader("status", "--json", *args)
    assert (code, err) == (0, "")
    assert json.loads(out)["imprints"]["in"]["rows"] == 2
    code, out, err = as_reader("recover", *args)
    assert (code, out, err) == (0, "imprint in: 0 not in a checkpoint yet, 0 rejected\n", "")
    code, out, err = as_reader("list", "--json", *args)
    assert (code, err) == (0, "") and [e["rows"] for e in json.loads(out)] == [2]
    code, out, err = as_reader("verify", checkpoint, *args)
    assert (code, err) == (1, "")  # the test books are not LSI-ready; the ledger is read and agrees
    assert "ledger      agrees (2 rows)" in out.splitlines()
    assert state_files(data) == before  # no -wal, no -shm, nothing touched


@pytest.mark.timeout(120)
def test_the_read_only_tools_see_what_a_writer_has_committed_to_its_wal(site):
    folder, data = site
    writer = Ledger(data / "state")  # as a running service holds it: the -wal and -shm stay while it is open
    try:
        write_book(folder, "3.json", book(3))
        assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]) == EXIT_OK
        assert os.path.getsize(data / "state" / "ledger.sqlite3-wal") > 0
        before = state_files(data)
        read_only(data)
        code, out, err = as_reader("status", "--json", "--watch", folder, "--checkpoint-dir", data)
        assert (code, err) == (0, "")
        assert json.loads(out)["imprints"]["in"]["rows"] == 3
        assert state_files(data) == before
    finally:
        writer.close()
