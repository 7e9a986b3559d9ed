"""What is in which checkpoint: per source file, the content hash its row holds and where that row is.

The ledger is the commit point. A row's bytes are fsynced in the checkpoint before the ledger records
them, so at start-up any bytes after the last recorded row are an unfinished append and are cut; the
source is then simply not represented yet and is ingested again. SQLite in WAL mode with
synchronous=FULL makes each commit durable.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..errors import CheckpointError, DiskFull

LEDGER_NAME = "ledger.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY,
    imprint TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    header_len INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    closed_ns INTEGER,              -- NULL for the imprint's current checkpoint
    pending_rewrite TEXT,           -- a replacement copy that is committed but not yet renamed in
    finalized_ns INTEGER,           -- set by finalize: the batch is complete, a manifest lies beside it
    batch_id TEXT                   -- from a batch-start marker, when it named one
);
CREATE TABLE IF NOT EXISTS rows (
    checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id),
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    stat TEXT NOT NULL,
    checked_ns INTEGER NOT NULL,
    isbn TEXT NOT NULL,
    title TEXT NOT NULL,
    appended_ns INTEGER NOT NULL,
    row_sha256 TEXT,                -- of the row's bytes as written: start-up and verify find hand edits
    lsi_errors TEXT,                -- JSON list of what LSI would refuse in the row ('[]': LSI-ready)
    PRIMARY KEY (checkpoint_id, offset)
);
CREATE INDEX IF NOT EXISTS rows_by_source ON rows(source);
CREATE INDEX IF NOT EXISTS rows_by_isbn ON rows(checkpoint_id, isbn);
CREATE TABLE IF NOT EXISTS rejections (
    source TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    stat TEXT NOT NULL,
    checked_ns INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS configurations (
    imprint TEXT PRIMARY KEY,
    digest TEXT NOT NULL            -- of the settings the imprint's current rows were made with
);
CREATE TABLE IF NOT EXISTS markers (
    path TEXT PRIMARY KEY,          -- a batch marker file in a watched folder
    stat TEXT NOT NULL              -- the version of it already acted on
);
"""


@dataclass(frozen=True)
class CheckpointRecord:
    id: int
    imprint: str
    path: Path
    header_len: int
    pending_rewrite: str | None
    created_ns: int
    closed_ns: int | None = None
    finalized_ns: int | None = None

    @property
    def state(self) -> str:
        return "open" if self.closed_ns is None else "finalized" if self.finalized_ns else "rotated"


_CHECKPOINT_COLUMNS = "id, imprint, path, header_len, pending_rewrite, created_ns, closed_ns, finalized_ns"


def _checkpoint(found: Sequence[object]) -> CheckpointRecord:
    return CheckpointRecord(found[0], found[1], Path(str(found[2])), *found[3:])  # type: ignore[arg-type]


@dataclass(frozen=True)
class RowRecord:
    checkpoint_id: int
    offset: int
    length: int
    source: str
    sha256: str
    stat: str
    checked_ns: int
    isbn: str
    title: str
    appended_ns: int
    row_sha256: str | None  # None for rows recorded before the ledger kept it
    lsi_errors: str | None = None  # JSON list of "column: reason"; None for rows recorded before it was kept

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class Rejection:
    source: str
    sha256: str
    stat: str
    checked_ns: int
    reason: str


def ledger_path(state_dir: Path) -> Path:
    """The one place that knows where a state folder keeps its ledger."""
    return state_dir / LEDGER_NAME


