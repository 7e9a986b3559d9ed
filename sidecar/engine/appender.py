"""The append / replace / repair protocol of one checkpoint, with the ledger as its commit point.

Rows staged together share one write(2) and one fdatasync (group commit); the ledger records them only
after that, so a crash anywhere leaves at most an unrecorded tail, which opening the checkpoint cuts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

from loguru import logger

from ..errors import CheckpointError
from ..faults import fault_point
from ..rows.columns import Dialect, Problem, encode_header
from ..rows.lsi_rules import encode_problems
from ..store.checkpoint import EDITED_ADVICE, CheckpointFile, create_with_header, first_changed_row, put_in_place
from ..store.names import new_checkpoint_name, rewrite_name
from ..store.ledger import CheckpointRecord, Ledger, RowRecord


@dataclass(frozen=True)
class StagedRow:
    """A converted row waiting for its group's write and fsync; where it lands is known only then."""

    data: bytes
    entry: RowRecord  # its checkpoint, offset and append time are filled in by commit() or replace()

    @classmethod
    def of(cls, data: bytes, source: str, sha256: str, stat: str, checked_ns: int, isbn: str,
           title: str, problems: Sequence[Problem] = (), digest: str | None = None) -> StagedRow:
        """data (the encoded record) from one version of a source file (its sha256 and stat_key, read at
        checked_ns, ns since the epoch), with the book's identity, title, problems and settings digest."""
        return cls(data, RowRecord(0, 0, len(data), source, sha256, stat, checked_ns, isbn, title, 0,
                                   hashlib.sha256(data).hexdigest(), encode_problems(problems), digest))

    def placed(self, checkpoint_id: int, offset: int) -> RowRecord:
        """Its ledger record once written at offset (bytes) of the checkpoint, appended now."""
        return dataclasses.replace(self.entry, checkpoint_id=checkpoint_id, offset=offset, appended_ns=time.time_ns())


