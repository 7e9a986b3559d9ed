"""One path in, at most one durable row out: read once, convert, append or replace, record.

Both `sidecar --once` and the service go through Ingestor.ingest(); the service only decides when.
Rows that are ready together share one write and one fdatasync (group commit); the ledger records
them only after that, so a crash anywhere leaves at most an unrecorded tail that the next start cuts.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

from loguru import logger

from .books import mtime_ns, parse_book, read_source, scan, stat_source
from .checkpoint import CheckpointFile, DirLock, create_with_header, fsync_dir, new_checkpoint_name, rewrite_tmp_path
from .columns import Dialect, encode_header, encode_record
from .config import Folder, Settings
from .convert import Conversion, Problem, Profile, convert_book
from .errors import BookError, CheckpointError
from .faults import fault_point
from .ledger import CheckpointRecord, Ledger, Rejection, RowRecord
from .manifest import write_manifest, write_missing_manifests
from .validate import validate_row

# A file whose mtime is this close to when we last read it may have changed within the timestamp's
# granularity, so its unchanged stat proves nothing (git's "racy" rule): read it again.
RACY_NS = 2_000_000_000
OUTCOMES = ("appended", "replaced", "unchanged", "rejected", "vanished", "pending")


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    checkpoints: list[Path] = field(default_factory=list)
    pending: list[tuple[Path, Folder]] = field(default_factory=list)  # tentative: not a book yet

    def line(self) -> str:
        parts = ", ".join(f"{self.counts[o]} {o}" for o in OUTCOMES[:4])
        where = ", ".join(str(p) for p in self.checkpoints) or "none yet"
        return f"{parts}; checkpoint: {where}"


@dataclass(frozen=True)
class _Ready:
    """A converted row waiting for its group's write and fsync."""

    source: str
    sha256: str
    stat: str
    checked_ns: int
    isbn: str
    title: str
    data: bytes
    problems: tuple[Problem, ...]


class _Writer:
    """One imprint's current checkpoint: reconciled with the ledger at open, then appended to."""

    def __init__(self, ledger: Ledger, folder: Path, imprint: str, dialect: Dialect,
                 batch_id: str | None = None) -> None:
        """The imprint's current checkpoint, repaired; a new one when it has none (or batch_id asks)."""
        self.ledger, self.imprint, self.dialect = ledger, imprint, dialect
        self.folder = folder
        record = None if batch_id is not None else ledger.current_checkpoint(imprint)
        self.record = self._recover(record) if record else self._create(batch_id)
        self.file = CheckpointFile(self.record.path)
        self.ready: list[_Ready] = []
        self.ready_sources: set[str] = set()
        self.ready_isbns: dict[str, str] = {}  # ISBN -> source, of the rows waiting

    def _create(self, batch_id: str | None = None) -> CheckpointRecord:
        header = encode_header(self.dialect)
        # A clock set back must not give a name that sorts before the previous checkpoint's.
        latest = self.ledger.latest_created_ns(self.imprint)
        now = max(datetime.now(), datetime.fromtimestamp(latest / 1e9)) if latest else datetime.now()
        path = new_checkpoint_name(self.folder, self.imprint, now, self.ledger.knows_path)
        # Ledger first: a crash before the file exists is repaired by _recover creating it.
        record = self.ledger.add_checkpoint(self.imprint, path, len(header), batch_id or None)
        create_with_header(path, header)
        logger.info(f"new checkpoint {path}" + (f" for batch {batch_id}" if batch_id else ""))
        return record

    def _recover(self, record: CheckpointRecord) -> CheckpointRecord:
        path, tmp = record.path, rewrite_tmp_path(record.path)
        if record.pending_rewrite:
            if tmp.exists():  # the ledger already describes the rewritten copy: finish the swap
                os.replace(tmp, path)
                fsync_dir(path.parent)
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
                                  "outside the sidecar; move it aside to start a new checkpoint")
        if size > end:
            file = CheckpointFile(path)
            file.truncate(end)
            file.close()
            logger.warning(f"cut {size - end} bytes after the last recorded row of {path} "
                           "(an append interrupted by a crash; its book is written again)")
        return record

    def commit(self) -> list[RowRecord]:
        """Write every ready row in one write(2), fdatasync once, then record them in one transaction."""
        # Taken off the queue first: after a failed write or fsync these rows must never be retried.
        ready, self.ready = self.ready, []
        self.ready_sources.clear()
        self.ready_isbns.clear()
        if not ready:
            return []
        offset = self.file.append(b"".join(r.data for r in ready))
        self.file.sync()
        records = []
        for r in ready:
            records.append(RowRecord(self.record.id, offset, len(r.data), r.source, r.sha256, r.stat,
                                     r.checked_ns, r.isbn, r.title, time.time_ns()))
            offset += len(r.data)
        self.ledger.record_rows(records, {r.source: r.problems for r in ready})
        fault_point("after-ledger")
        return records

    def replace(self, old: RowRecord, new: _Ready) -> None:
        record = RowRecord(self.record.id, old.offset, len(new.data), new.source, new.sha256, new.stat,
                           new.checked_ns, new.isbn, new.title, time.time_ns())
        if old.end == self.file.size:
            # The newest row (the usual case: the pipeline rewrites a book it has just written): cut and
            # append. Forgetting it first means a crash in between leaves the source simply unrepresented.
            self.ledger.forget_row(old)
            fault_point("mid-replace")
            self.file.truncate(old.offset)
            self.file.append(new.data)
            self.file.sync()
            self.ledger.record_rows([record], {new.source: new.problems})
        else:
            tmp = self.file.rewrite_tmp(old.offset, old.length, new.data)
            self.ledger.replace_row(old, record, new.problems, pending=str(tmp))
            fault_point("mid-rewrite")
            self.file.swap_in(tmp)
            self.ledger.set_pending_rewrite(self.record.id, None)

    def close(self) -> None:
        self.file.close()