class Ledger:
    """The ledger of one state folder, opened for writing (under the folder's lock) or read-only."""

    def __init__(self, state_dir: Path) -> None:
        self.path = path = ledger_path(state_dir)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(rows)")}
            for added in ("row_sha256", "lsi_errors"):  # a ledger from before them: its rows keep NULL
                if added not in columns:
                    self.db.execute(f"ALTER TABLE rows ADD COLUMN {added} TEXT")
        except sqlite3.DatabaseError as exc:
            raise CheckpointError(f"cannot open the ledger {path}: {exc}; if it is damaged, move the state "
                                  "folder aside (the checkpoints' books are then written to new checkpoints)") from None
        self.inode = os.stat(path).st_ino

    @classmethod
    def read_only(cls, state_dir: Path) -> Ledger:
        """For the tools beside a running service: takes no lock and changes nothing."""
        path = ledger_path(state_dir)
        if not path.is_file():
            raise CheckpointError(f"no ledger at {path}: the sidecar has not run with this state folder yet")
        ledger = cls.__new__(cls)
        ledger.path = path
        try:
            ledger.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            ledger.db.execute("SELECT id FROM checkpoints LIMIT 1").fetchall()
            ledger.db.execute("SELECT row_sha256, lsi_errors FROM rows LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise CheckpointError(f"cannot read the ledger {path}: {exc} (is it a sidecar ledger of this "
                                  "version? a running service upgrades it at start)") from None
        return ledger

    def still_in_place(self) -> bool:
        """False when the ledger file was deleted or replaced under this process."""
        try:
            return os.stat(self.path).st_ino == self.inode
        except FileNotFoundError:
            return False

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _tx(self, statements: Iterable[tuple[str, Sequence[object]]]) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            for sql, args in statements:
                self.db.execute(sql, args)
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            raise (DiskFull if full else CheckpointError)(f"cannot write the ledger {self.path}: {exc}") from None

    # ---------------------------------------------------------------- checkpoints

    def current_checkpoint(self, imprint: str) -> CheckpointRecord | None:
        """The imprint's open checkpoint; None before the first book, and after finalize until the next."""
        found = self.db.execute(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints "
            "WHERE imprint = ? AND closed_ns IS NULL ORDER BY id DESC LIMIT 1", (imprint,)).fetchone()
        return _checkpoint(found) if found else None

    def checkpoints(self) -> list[CheckpointRecord]:
        """Every checkpoint the ledger has known, oldest first."""
        return [_checkpoint(r) for r in self.db.execute(f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id")]

    def checkpoint_at(self, path: Path) -> CheckpointRecord | None:
        found = self.db.execute(f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE path = ?",
                                (str(path),)).fetchone()
        return _checkpoint(found) if found else None

    def add_checkpoint(self, imprint: str, path: Path, header_len: int, batch_id: str | None = None) -> CheckpointRecord:
        now = time.time_ns()
        self._tx([
            ("UPDATE checkpoints SET closed_ns = ? WHERE imprint = ? AND closed_ns IS NULL", (now, imprint)),
            ("INSERT INTO checkpoints (imprint, path, header_len, created_ns, batch_id) VALUES (?, ?, ?, ?, ?)",
             (imprint, str(path), header_len, now, batch_id)),
        ])
        record = self.current_checkpoint(imprint)
        assert record is not None
        return record

    def latest_created_ns(self, imprint: str) -> int | None:
        return self.db.execute("SELECT MAX(created_ns) FROM checkpoints WHERE imprint = ?", (imprint,)).fetchone()[0]

    def finalized_checkpoints(self) -> list[CheckpointRecord]:
        return [_checkpoint(r) for r in self.db.execute(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE finalized_ns IS NOT NULL")]

    def close_checkpoint(self, checkpoint_id: int, finalized: bool) -> None:
        now = time.time_ns()
        self._tx([("UPDATE checkpoints SET closed_ns = ?, finalized_ns = ? WHERE id = ?",
                   (now, now if finalized else None, checkpoint_id))])

    def append_times(self, checkpoint_id: int) -> tuple[int | None, int | None]:
        """First and last append (ns) of a checkpoint's rows."""
        return self.db.execute("SELECT MIN(appended_ns), MAX(appended_ns) FROM rows WHERE checkpoint_id = ?",
                               (checkpoint_id,)).fetchone()

    def batch_id(self, checkpoint_id: int) -> str | None:
        return self.db.execute("SELECT batch_id FROM checkpoints WHERE id = ?", (checkpoint_id,)).fetchone()[0]

    def configuration(self, imprint: str) -> str | None:
        found = self.db.execute("SELECT digest FROM configurations WHERE imprint = ?", (imprint,)).fetchone()
        return found[0] if found else None

    def record_configuration(self, imprint: str, digest: str) -> None:
        self._tx([("INSERT OR REPLACE INTO configurations (imprint, digest) VALUES (?, ?)", (imprint, digest))])

    def marker_seen(self, path: str, stat: str) -> bool:
        return self.db.execute("SELECT 1 FROM markers WHERE path = ? AND stat = ?", (path, stat)).fetchone() is not None

    def record_marker(self, path: str, stat: str) -> None:
        self._tx([("INSERT OR REPLACE INTO markers VALUES (?, ?)", (path, stat))])

    def drop_checkpoint(self, checkpoint_id: int) -> None:
        """Forget a checkpoint whose file is gone, so that its books are written again."""
        self._tx([("DELETE FROM rows WHERE checkpoint_id = ?", (checkpoint_id,)),
                  ("UPDATE checkpoints SET closed_ns = ? WHERE id = ?", (time.time_ns(), checkpoint_id))])

    def knows_path(self, path: Path) -> bool:
        return self.checkpoint_at(path) is not None

    def set_pending_rewrite(self, checkpoint_id: int, tmp: str | None) -> None:
        self._tx([("UPDATE checkpoints SET pending_rewrite = ? WHERE id = ?", (tmp, checkpoint_id))])

    def recorded_end(self, checkpoint: CheckpointRecord) -> int:
        end = self.db.execute("SELECT MAX(offset + length) FROM rows WHERE checkpoint_id = ?",
                              (checkpoint.id,)).fetchone()[0]
        return end if end is not None else checkpoint.header_len

    def row_count(self, checkpoint_id: int) -> int:
        return self.db.execute("SELECT COUNT(*) FROM rows WHERE checkpoint_id = ?", (checkpoint_id,)).fetchone()[0]

    # ---------------------------------------------------------------- rows

    def latest_row(self, source: str) -> RowRecord | None:
        found = self.db.execute(
            "SELECT * FROM rows WHERE source = ? ORDER BY checkpoint_id DESC, offset DESC LIMIT 1",
            (source,)).fetchone()
        return RowRecord(*found) if found else None

    def rows(self, checkpoint_id: int) -> Iterator[RowRecord]:
        """A checkpoint's rows in file order, fetched as they are used (flat memory)."""
        return (RowRecord(*r) for r in self.db.execute(
            "SELECT * FROM rows WHERE checkpoint_id = ? ORDER BY offset", (checkpoint_id,)))

    def sources_with_more_rows(self, checkpoint_id: int) -> list[tuple[str, int]]:
        """Sources that have more than one row in a checkpoint (never, unless the ledger was changed by hand)."""
        return self.db.execute("SELECT source, COUNT(*) FROM rows WHERE checkpoint_id = ? GROUP BY source "
                               "HAVING COUNT(*) > 1 ORDER BY source", (checkpoint_id,)).fetchall()

    def readiness(self, checkpoint_id: int) -> tuple[int, int, Counter[str]]:
        """Rows, rows LSI would refuse, and how often each reason comes (rows of older ledgers count as ready)."""
        rows = not_ready = 0
        reasons: Counter[str] = Counter()
        for (errors,) in self.db.execute("SELECT lsi_errors FROM rows WHERE checkpoint_id = ?", (checkpoint_id,)):
            rows += 1
            if errors and errors != "[]":
                not_ready += 1
                reasons.update(json.loads(errors))
        return rows, not_ready, reasons

    def isbn_holder(self, checkpoint_id: int, isbn: str, source: str) -> str | None:
        found = self.db.execute(
            "SELECT source FROM rows WHERE checkpoint_id = ? AND isbn = ? AND source != ? LIMIT 1",
            (checkpoint_id, isbn, source)).fetchone()
        return found[0] if found else None

    def record_rows(self, rows: Sequence[RowRecord]) -> None:
        """Commit freshly appended rows (one transaction for the whole group)."""
        statements: list[tuple[str, Sequence[object]]] = []
        for r in rows:
            statements.append(("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _row_values(r)))
            statements.append(("DELETE FROM rejections WHERE source = ?", (r.source,)))
        self._tx(statements)

    def forget_row(self, row: RowRecord) -> None:
        self._tx([("DELETE FROM rows WHERE checkpoint_id = ? AND offset = ?", (row.checkpoint_id, row.offset))])

    def replace_row(self, old: RowRecord, new: RowRecord, pending: str) -> None:
        """Commit a row rewritten in the middle of its file: later rows shift by the change in length."""
        delta = new.length - old.length
        self._tx([
            ("DELETE FROM rows WHERE checkpoint_id = ? AND offset = ?", (old.checkpoint_id, old.offset)),
            # Shift in two steps so that no intermediate offset collides with the primary key.
            ("UPDATE rows SET offset = -(offset + ?) WHERE checkpoint_id = ? AND offset > ?",
             (delta, old.checkpoint_id, old.offset)),
            ("UPDATE rows SET offset = -offset WHERE checkpoint_id = ? AND offset < 0", (old.checkpoint_id,)),
            ("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _row_values(new)),
            ("UPDATE checkpoints SET pending_rewrite = ? WHERE id = ?", (pending, old.checkpoint_id)),
            ("DELETE FROM rejections WHERE source = ?", (new.source,)),
        ])

    def touch_row(self, row: RowRecord, sha256: str, stat: str, checked_ns: int) -> None:
        """The row stands for new content whose row bytes are the same (or that is ignored by policy)."""
        self._tx([("UPDATE rows SET sha256 = ?, stat = ?, checked_ns = ? WHERE checkpoint_id = ? AND offset = ?",
                   (sha256, stat, checked_ns, row.checkpoint_id, row.offset)),
                  ("DELETE FROM rejections WHERE source = ?", (row.source,))])

    # ---------------------------------------------------------------- rejections

    def rejection(self, source: str) -> Rejection | None:
        found = self.db.execute("SELECT * FROM rejections WHERE source = ?", (source,)).fetchone()
        return Rejection(*found) if found else None

    def record_rejection(self, rejection: Rejection) -> None:
        self._tx([("INSERT OR REPLACE INTO rejections VALUES (?, ?, ?, ?, ?)",
                   (rejection.source, rejection.sha256, rejection.stat, rejection.checked_ns, rejection.reason))])

    def rejections(self) -> list[Rejection]:
        return [Rejection(*r) for r in self.db.execute("SELECT * FROM rejections ORDER BY source")]


def _row_values(r: RowRecord) -> tuple[object, ...]:
    return (r.checkpoint_id, r.offset, r.length, r.source, r.sha256, r.stat, r.checked_ns, r.isbn, r.title,
            r.appended_ns, r.row_sha256, r.lsi_errors)
