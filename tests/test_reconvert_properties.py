"""A model-based property test: random sequences of settings changes, SIGKILLed runs, reloads in the middle
of a pass, rotations, renames, swaps and deletions. After every clean run, each row of the current
checkpoint whose source is there is the row a fresh `sidecar batch` makes of it under the settings in
force, each book is in exactly one row, a row whose source is gone is current or marked stale, and a book
only in a finished batch is unchanged since that batch."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from sidecar import cli
from sidecar.engine.ingest import Ingestor
from sidecar.rows.columns import COLUMNS
from sidecar.rows.isbn import check10, identity
from sidecar.settings import load_settings
from sidecar.store.manifest import settings_digest
from sidecar.tools.batch import write_batch

from helpers import book, check_invariants, isbn13

SETTINGS = [{"pub_date_format": "iso"}, {"pub_date_format": "m/d/yy"},
            {"pub_date_format": "iso", "language_code_case": "upper"}]
FAULTS = ["after-write", "after-fsync", "after-ledger", "mid-replace", "mid-rewrite"]
ISBN = COLUMNS.index("ISBN or SKU")
pytestmark = pytest.mark.timeout(900)  # shrinking a failure takes a while; passing takes seconds


def isbn10(n: int) -> str:
    """The ISBN-10 of book n (its ISBN-13 starts with 978)."""
    body = isbn13(n)[3:12]
    return body + check10(body)


class Reconversion(RuleBasedStateMachine):
    """The files in the folder are the model: name -> (book number or None for a draft, version, ISBN form)."""

    @initialize()
    def start(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="reconvert-"))
        self.folder, self.data, self.config = self.tmp / "in", self.tmp / "data", self.tmp / "config.yaml"
        self.folder.mkdir()
        self.files: dict[str, tuple[int | None, int, str]] = {}
        self.names, self.drafts, self.markers = 0, 0, 0
        self.choose_settings(0)

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------ the pipeline's side

    def _write(self, name: str, number: int | None, version: int, form: str) -> None:
        if number is None:
            data = {"title": f"Draft {name} {version}", "page_count": 100 + version}
        else:
            data = book(number, title=f"Book {number} v{version}", isbn13=isbn10(number) if form == "10" else
                        isbn13(number))
        (self.folder / name).write_text(json.dumps(data))
        self.files[name] = (number, version, form)

    @rule(number=st.integers(0, 5), form=st.sampled_from(["13", "13", "10"]))
    def add_book(self, number: int, form: str) -> None:
        if any(n == number for n, _, _ in self.files.values()):
            return  # one file per book: a second file of a book is a duplicate, rejected (tested elsewhere)
        self.names += 1
        self._write(f"f{self.names}.json", number, 0, form)

    @rule()
    def add_draft(self) -> None:
        self.names += 1
        self._write(f"f{self.names}.json", None, 0, "")

    @precondition(lambda self: self.files)
    @rule(data=st.data(), form=st.sampled_from(["13", "10"]))
    def rewrite(self, data: st.DataObject, form: str) -> None:
        name = data.draw(st.sampled_from(sorted(self.files)))
        number, version, _ = self.files[name]
        self._write(name, number, version + 1, form)

    @precondition(lambda self: self.files)
    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.files)))
        self.names += 1
        new = f"f{self.names}.json"
        os.rename(self.folder / name, self.folder / new)
        self.files[new] = self.files.pop(name)

    @precondition(lambda self: self.files)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.files)))
        (self.folder / name).unlink()
        del self.files[name]

    @precondition(lambda self: sum(n is not None for n, _, _ in self.files.values()) >= 2)
    @rule(data=st.data())
    def swap_isbns(self, data: st.DataObject) -> None:
        with_isbn = sorted(name for name, (n, _, _) in self.files.items() if n is not None)
        a, b = data.draw(st.lists(st.sampled_from(with_isbn), min_size=2, max_size=2, unique=True))
        (na, va, fa), (nb, vb, fb) = self.files[a], self.files[b]
        self._write(a, nb, vb + 1, fb)
        self._write(b, na, va + 1, fa)

    @rule(choice=st.integers(0, len(SETTINGS) - 1))
    def choose_settings(self, choice: int) -> None:
        self.settings = choice
        self.config.write_text(json.dumps({"watch": [str(self.folder)], "checkpoint_dir": str(self.data),
                                           "lsi": SETTINGS[choice], "checkpoint": {"rows_per_sync": 2}}))

    @rule()
    def rotate(self) -> None:
        self.markers += 1
        (self.folder / ".batch-start").write_text(f"batch {self.markers}")

    # ------------------------------------------------------------------ the sidecar's side

    @rule(fault=st.sampled_from(FAULTS), nth=st.integers(1, 3))
    def killed_run(self, fault: str, nth: int) -> None:
        """A real `sidecar --once` child, SIGKILLed at the nth time it reaches a step of the protocol."""
        result = subprocess.run([sys.executable, "-m", "sidecar", "--once", "--config", str(self.config)],
                                env={**os.environ, "SIDECAR_FAULT": f"{fault}:{nth}"}, cwd=self.tmp,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode in (0, -signal.SIGKILL), result.stderr
        check_invariants(self.folder, self.data, complete=False)

    @rule(after=st.integers(1, 4))
    def reload_in_the_middle(self, after: int) -> None:
        """The service's catch-up stopped after a few books, as a reload (SIGHUP) or SIGTERM does."""
        stop, count = threading.Event(), [0]
        with contextlib.redirect_stderr(io.StringIO()), Ingestor(load_settings({"config": str(self.config)})) as ing:
            ingest = ing.ingest

            def counted(*args, **kwargs):
                count[0] += 1
                if count[0] >= after:
                    stop.set()
                return ingest(*args, **kwargs)

            ing.ingest = counted  # type: ignore[method-assign]
            ing.catch_up(stop=stop)
        check_invariants(self.folder, self.data, complete=False)

    @rule()
    def clean_run(self) -> None:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = cli.main(["--once", "--config", str(self.config)])
        assert code == cli.EXIT_OK, err.getvalue()
        self.check()

    # ------------------------------------------------------------------ the property

    def check(self) -> None:
        check_invariants(self.folder, self.data)
        loaded = load_settings({"config": str(self.config)})
        folder = loaded.folders[0]
        expected = self._fresh_batch(loaded, folder)
        digest = settings_digest(loaded, folder.imprint)
        db = sqlite3.connect(f"file:{self.data / 'state' / 'ledger.sqlite3'}?mode=ro", uri=True)
        try:
            current = db.execute("SELECT id, path FROM checkpoints WHERE closed_ns IS NULL").fetchone()
            rows = db.execute("SELECT checkpoint_id, offset, length, source, sha256, digest, stale FROM rows "
                              "ORDER BY checkpoint_id, offset").fetchall()
        finally:
            db.close()
        data = Path(current[1]).read_bytes() if current else b""
        for name in self.files:
            source = str(self.folder / name)
            mine = [r for r in rows if r[3] == source]
            in_current = [r for r in mine if current and r[0] == current[0]]
            assert len(in_current) <= 1, f"{name} has {len(in_current)} rows in the current checkpoint"
            if in_current:
                _, offset, length, _, _, row_digest, stale = in_current[0]
                cells = next(csv.reader(io.StringIO(data[offset:offset + length].decode(), newline="")))
                assert cells == expected[name], f"{name}: its row is not what `sidecar batch` makes of it now"
                assert row_digest == digest and stale is None
            else:  # only in a finished batch: there, with the content it has now
                assert mine, f"{name} is in no checkpoint"
                sha = hashlib.sha256((self.folder / name).read_bytes()).hexdigest()
                assert mine[-1][4] == sha, f"{name} changed since its batch, but is not in the current one"
        keys = [identity(cells[ISBN]) or cells[COLUMNS.index("Title")] for cells in expected.values()]
        assert len(keys) == len(set(keys))
        for checkpoint_id, _, _, source, _, row_digest, stale in rows:
            if current and checkpoint_id == current[0] and Path(source).name not in self.files:
                assert row_digest == digest or stale, f"{source} is gone, its row neither current nor stale"

    def _fresh_batch(self, loaded, folder) -> dict[str, list[str]]:
        output = self.tmp / "batch.csv"
        with contextlib.redirect_stderr(io.StringIO()):
            made, rejected = write_batch(loaded, folder, output)
        assert rejected == 0 and made == len(self.files)
        rows = list(csv.reader(io.StringIO(output.read_bytes().decode("utf-8-sig"), newline="")))[1:]
        return dict(zip(sorted(self.files), rows))


TestReconversion = Reconversion.TestCase
TestReconversion.settings = settings(max_examples=10, stateful_step_count=15, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