class Ingestor:
    """Holds the locks, the ledger and one writer per imprint for the life of a run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        for folder in {settings.checkpoint_dir, settings.state_dir}:
            folder.mkdir(parents=True, exist_ok=True)
        self.locks = [DirLock(settings.checkpoint_dir)]
        try:
            if settings.state_dir != settings.checkpoint_dir:
                self.locks.append(DirLock(settings.state_dir))
            self.ledger = Ledger(settings.state_dir / "ledger.sqlite3")
            # Open (and repair) each imprint's current checkpoint; an imprint without one gets its
            # checkpoint with its first book.
            self.writers: dict[str, _Writer] = {}
            for imprint in {f.imprint for f in settings.folders}:
                if self.ledger.current_checkpoint(imprint) is not None:
                    self.writers[imprint] = self._open_writer(imprint)
            write_missing_manifests(self.ledger, settings)
            for path in settings.disabled_folders:
                logger.info(f"checkpointing is off for {path} (checkpoint: false in the config)")
        except BaseException:
            self._release()
            raise
        self.profiles = {f.imprint: settings.profile_for(f) for f in settings.folders}
        self.totals: Counter[str] = Counter()  # since start: rows appended and replaced, files rejected
        self.last_append_ns = 0

    def close(self) -> None:
        try:
            self.flush()
        finally:
            for writer in self.writers.values():
                writer.close()
            self.ledger.close()
            self._release()

    def _release(self) -> None:
        for lock in self.locks:
            lock.release()

    def __enter__(self) -> Ingestor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def checkpoints(self) -> list[Path]:
        return [w.record.path for w in self.writers.values()]

    def _open_writer(self, imprint: str, batch_id: str | None = None) -> _Writer:
        return _Writer(self.ledger, self.settings.checkpoint_dir, imprint, self.settings.dialect, batch_id)

    def _writer(self, imprint: str) -> _Writer:
        """The checkpoint the next row of this imprint goes to, started (or rotated daily) when due."""
        writer = self.writers.get(imprint)
        if writer is not None and self.settings.rotate == "daily":
            if datetime.fromtimestamp(writer.record.created_ns / 1e9).date() < datetime.now().date():
                self.rotate(imprint)
                return self.writers[imprint]
        if writer is None:
            writer = self.writers[imprint] = self._open_writer(imprint)
        return writer

    def rotate(self, imprint: str, batch_id: str | None = None) -> Path:
        """Start a new checkpoint for the imprint now; the previous one stays as it is (closed)."""
        self.flush()
        previous = self.writers.pop(imprint, None)
        if previous is not None:
            previous.close()
        writer = self.writers[imprint] = self._open_writer(imprint, batch_id or "")
        logger.info(f"rotated {imprint}: {writer.record.path.name}" +
                    (f" follows {previous.record.path.name}" if previous else ""))
        return writer.record.path

    def finalize(self, imprint: str) -> Path | None:
        """Mark the imprint's checkpoint complete, with a manifest beside it; the next book starts a new one."""
        self.flush()
        writer = self.writers.pop(imprint, None)
        if writer is None:
            logger.info(f"{imprint} has no open checkpoint to finalize")
            return None
        writer.close()
        self.ledger.close_checkpoint(writer.record.id, finalized=True)  # first: the manifest is derived
        manifest = write_manifest(self.ledger, self.settings, writer.record)
        logger.info(f"finalized {writer.record.path.name} ({manifest.name})")
        return writer.record.path

    def check_marker(self, path: Path, folder: Folder) -> None:
        """A batch marker the pipeline dropped: act on each new version of it once."""
        try:
            stat = stat_source(path)
            if self.ledger.marker_seen(str(path), stat):
                return
            batch_id = path.read_text(encoding="utf-8", errors="replace").strip()[:200]
        except FileNotFoundError:
            return
        if path.name == self.settings.start_marker:
            self.rotate(folder.imprint, batch_id)
        elif path.name == self.settings.done_marker:
            self.finalize(folder.imprint)
        self.ledger.record_marker(str(path), stat)

    def take_requests(self) -> None:
        """Rotations and finalizations asked for by `sidecar rotate|finalize` while this process held the lock."""
        for request in sorted(self.settings.requests_dir.glob("*.json")):
            try:
                wanted = json.loads(request.read_text())
                for imprint in wanted["imprints"]:
                    if wanted["action"] == "finalize":
                        self.finalize(imprint)
                    else:
                        self.rotate(imprint, wanted.get("batch_id"))
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning(f"ignored a malformed request {request}: {exc!r}")
            request.unlink(missing_ok=True)

    def catch_up(self, progress: Callable[[int, int], None] | None = None,
                 stop: threading.Event | None = None, tentative: bool = False) -> Summary:
        """Ingest every eligible file present now; the same pass the service makes at start and on rescans."""
        self.take_requests()
        for folder in self.settings.folders:
            for marker in (self.settings.start_marker, self.settings.done_marker):
                self.check_marker(folder.path / marker, folder)
        summary = Summary()
        paths = [(folder, path) for folder in self.settings.folders
                 for path in scan(folder.path, self.settings.ignore)]
        for n, (folder, path) in enumerate(paths, start=1):
            if stop is not None and stop.is_set():
                break
            outcome = self.ingest(path, folder, tentative)
            summary.counts[outcome] += 1
            if outcome == "pending":
                summary.pending.append((path, folder))
            if progress:
                progress(n, len(paths))
        self.flush()
        summary.checkpoints = self.checkpoints
        return summary

    def flush(self) -> None:
        """Make every ready row durable and recorded."""
        for writer in self.writers.values():
            for record in writer.commit():
                self.totals["appended"] += 1
                self.last_append_ns = record.appended_ns
                logger.info(f"appended ISBN {record.isbn or '-'} '{record.title}' from "
                            f"{Path(record.source).name} to {writer.record.path.name}")

    def ingest(self, path: Path, folder: Folder, tentative: bool = False) -> str:
        """Bring one source file's current content into the checkpoint; returns the outcome.

        tentative: the file may still be being written, so a recently modified file that cannot be read
        as a book yet is "pending" rather than rejected (the service looks again once it is closed or
        stops changing).
        """
        source = str(path)
        current = self.writers.get(folder.imprint)
        if current is not None and source in current.ready_sources:
            self.flush()
        try:
            stat = stat_source(path)
        except FileNotFoundError:
            return "vanished"
        row = self.ledger.latest_row(source)
        if row and _settled(row.stat, row.checked_ns, stat):
            return "unchanged"
        rejection = self.ledger.rejection(source)
        if rejection and _settled(rejection.stat, rejection.checked_ns, stat):
            return "rejected"

        checked_ns = time.time_ns()
        tentative = tentative and mtime_ns(stat) > checked_ns - RACY_NS
        try:
            src = read_source(path, self.settings.max_bytes)
        except FileNotFoundError:
            return "vanished"
        except BookError as exc:
            if tentative:
                return "pending"
            return self._reject(source, "", stat, checked_ns, str(exc), rejection)
        if row and row.sha256 == src.sha256:
            if row.stat != src.stat:
                self.ledger.touch_row(row, row.sha256, src.stat, checked_ns)
            return "unchanged"
        if rejection and rejection.sha256 == src.sha256:
            return "rejected"

        try:
            conversion, problems = build_row(src.data, self.profiles[folder.imprint], self.settings.strict)
        except BookError as exc:
            if tentative:
                return "pending"
            return self._reject(source, src.sha256, src.stat, checked_ns, str(exc), rejection)
        writer = self._writer(folder.imprint)
        holder = self._isbn_holder(writer, conversion.isbn, source)
        if holder:
            reason = (f"ISBN {conversion.isbn} is already in the checkpoint from {holder}; "
                      "two files describe the same book: remove or correct one of them")
            return self._reject(source, src.sha256, src.stat, checked_ns, reason, rejection)
        if problems:
            _log_problems(path, problems)

        ready = _Ready(source, src.sha256, src.stat, checked_ns, conversion.isbn, conversion.title,
                       encode_record(conversion.row, self.settings.dialect), tuple(problems))
        if row is None or row.checkpoint_id != writer.record.id or self.settings.on_rewrite == "append":
            writer.ready.append(ready)
            writer.ready_sources.add(source)
            if ready.isbn:
                writer.ready_isbns[ready.isbn] = source
            if len(writer.ready) >= self.settings.rows_per_sync:
                self.flush()
            return "appended"
        if self.settings.on_rewrite == "ignore":
            self.ledger.touch_row(row, row.sha256, src.stat, checked_ns)  # keeps the old content's hash
            return "unchanged"
        self.flush()
        if writer.file.read_at(row.offset, row.length) == ready.data:
            self.ledger.touch_row(row, src.sha256, src.stat, checked_ns)
            return "unchanged"
        writer.replace(row, ready)
        self.totals["replaced"] += 1
        self.last_append_ns = time.time_ns()
        logger.info(f"replaced ISBN {ready.isbn or '-'} '{ready.title}' from {path.name} in {writer.record.path.name}")
        return "replaced"

    def _isbn_holder(self, writer: _Writer, isbn: str, source: str) -> str | None:
        if not isbn:
            return None
        queued = writer.ready_isbns.get(isbn)
        if queued is not None and queued != source:
            return queued
        return self.ledger.isbn_holder(writer.record.id, isbn, source)

    def _reject(self, source: str, sha256: str, stat: str, checked_ns: int, reason: str,
                previous: Rejection | None) -> str:
        self.ledger.record_rejection(Rejection(source, sha256, stat, checked_ns, reason))
        if previous is None or previous.reason != reason or previous.sha256 != sha256:
            self.totals["rejected"] += 1
            logger.warning(f"rejected {source}: {reason}")
        return "rejected"


def build_row(data: bytes, profile: Profile, strict: bool) -> tuple[Conversion, tuple[Problem, ...]]:
    """A source file's bytes to its row and every problem found; BookError when it cannot be a row."""
    conversion = convert_book(parse_book(data), profile)
    problems = (*conversion.problems, *validate_row(conversion.row, profile.codes))
    errors = [p for p in problems if p.severity == "error"]
    if strict and errors:
        raise BookError("strict mode: " + "; ".join(f"{p.column}: {p.message}" for p in errors))
    return conversion, problems


def _settled(recorded: str, checked_ns: int, current: str) -> bool:
    """The file is provably the version recorded, without reading it."""
    return recorded == current and mtime_ns(current) < checked_ns - RACY_NS


def _log_problems(path: Path, problems: Sequence[Problem]) -> None:
    text = "; ".join(f"{p.column}: {p.message}" for p in problems)
    if any(p.severity == "error" for p in problems):
        logger.warning(f"{path}: {len(problems)} problem(s): {text}")
    else:
        logger.info(f"{path}: {text}")