class CheckpointAppender:
    """One imprint's current checkpoint: reconciled with the ledger at open, then appended to."""

    def __init__(self, ledger: Ledger, folder: Path, imprint: str, dialect: Dialect,
                 batch_id: str | None = None) -> None:
        """The imprint's current checkpoint, repaired; a new one when it has none (or batch_id asks). Raises
        CheckpointError when the file was changed outside the sidecar or has another header than the dialect
        writes, DiskFull or CheckpointError when a repair or a new checkpoint cannot be written."""
        self.ledger, self.imprint, self.dialect = ledger, imprint, dialect
        self.folder = folder
        record = None if batch_id is not None else ledger.current_checkpoint(imprint)
        self.record = self._recover(record) if record else self._create(batch_id)
        self.file = CheckpointFile(self.record.path)
        self.staged: list[StagedRow] = []
        self.replacing: dict[int, tuple[RowRecord, StagedRow]] = {}  # by the old row's offset: one rewrite for all
        self.replacing_bytes = 0
        self.staged_sources: dict[str, str] = {}  # source -> ISBN, of the rows waiting (appended or replacing)
        self.staged_isbns: dict[str, str] = {}  # ISBN -> source, of the rows waiting

    def _create(self, batch_id: str | None = None) -> CheckpointRecord:
        header = encode_header(self.dialect)
        # Never a name that sorts before one the imprint had, whatever the clock or time zone did.
        known = [r.path for r in self.ledger.checkpoints() if r.imprint == self.imprint]
        path = new_checkpoint_name(self.folder, self.imprint, datetime.now(), known)
        # Ledger first: a crash before the file exists is repaired by _recover creating it.
        record = self.ledger.add_checkpoint(self.imprint, path, len(header), batch_id or None)
        create_with_header(path, header)
        logger.info(f"new checkpoint {path}" + (f" for batch {batch_id}" if batch_id else ""))
        return record

    def _recover(self, record: CheckpointRecord) -> CheckpointRecord:
        path, tmp = record.path, rewrite_name(record.path)
        if record.pending_rewrite:
            if tmp.exists():  # the ledger already describes the rewritten copy: finish the swap
                put_in_place(tmp, path)
            self.ledger.set_pending_rewrite(record.id, None)
        elif tmp.exists():
            tmp.unlink()  # a rewrite that was never committed
        if not path.exists():
            if self.ledger.row_count(record.id):
                logger.warning(f"checkpoint {path} was removed; its books will be written to a new checkpoint")
                self.ledger.drop_checkpoint(record.id)
                return self._create()
            create_with_header(path, encode_header(self.dialect))
        header = encode_header(self.dialect)
        with open(path, "rb") as f:
            if f.read(len(header)) != header:
                raise CheckpointError(f"{path} does not start with the header this configuration writes "
                                      "(checkpoint.bom / checkpoint.line_terminator changed?); move it aside "
                                      "to start a new checkpoint")
        size, end = path.stat().st_size, self.ledger.recorded_end(record)
        if size < end:
            raise CheckpointError(f"{path} is {size} bytes but its ledger records {end}: it was changed "
                                  f"outside the sidecar; {EDITED_ADVICE}")
        changed = first_changed_row(path, self.ledger.rows(record.id), record.header_len)
        if changed:
            raise CheckpointError(f"{path} was changed outside the sidecar: {changed}; {EDITED_ADVICE}")
        if size > end:
            file = CheckpointFile(path)
            file.truncate(end)
            file.close()
            logger.warning(f"cut {size - end} bytes after the last recorded row of {path} "
                           "(an append interrupted by a crash; its book is written again)")
        return record

    def stage(self, row: StagedRow) -> None:
        """Queue a row to be appended by the next commit()."""
        self.staged.append(row)
        self._waiting(row)

    def stage_replacement(self, old: RowRecord, new: StagedRow) -> None:
        """Queue a recorded row's replacement for the next commit(), which rewrites the file once for all."""
        self.replacing[old.offset] = (old, new)
        self.replacing_bytes += len(new.data)
        if old.source != new.entry.source:  # the row's file gives it away (renamed): it holds no ISBN meanwhile
            self.staged_sources.setdefault(old.source, "")
        self._waiting(new)

    def unstage_replacement(self, old: RowRecord) -> None:
        """Take back a queued replacement of a recorded row (its file stays as its row says)."""
        _, new = self.replacing.pop(old.offset)
        self.replacing_bytes -= len(new.data)
        self.staged_sources.pop(new.entry.source, None)
        if self.staged_sources.get(old.source) == "":
            del self.staged_sources[old.source]
        if self.staged_isbns.get(new.entry.isbn) == new.entry.source:
            del self.staged_isbns[new.entry.isbn]

    def _waiting(self, row: StagedRow) -> None:
        self.staged_sources[row.entry.source] = row.entry.isbn
        if row.entry.isbn:
            self.staged_isbns[row.entry.isbn] = row.entry.source

    def commit(self) -> tuple[list[RowRecord], list[RowRecord]]:
        """Append every staged row in one write(2) and fdatasync, record them in one transaction, then put
        in every replacement with one rewrite of the file. Returns the rows appended and those replaced.
        Raises DiskFull (the disk is full; nothing partial kept) or CheckpointError when the checkpoint or the
        ledger cannot be written: the rows taken are dropped, never retried."""
        # Taken off the queue first: after a failed write or fsync these rows must never be retried.
        staged, self.staged = self.staged, []
        replacing, self.replacing, self.replacing_bytes = self.replacing, {}, 0
        self.staged_sources.clear()
        self.staged_isbns.clear()
        appended = self._append(staged) if staged else []
        return appended, self._replace(sorted(replacing.values(), key=lambda pair: pair[0].offset))

    def _append(self, staged: list[StagedRow]) -> list[RowRecord]:
        offset = self.file.append(b"".join(r.data for r in staged))
        self.file.sync()
        records = []
        for r in staged:
            records.append(r.placed(self.record.id, offset))
            offset += len(r.data)
        self.ledger.record_rows(records)
        fault_point("after-ledger")
        return records

    def _replace(self, pairs: list[tuple[RowRecord, StagedRow]]) -> list[RowRecord]:
        if not pairs:
            return []
        if len(pairs) == 1 and pairs[0][0].end == self.file.size:
            return [self._replace_newest(*pairs[0])]
        records, shift = [], 0
        for old, new in pairs:
            records.append(new.placed(self.record.id, old.offset + shift))
            shift += len(new.data) - old.length
        # One copy with every replacement, fsynced; the ledger commits it as pending; then one rename.
        tmp = self.file.rewrite_tmp([(old.offset, old.length, new.data) for old, new in pairs])
        fault_point("rewrite-copied")
        self.ledger.replace_rows([(old, record) for (old, _), record in zip(pairs, records)], pending=str(tmp))
        fault_point("mid-rewrite")
        self.file.swap_in(tmp)
        self.ledger.set_pending_rewrite(self.record.id, None)
        return records

    def _replace_newest(self, old: RowRecord, new: StagedRow) -> RowRecord:
        """The newest row alone (the usual case: the pipeline rewrites a book it has just written): cut and
        append. Forgetting it first means a crash in between leaves the source simply unrepresented."""
        record = new.placed(self.record.id, old.offset)
        self.ledger.forget_row(old)
        fault_point("mid-replace")
        self.file.truncate(old.offset)
        self.file.append(new.data)
        self.file.sync()
        self.ledger.record_rows([record])
        return record

    def close(self) -> None:
        """Close the checkpoint file; staged rows not committed are dropped (the caller flushes first)."""
        self.file.close()
