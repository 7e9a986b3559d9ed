"""What is in which checkpoint: per source file, the content hash its row holds and where that row is.

The ledger is the commit point. A row's bytes are fsynced in the checkpoint before the ledger records
them, so at start-up any bytes after the last recorded row are an unfinished append and are cut; the
source is then simply not represented yet and is ingested again. SQLite in WAL mode with
synchronous=FULL makes each commit durable.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..errors import CheckpointError, DiskFull
from ..rows.columns import Problem
from ..rows.lsi_rules import decode_errors
from .names import imprint_of
from .records import CheckpointRecord as CheckpointRecord, Rejection as Rejection, RowRecord as RowRecord
from .schema import migrate

LEDGER_NAME = "ledger.sqlite3"
_CHECKPOINT_COLUMNS = "id, imprint, path, header_len, pending_rewrite, created_ns, closed_ns, finalized_ns"


def _checkpoint(found: Sequence[object]) -> CheckpointRecord:
    return CheckpointRecord(found[0], found[1], Path(str(found[2])), *found[3:])  # type: ignore[arg-type]


_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(RowRecord))
_ROW_COLUMNS = ", ".join(_ROW_FIELDS)
_ROW_INSERT = f"INSERT INTO rows ({_ROW_COLUMNS}) VALUES ({', '.join('?' * len(dataclasses.fields(RowRecord)))})"
_REJECTION_COLUMNS = ", ".join(f.name for f in dataclasses.fields(Rejection))


def ledger_path(state_dir: Path) -> Path:
    """The one place that knows where a state folder keeps its ledger."""
    return state_dir / LEDGER_NAME


def refuse_lost_ledger(state_dir: Path, checkpoint_dir: Path, imprints: Iterable[str]) -> None:
    """Checkpoints without their ledger: starting a new ledger would write every book again, silently.
    Raises CheckpointError when state_dir has no ledger but checkpoint_dir holds a checkpoint of one of the
    imprints; OSError when checkpoint_dir cannot be listed."""
    if ledger_path(state_dir).exists():
        return
    imprints = set(imprints)
    found = sorted(p for p in checkpoint_dir.iterdir() if imprint_of(p, imprints) is not None)
    if found:
        raise CheckpointError(f"{len(found)} checkpoint(s) such as {found[0].name} are in {checkpoint_dir}, "
                              f"but their ledger {ledger_path(state_dir)} is missing: restore it (or set "
                              "state_dir to where it is), or move those checkpoints aside to start over")


class Ledger:
    """The ledger of one state folder, opened for writing (under the folder's lock) or read-only.

    Every write is one transaction: it raises DiskFull when SQLite finds the disk full and CheckpointError for
    any other failure, and is then rolled back (none of it is recorded). Reads raise sqlite3.Error when the
    ledger file cannot be read (damaged, or removed under a reader). Times are nanoseconds since the epoch
    (time.time_ns()); offsets and lengths are bytes in the checkpoint file.
    """

    def __init__(self, state_dir: Path) -> None:
        """Open (or create) <state_dir>/ledger.sqlite3 for writing, brought to this version's schema. Raises
        CheckpointError when it cannot be opened, is damaged, or was made by a newer sidecar."""
        self.path = path = ledger_path(state_dir)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            migrate(self.db, path)
        except sqlite3.DatabaseError as exc:
            raise CheckpointError(f"cannot open the ledger {path}: {exc}; if it is damaged, move the state "
                                  "folder aside (the checkpoints' books are then written to new checkpoints)") from None
        self.inode = os.stat(path).st_ino

    @classmethod
    def read_only(cls, state_dir: Path) -> Ledger:
        """For the tools beside a running service: takes no lock, writes no file, needs no write access.

        In WAL mode a reader needs the writer's -shm file. While a writer has the ledger open (its -wal
        file exists) the ledger is opened read-only and uses the writer's -wal and -shm (reading them is
        enough). When no -wal file exists, every commit is in the database file itself, and it is opened
        `immutable`: SQLite then reads that file alone and creates no -wal or -shm (a plain read-only
        open would, where the folder is writable, and fails where it is not). A service that starts
        meanwhile writes to a new -wal, which this reader does not see: it reads the ledger as it was, until
        the service copies that -wal into the file (after 1,000 pages, or when it stops), which a tool's
        read of seconds does not meet in practice; run the tool again if it ever does.
        Raises CheckpointError when there is no ledger or it cannot be read."""
        path = ledger_path(state_dir)
        if not path.is_file():
            raise CheckpointError(f"no ledger at {path}: the sidecar has not run with this state folder yet")
        ledger = cls.__new__(cls)
        ledger.path = path
        wal = path.with_name(path.name + "-wal")
        uri = f"file:{urllib.parse.quote(str(path))}?mode=ro" + ("" if wal.exists() else "&immutable=1")
        try:
            ledger.db = sqlite3.connect(uri, uri=True, isolation_level=None)
            ledger.db.execute("SELECT id FROM checkpoints LIMIT 1").fetchall()
            ledger.db.execute("SELECT row_sha256, lsi_errors, digest, stale FROM rows LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise CheckpointError(f"cannot read the ledger {path}: {exc} (is it a sidecar ledger of this "
                                  "version? a running service upgrades it at start; while it runs, a reader "
                                  f"needs read access to {wal.name} and {path.name}-shm beside it)") from None
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
        """Close the connection (a writer's last commit is already durable)."""
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
        """The checkpoint recorded at path (open or closed); None when the ledger never had one there."""
        found = self.db.execute(f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE path = ?",
                                (str(path),)).fetchone()
        return _checkpoint(found) if found else None

    def add_checkpoint(self, imprint: str, path: Path, header_len: int, batch_id: str | None = None) -> CheckpointRecord:
        """Record a new open checkpoint of the imprint (its file already holds header_len bytes of header),
        closing the imprint's previous one in the same transaction."""
        now = time.time_ns()
        self._tx([
            ("UPDATE checkpoints SET closed_ns = ? WHERE imprint = ? AND closed_ns IS NULL", (now, imprint)),
            ("INSERT INTO checkpoints (imprint, path, header_len, created_ns, batch_id) VALUES (?, ?, ?, ?, ?)",
             (imprint, str(path), header_len, now, batch_id)),
        ])
        record = self.current_checkpoint(imprint)
        assert record is not None
        return record

    def finalized_checkpoints(self) -> list[CheckpointRecord]:
        """Every checkpoint closed by finalize (each should have a manifest beside it)."""
        return [_checkpoint(r) for r in self.db.execute(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE finalized_ns IS NOT NULL")]

    def close_checkpoint(self, checkpoint_id: int, finalized: bool) -> None:
        """Close a checkpoint now: rotated, or with finalized the batch is complete."""
        now = time.time_ns()
        self._tx([("UPDATE checkpoints SET closed_ns = ?, finalized_ns = ? WHERE id = ?",
                   (now, now if finalized else None, checkpoint_id))])

    def append_times(self, checkpoint_id: int) -> tuple[int | None, int | None]:
        """First and last append (ns) of a checkpoint's rows."""
        first_last: tuple[int | None, int | None] = self.db.execute(
            "SELECT MIN(appended_ns), MAX(appended_ns) FROM rows WHERE checkpoint_id = ?", (checkpoint_id,)).fetchone()
        return first_last

    def batch_id(self, checkpoint_id: int) -> str | None:
        """The batch id a start marker or `sidecar rotate --batch-id` gave the checkpoint; None when none did."""
        batch: str | None = self.db.execute("SELECT batch_id FROM checkpoints WHERE id = ?",
                                            (checkpoint_id,)).fetchone()[0]
        return batch

    def marker_seen(self, path: str, stat: str) -> bool:
        """Whether this version of a batch marker (its stat_source() key) was already acted on."""
        return self.db.execute("SELECT 1 FROM markers WHERE path = ? AND stat = ?", (path, stat)).fetchone() is not None

    def record_marker(self, path: str, stat: str) -> None:
        """Remember that this version of a batch marker was acted on."""
        self._tx([("INSERT OR REPLACE INTO markers VALUES (?, ?)", (path, stat))])

    def drop_checkpoint(self, checkpoint_id: int) -> None:
        """Forget a checkpoint whose file is gone, so that its books are written again."""
        self._tx([("DELETE FROM rows WHERE checkpoint_id = ?", (checkpoint_id,)),
                  ("UPDATE checkpoints SET closed_ns = ? WHERE id = ?", (time.time_ns(), checkpoint_id))])

    def set_pending_rewrite(self, checkpoint_id: int, tmp: str | None) -> None:
        """Record (or with None clear) the replacement copy that is to be renamed over the checkpoint."""
        self._tx([("UPDATE checkpoints SET pending_rewrite = ? WHERE id = ?", (tmp, checkpoint_id))])

    def recorded_end(self, checkpoint: CheckpointRecord) -> int:
        """Where the checkpoint's last recorded row ends (its header's length when it has none): any bytes
        after it are an unfinished append."""
        end = self.db.execute("SELECT MAX(offset + length) FROM rows WHERE checkpoint_id = ?",
                              (checkpoint.id,)).fetchone()[0]
        return end if end is not None else checkpoint.header_len

    def row_count(self, checkpoint_id: int) -> int:
        """How many rows the ledger records in the checkpoint."""
        count: int = self.db.execute("SELECT COUNT(*) FROM rows WHERE checkpoint_id = ?",
                                     (checkpoint_id,)).fetchone()[0]
        return count

    # ---------------------------------------------------------------- rows

    def latest_row(self, source: str) -> RowRecord | None:
        """The source file's row in the newest checkpoint that has one; None when no checkpoint has it."""
        found = self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM rows WHERE source = ? ORDER BY checkpoint_id DESC, offset DESC LIMIT 1",
            (source,)).fetchone()
        return RowRecord(*found) if found else None

    def rows(self, checkpoint_id: int) -> Iterator[RowRecord]:
        """A checkpoint's rows in file order, fetched as they are used (flat memory)."""
        return (RowRecord(*r) for r in self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM rows WHERE checkpoint_id = ? ORDER BY offset", (checkpoint_id,)))

    def book_row(self, checkpoint_id: int, isbn: str) -> RowRecord | None:
        """A book's row in a checkpoint, by its identity (rows/isbn.py; None: the checkpoint has none)."""
        found = self.db.execute(f"SELECT {_ROW_COLUMNS} FROM rows WHERE checkpoint_id = ? AND isbn = ? "
                                "ORDER BY offset DESC LIMIT 1", (checkpoint_id, isbn)).fetchone()
        return RowRecord(*found) if found else None

    def sources_with_more_rows(self, checkpoint_id: int) -> list[tuple[str, int]]:
        """Sources that have more than one row in a checkpoint (never, unless the ledger was changed by hand)."""
        return self.db.execute("SELECT source, COUNT(*) FROM rows WHERE checkpoint_id = ? GROUP BY source "
                               "HAVING COUNT(*) > 1 ORDER BY source", (checkpoint_id,)).fetchall()

    def readiness(self, checkpoint_id: int) -> tuple[int, int, Counter[Problem]]:
        """Rows, rows LSI would refuse, and how often each error comes (rows of older ledgers count as ready)."""
        rows = not_ready = 0
        reasons: Counter[Problem] = Counter()
        for (recorded,) in self.db.execute("SELECT lsi_errors FROM rows WHERE checkpoint_id = ?", (checkpoint_id,)):
            rows += 1
            errors = decode_errors(recorded)
            if errors:
                not_ready += 1
                reasons.update(errors)
        return rows, not_ready, reasons

    def known(self, sources: Sequence[str]) -> set[str]:
        """Those of the source files the ledger has a row or a rejection of (one query for a batch of them)."""
        marks = ", ".join("?" * len(sources))
        return {r[0] for r in self.db.execute(f"SELECT source FROM rows WHERE source IN ({marks}) UNION "
                                              f"SELECT source FROM rejections WHERE source IN ({marks})",
                                              (*sources, *sources))}

    def isbn_holder(self, checkpoint_id: int, isbn: str, source: str) -> str | None:
        """Another source file whose row in the checkpoint has this book identity (rows/isbn.py); None if none."""
        found = self.db.execute(
            "SELECT source FROM rows WHERE checkpoint_id = ? AND isbn = ? AND source != ? LIMIT 1",
            (checkpoint_id, isbn, source)).fetchone()
        return found[0] if found else None

    def record_rows(self, rows: Sequence[RowRecord]) -> None:
        """Commit freshly appended rows (one transaction for the whole group)."""
        statements: list[tuple[str, Sequence[object]]] = []
        for r in rows:
            statements.append((_ROW_INSERT, _row_values(r)))
            statements.append(("DELETE FROM rejections WHERE source = ?", (r.source,)))
        self._tx(statements)

    def forget_row(self, row: RowRecord) -> None:
        """Delete a row's record. Its bytes stay in the file: the newest row's become an unrecorded tail."""
        self._tx([("DELETE FROM rows WHERE checkpoint_id = ? AND offset = ?", (row.checkpoint_id, row.offset))])

    def replace_rows(self, pairs: Sequence[tuple[RowRecord, RowRecord]], pending: str) -> None:
        """Commit rows rewritten in the middle of their file, all in one transaction with the copy that holds
        them: each later row shifts by the change in length of the rows replaced before it. Raises
        CheckpointError when the ledger cannot be written."""
        pairs = sorted(pairs, key=lambda pair: pair[0].offset)
        checkpoint_id = pairs[0][0].checkpoint_id
        statements: list[tuple[str, Sequence[object]]] = [
            ("DELETE FROM rows WHERE checkpoint_id = ? AND offset = ?", (old.checkpoint_id, old.offset))
            for old, _ in pairs]
        shift = 0
        for n, (old, new) in enumerate(pairs):  # each stretch between two replaced rows moves once
            shift += new.length - old.length
            upper = pairs[n + 1][0].offset if n + 1 < len(pairs) else 1 << 62
            if shift:  # in two steps, so that no intermediate offset collides with the primary key
                statements.append(("UPDATE rows SET offset = -(offset + ?) WHERE checkpoint_id = ? AND offset > ? "
                                   "AND offset < ?", (shift, checkpoint_id, old.offset, upper)))
        statements.append(("UPDATE rows SET offset = -offset WHERE checkpoint_id = ? AND offset < 0", (checkpoint_id,)))
        for _, new in pairs:
            statements += [(_ROW_INSERT, _row_values(new)), ("DELETE FROM rejections WHERE source = ?", (new.source,))]
        statements.append(("UPDATE checkpoints SET pending_rewrite = ? WHERE id = ?", (pending, checkpoint_id)))
        self._tx(statements)

    def touch_row(self, row: RowRecord, sha256: str, stat: str, checked_ns: int,
                  converted: RowRecord | None = None) -> None:
        """The row stands for new content whose row bytes are the same (or that is ignored by policy); with
        converted, the row that content converts to now: its settings digest, problems and source (the
        book's file under a new name) are kept, and a stale mark is cleared. Raises CheckpointError when the
        ledger cannot be written."""
        new = converted or row
        self._tx([("UPDATE rows SET sha256 = ?, stat = ?, checked_ns = ?, digest = ?, source = ?, lsi_errors = ?, "
                   "stale = CASE WHEN ? THEN NULL ELSE stale END WHERE checkpoint_id = ? AND offset = ?",
                   (sha256, stat, checked_ns, new.digest, new.source, new.lsi_errors, converted is not None,
                    row.checkpoint_id, row.offset)),
                  ("DELETE FROM rejections WHERE source = ?", (new.source,))])

    # ---------------------------------------------------------------- re-conversion

    def rows_to_convert(self, checkpoint_id: int, digest: str) -> list[RowRecord]:
        """A checkpoint's rows made under other settings than digest, or marked stale, in file order."""
        return [RowRecord(*r) for r in self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM rows WHERE checkpoint_id = ? AND (digest IS NOT ? OR stale IS NOT NULL) "
            "ORDER BY offset", (checkpoint_id, digest))]

    def count_other_digest(self, checkpoint_id: int, digest: str) -> int:
        """How many of the checkpoint's rows were made under other settings than digest (or before digests)."""
        count: int = self.db.execute("SELECT COUNT(*) FROM rows WHERE checkpoint_id = ? AND digest IS NOT ?",
                                     (checkpoint_id, digest)).fetchone()[0]
        return count

    def mark_stale(self, checkpoint_id: int, marks: Sequence[tuple[str, str | None]]) -> None:
        """Set (or with None clear) why each source's row could not be converted under the settings in force.
        Raises CheckpointError when the ledger cannot be written."""
        self._tx([("UPDATE rows SET stale = ? WHERE checkpoint_id = ? AND source = ?", (reason, checkpoint_id, source))
                  for source, reason in marks])

    def digests(self, checkpoint_id: int) -> dict[str, int]:
        """How many of a checkpoint's rows were made under each settings digest ('' for none recorded)."""
        return dict(self.db.execute("SELECT COALESCE(digest, ''), COUNT(*) FROM rows WHERE checkpoint_id = ? "
                                    "GROUP BY digest ORDER BY COUNT(*) DESC", (checkpoint_id,)).fetchall())

    def stale_rows(self, checkpoint_id: int) -> list[RowRecord]:
        """The checkpoint's rows marked stale (see mark_stale), in file order."""
        return [RowRecord(*r) for r in self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM rows WHERE checkpoint_id = ? AND stale IS NOT NULL ORDER BY offset",
            (checkpoint_id,))]

    def renamed_from(self, checkpoint_id: int, sha256: str, title: str) -> list[RowRecord]:
        """Rows without an ISBN that may be this file's under an earlier name: same content, or same title."""
        found = [RowRecord(*r) for r in self.db.execute(  # no ORDER BY: the planner would take the key over the index
            f"SELECT {_ROW_COLUMNS} FROM rows WHERE checkpoint_id = ? AND isbn = '' AND (sha256 = ? OR title = ?)",
            (checkpoint_id, sha256, title))]
        return sorted(found, key=lambda r: r.offset)

    # ---------------------------------------------------------------- rejections

    def rejection(self, source: str) -> Rejection | None:
        """Why the source file's last version was refused; None when it was not (or is in a checkpoint since)."""
        found = self.db.execute(f"SELECT {_REJECTION_COLUMNS} FROM rejections WHERE source = ?", (source,)).fetchone()
        return Rejection(*found) if found else None

    def record_rejection(self, rejection: Rejection) -> None:
        """Record (or replace) why a source file was refused; a later row of it deletes this record."""
        self._tx([(f"INSERT OR REPLACE INTO rejections ({_REJECTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                   dataclasses.astuple(rejection))])

    def rejections(self) -> list[Rejection]:
        """Every source file refused and not in a checkpoint since, by path."""
        return [Rejection(*r) for r in self.db.execute(f"SELECT {_REJECTION_COLUMNS} FROM rejections ORDER BY source")]


def _row_values(r: RowRecord) -> tuple[object, ...]:
    return tuple(getattr(r, name) for name in _ROW_FIELDS)  # astuple() would deep-copy every value
