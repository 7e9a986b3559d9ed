"""One path in, at most one durable row out: read once, convert, stage or replace, record.

Both `sidecar --once` and the service go through Ingestor.ingest(); the service only decides when.
The Ingestor holds the folder locks, the ledger and one CheckpointAppender per imprint for a run, and
starts (rotates) and finalizes checkpoints.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

from loguru import logger

from ..errors import BookError, CheckpointError, FolderError
from ..inputs import BAD_NAME, is_utf8_name, shown
from ..rows.book import BookRow, book_to_row
from ..rows.columns import Problem, Severity
from ..settings import Folder, Key, Settings, ensure_writable_folder
from ..store.checkpoint import remove_stale_temp_files
from ..store.ledger import Ledger, Rejection, RowRecord, refuse_lost_ledger
from ..store.lock import DirLock
from ..store.manifest import settings_digest, write_manifest, write_missing_manifests
from ..store.sources import Source, mtime_ns, read_source, scan, stat_source
from .ahead import ReadAhead, Ready, workers_for
from .appender import CheckpointAppender, StagedRow
from .batches import check_markers, take_requests
from .outcome import Outcome, Summary
from .reconvert import announce_pass, finish_pass, folder_of, renamed_row, still_claims

# A file whose mtime is this close to when we last read it may have changed within the timestamp's
# granularity, so its unchanged stat proves nothing (git's "racy" rule): read it again.
RACY_NS = 2_000_000_000
REWRITE_BATCH_BYTES = 64 << 20  # replacements wait for one rewrite of the checkpoint, up to this many bytes


class Ingestor:
    """Holds the locks, the ledger and one appender per imprint for the life of a run."""

    def __init__(self, settings: Settings) -> None:
        """Take the folders' locks, open the ledger, repair each imprint's open checkpoint. Raises ConfigError when
        checkpoint_dir or state_dir cannot be made or written to, LockHeld when another sidecar holds one, DiskFull
        or CheckpointError when the ledger or a checkpoint cannot be used as it is, OSError from the file system."""
        self.settings = settings
        ensure_writable_folder(settings.checkpoint_dir, Key.CHECKPOINT_DIR)
        ensure_writable_folder(settings.state_dir, Key.STATE_DIR)
        self.locks = [DirLock(settings.checkpoint_dir)]
        try:
            if settings.state_dir != settings.checkpoint_dir:
                self.locks.append(DirLock(settings.state_dir))
            refuse_lost_ledger(settings.state_dir, settings.checkpoint_dir, {f.imprint for f in settings.folders})
            remove_stale_temp_files(settings.checkpoint_dir, {f.imprint for f in settings.folders})  # we hold the lock
            self.ledger = Ledger(settings.state_dir)
            # Open (and repair) each imprint's current checkpoint; an imprint without one gets its
            # checkpoint with its first book.
            self.appenders: dict[str, CheckpointAppender] = {}
            for imprint in {f.imprint for f in settings.folders}:
                if self.ledger.current_checkpoint(imprint) is not None:
                    self.appenders[imprint] = self._open_appender(imprint)
            write_missing_manifests(self.ledger, settings)
            for path in settings.disabled_folders:
                logger.info(f"checkpointing is off for {path} (checkpoint: false in the config)")
        except BaseException:
            self._release()
            raise
        self.profiles = {f.imprint: settings.profile_for(f) for f in settings.folders}
        for imprint, profile in self.profiles.items():
            if profile.levels:
                logger.info(f"configuration for {imprint}: {'; '.join(profile.levels)}")
        for problem in dict.fromkeys(p for profile in self.profiles.values() for p in profile.config_problems):
            logger.warning(f"config: {problem}")
        self.digests = {imprint: settings_digest(settings, imprint) for imprint in self.profiles}
        announce_pass(self)
        self.totals: Counter[str] = Counter()  # since start: rows appended and replaced, files rejected
        self.last_append_ns = 0
        self.bad_names: set[str] = set()  # names that are not UTF-8, each reported once per run
        self.folder_faults: dict[Path, str] = {}  # watched folders the last pass could not list, and why

    def close(self) -> None:
        """Flush, then close the checkpoints and the ledger and release the locks even when flush() raises."""
        try:
            self.flush()
        finally:
            for appender in self.appenders.values():
                appender.close()
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
        """The current checkpoint of each imprint that has one open in this run."""
        return [a.record.path for a in self.appenders.values()]

    # ------------------------------------------------------------------ checkpoints

    def _open_appender(self, imprint: str, batch_id: str | None = None) -> CheckpointAppender:
        return CheckpointAppender(self.ledger, self.settings.checkpoint_dir, imprint, self.settings.dialect, batch_id)

    def _appender(self, imprint: str) -> CheckpointAppender:
        """The checkpoint the next row of this imprint goes to, started (or rotated daily) when due."""
        appender = self.appenders.get(imprint)
        if appender is not None and self.settings.rotate == "daily":
            if datetime.fromtimestamp(appender.record.created_ns / 1e9).date() < datetime.now().date():
                self.rotate(imprint)
                return self.appenders[imprint]
        if appender is None:
            appender = self.appenders[imprint] = self._open_appender(imprint)
        return appender

    def rotate(self, imprint: str, batch_id: str | None = None) -> Path:
        """Start a new checkpoint for the imprint now; the previous one stays as it is (closed). Raises
        CheckpointError (DiskFull) when what is staged or the new checkpoint cannot be written."""
        self.flush()
        previous = self.appenders.pop(imprint, None)
        if previous is not None:
            previous.close()
        appender = self.appenders[imprint] = self._open_appender(imprint, batch_id or "")
        logger.info(f"rotated {imprint}: {appender.record.path.name}" +
                    (f" follows {previous.record.path.name}" if previous else ""))
        return appender.record.path

    def finalize(self, imprint: str) -> Path | None:
        """Mark the imprint's checkpoint complete, with a manifest beside it; the next book starts a new one.
        Raises CheckpointError (DiskFull) as flush() does, OSError when the manifest cannot be written."""
        self.flush()
        appender = self.appenders.pop(imprint, None)
        if appender is None:
            logger.info(f"{imprint} has no open checkpoint to finalize")
            return None
        appender.close()
        self.ledger.close_checkpoint(appender.record.id, finalized=True)  # first: the manifest is derived
        manifest = write_manifest(self.ledger, self.settings, appender.record)
        logger.info(f"finalized {appender.record.path.name} ({manifest.name})")
        return appender.record.path

    # ------------------------------------------------------------------ books

    def catch_up(self, progress: Callable[[int, int], None] | None = None,
                 stop: threading.Event | None = None, may_be_unfinished: bool = False) -> Summary:
        """Ingest every eligible file present now; the same pass the service makes at start and on rescans.

        Raises FolderError for a watched folder that cannot be listed, after the other folders' books, unless
        may_be_unfinished (the service): then the folder is in folder_faults until a later pass can list it.
        Raises CheckpointError (DiskFull) when a row or the ledger cannot be written, as flush() does.
        """
        take_requests(self)
        check_markers(self)
        summary = Summary()
        paths: list[tuple[Folder, Path]] = []
        faults: dict[Path, str] = {}
        for folder in self.settings.folders:
            try:
                paths += [(folder, path) for path in scan(folder.path, self.settings.ignore)]
            except FolderError as exc:
                faults[folder.path] = str(exc)
        self.folder_faults = faults
        with ReadAhead(self, paths, workers_for(len(paths))) as ahead:
            for n, (folder, path) in enumerate(paths, start=1):
                if stop is not None and stop.is_set():
                    break
                if folder.path in faults:
                    continue
                try:
                    outcome = self.ingest(path, folder, may_be_unfinished, ready=ahead.take(n - 1))
                except FolderError as exc:  # listed, but its files cannot be reached: searching it is not allowed
                    faults[folder.path] = str(exc)
                    continue
                summary.counts[outcome] += 1
                if outcome == Outcome.UNFINISHED:
                    summary.unfinished.append((path, folder))
                if progress:
                    progress(n, len(paths))
        self.flush()
        if faults and not may_be_unfinished:
            raise FolderError("; ".join(faults.values()))
        if (stop is None or not stop.is_set()) and not faults:
            summary.stale = finish_pass(self)
        summary.checkpoints = self.checkpoints
        return summary

    def count_readiness(self, summary: Summary) -> Summary:
        """Add the current checkpoints' LSI-readiness to a summary: one pass over their ledger rows, so only
        for the summaries a person reads (end of --once, the service's start), not every rescan."""
        for appender in self.appenders.values():
            rows, not_ready, reasons = self.ledger.readiness(appender.record.id)
            summary.rows, summary.not_ready = summary.rows + rows, summary.not_ready + not_ready
            summary.reasons.update(reasons)
        return summary

    def flush(self) -> None:
        """Make every staged row and replacement durable and recorded. Raises CheckpointError (DiskFull: the
        disk is full, nothing partial kept) as CheckpointAppender.commit() does; the rows staged are dropped."""
        for appender in self.appenders.values():
            appended, replaced = appender.commit()
            for outcome, records, word in ((Outcome.APPENDED, appended, "to"), (Outcome.REPLACED, replaced, "in")):
                for record in records:
                    self.totals[outcome] += 1
                    self.last_append_ns = record.appended_ns
                    logger.bind(isbn=record.isbn, source=shown(record.source),
                                checkpoint=str(appender.record.path)).info(
                        f"{outcome} ISBN {record.isbn or '-'} '{record.title}' from "
                        f"{shown(Path(record.source).name)} {word} {appender.record.path.name}")

    def outdated(self, row: RowRecord, imprint: str) -> bool:
        """The row is in the imprint's current checkpoint and was made under other settings than those in
        force: it is converted again (with on_rewrite: replace; the other policies keep rows as written)."""
        appender = self.appenders.get(imprint)
        return (self.settings.on_rewrite == "replace" and appender is not None
                and row.checkpoint_id == appender.record.id and row.digest != self.digests[imprint])

    def ingest(self, path: Path, folder: Folder, may_be_unfinished: bool = False, recheck: bool = False,
               ready: Ready | None = None) -> Outcome:
        """Bring one source file's current content into the checkpoint; returns the outcome.

        may_be_unfinished: the file may still be being written, so a recently modified file that cannot
        be read as a book yet is "unfinished" rather than rejected (the service looks again once it is
        closed or stops changing). recheck: convert it even when its row or rejection looks current (another
        file it was measured against changed). ready: the file as a worker read and converted it (ahead.py),
        used when its stat is still the one read. The outcome is one of OUTCOMES; a bad book is recorded as
        "rejected", never raised. Raises FolderError when the file's folder cannot be searched, and
        CheckpointError (DiskFull) when a row or the ledger cannot be written.
        """
        source = str(path)
        if not is_utf8_name(path):
            return self._refuse_name(path)
        current = self.appenders.get(folder.imprint)
        if current is not None and source in current.staged_sources:
            self.flush()
        try:
            stat = stat_source(path)
        except FileNotFoundError:
            return Outcome.VANISHED
        known, row, again, rejection, retry = self._standing(source, folder.imprint, stat, recheck)
        if known is not None:
            return known
        checked_ns = time.time_ns()
        src: Source | None = None
        try:
            if ready is not None and ready.stat == stat:  # the version a worker read
                checked_ns, src = ready.checked_ns, Source(path, ready.stat, ready.sha256, b"")
            else:
                ready, src = None, read_source(path, self.settings.max_bytes)
            if row and not again and row.sha256 == src.sha256:
                if row.stat != src.stat:
                    self.ledger.touch_row(row, row.sha256, src.stat, checked_ns)
                return Outcome.UNCHANGED
            if rejection and not retry and rejection.sha256 == src.sha256:
                return Outcome.REJECTED
            made = ready.row() if ready else book_to_row(src.data, self.profiles[folder.imprint],
                                                         self.settings.strict, self.settings.dialect)
        except FileNotFoundError:
            return Outcome.VANISHED
        except BookError as exc:
            if may_be_unfinished and mtime_ns(stat) > checked_ns - RACY_NS:
                return Outcome.UNFINISHED
            version = (src.sha256, src.stat) if src else ("", stat)
            return self._reject(Rejection(source, *version, checked_ns, str(exc), self.digests[folder.imprint]),
                                rejection)
        return self._place(src, folder, checked_ns, made, row, rejection)

    def _standing(self, source: str, imprint: str, stat: str, recheck: bool
                  ) -> tuple[Outcome | None, RowRecord | None, bool, Rejection | None, bool]:
        """What the ledger knows of the file: (UNCHANGED or REJECTED when its stat proves its row or rejection
        current, else None; its row; whether to convert it again; its rejection; whether to retry it)."""
        row, digest = self.ledger.latest_row(source), self.digests[imprint]
        again = recheck or (row is not None and self.outdated(row, imprint))  # made under other settings
        if row and not again and _proven(row.stat, row.checked_ns, stat):
            return Outcome.UNCHANGED, row, again, None, False
        rejection = self.ledger.rejection(source)
        retry = recheck or (rejection is not None and rejection.digest != digest)  # rejected under other settings
        if rejection and not retry and _proven(rejection.stat, rejection.checked_ns, stat):
            return Outcome.REJECTED, row, again, rejection, retry
        return None, row, again, rejection, retry

    def wanted(self, path: Path, folder: Folder) -> bool:
        """Whether ingest() would read the file now: a name that can be recorded, neither its row nor its
        rejection proven current by its stat. False for a file it cannot stat (ingest() says why)."""
        try:
            stat = stat_source(path)
        except (OSError, FolderError):
            return False
        return is_utf8_name(path) and self._standing(str(path), folder.imprint, stat, False)[0] is None

    def _place(self, src: Source, folder: Folder, checked_ns: int, made: BookRow, row: RowRecord | None,
               rejection: Rejection | None) -> Outcome:
        """Stage a converted row for appending, or replace the source's earlier row (or the row of its book)."""
        source, conversion, digest = str(src.path), made.conversion, self.digests[folder.imprint]
        appender = self._appender(folder.imprint)
        if row is not None and row.checkpoint_id != appender.record.id and row.sha256 == src.sha256:
            return Outcome.UNCHANGED  # converted again only because it was current until a rotation just now: never copied
        own_row = row is not None and row.checkpoint_id == appender.record.id
        holder = self._isbn_holder(appender, conversion.isbn, source)
        settle = None  # a file whose row holds this book but which now gives another: converted in the same rewrite
        if holder and (own_row or os.path.lexists(holder)):
            if holder in appender.staged_sources or still_claims(self, holder, conversion.isbn, folder):
                reason = (f"ISBN {conversion.isbn} is already in the checkpoint from {shown(holder)}; "
                          "two files describe the same book: remove or correct one of them")
                return self._reject(Rejection(source, src.sha256, src.stat, checked_ns, reason, digest), rejection)
            settle, holder = holder, (None if own_row else holder)
        if holder:  # the book's identity is its ISBN: its file was renamed or replaced, so this one takes the row
            self.flush()
            row = self.ledger.latest_row(holder)
            gone = "now gives another ISBN" if settle else "is gone"
            logger.info(f"ISBN {conversion.isbn}: {shown(holder)} {gone}; its row now comes from {shown(source)}")
        elif not own_row and (renamed := renamed_row(self, appender, src, conversion.title)) is not None:
            row, holder = renamed, renamed.source  # a book without an ISBN yet, renamed: it keeps its row
            logger.info(f"{shown(holder)} was renamed to {shown(source)}: "
                        f"the row of '{conversion.title}' stays one row")
        if made.problems:
            _log_problems(src.path, made.problems)
        staged = StagedRow.of(made.record, source, src.sha256, src.stat, checked_ns, conversion.isbn,
                              conversion.title, made.problems, digest)
        if row is None or row.checkpoint_id != appender.record.id or (self.settings.on_rewrite == "append"
                                                                      and not holder):
            appender.stage(staged)
            if len(appender.staged) >= self.settings.rows_per_sync:
                self.flush()
            return Outcome.APPENDED
        if self.settings.on_rewrite == "ignore" and not holder:
            self.ledger.touch_row(row, row.sha256, src.stat, checked_ns)  # keeps the old content's hash
            return Outcome.UNCHANGED
        if appender.file.read_at(row.offset, row.length) == staged.data:
            self.ledger.touch_row(row, src.sha256, src.stat, checked_ns, staged.entry)
            return Outcome.UNCHANGED
        appender.stage_replacement(row, staged)
        if settle and not holder:  # a swap: both rows change in the same rewrite, never one ISBN in two rows
            self.ingest(Path(settle), folder_of(self.settings, folder.imprint, settle) or folder, recheck=True)
            if settle not in appender.staged_sources:  # its file could not take its new book: this one waits
                appender.unstage_replacement(row)
                reason = (f"ISBN {conversion.isbn} is still in the checkpoint from {shown(settle)}, whose file now "
                          "gives another ISBN that cannot be written yet; this file is tried again when it changes")
                return self._reject(Rejection(source, src.sha256, src.stat, checked_ns, reason, digest), rejection)
        if appender.replacing_bytes >= REWRITE_BATCH_BYTES:
            self.flush()
        return Outcome.REPLACED

    def _isbn_holder(self, appender: CheckpointAppender, isbn: str, source: str) -> str | None:
        if not isbn:
            return None
        queued = appender.staged_isbns.get(isbn)
        if queued is not None and queued != source:
            return queued
        holder = self.ledger.isbn_holder(appender.record.id, isbn, source)
        if holder is not None and appender.staged_sources.get(holder, isbn) != isbn:
            return None  # its row is being replaced by that file's other book
        return holder

    def _refuse_name(self, path: Path) -> Outcome:
        """A name that is not UTF-8 cannot be recorded, logged plainly or shown to LSI: no row, a warning."""
        if str(path) not in self.bad_names:
            self.bad_names.add(str(path))
            self.totals[Outcome.REJECTED] += 1
            logger.bind(source=shown(path), reason=BAD_NAME).warning(f"rejected {shown(path)}: {BAD_NAME}")
        return Outcome.REJECTED

    def check_ledger(self) -> None:
        """The ledger must stay where it was opened: deleted under a running process, nothing it writes counts.
        Raises CheckpointError when it was deleted or replaced."""
        if not self.ledger.still_in_place():
            raise CheckpointError(f"the ledger {self.ledger.path} was deleted or replaced while the sidecar ran; "
                                  "restore it from a backup, or move the checkpoints aside to start over")

    def _reject(self, rejection: Rejection, previous: Rejection | None) -> Outcome:
        # A reason may quote the book's text: escaped, it can be stored and logged whatever it holds.
        rejection = dataclasses.replace(rejection, reason=shown(rejection.reason))
        self.ledger.record_rejection(rejection)
        if previous is None or previous.reason != rejection.reason or previous.sha256 != rejection.sha256:
            self.totals[Outcome.REJECTED] += 1
            logger.bind(source=shown(rejection.source), reason=rejection.reason).warning(
                f"rejected {shown(rejection.source)}: {rejection.reason}")
        return Outcome.REJECTED


def _proven(recorded: str, checked_ns: int, current: str) -> bool:
    """The file is provably the version recorded, without reading it."""
    return recorded == current and mtime_ns(current) < checked_ns - RACY_NS


def _log_problems(path: Path, problems: Sequence[Problem]) -> None:
    text = "; ".join(f"{p.column}: {p.message}" for p in problems)
    log = logger.bind(source=shown(path), problems=[{"severity": p.severity, "column": p.column, "message": p.message}
                                                    for p in problems])
    errors = sum(p.severity == Severity.ERROR for p in problems)
    log.warning(f"{shown(path)}: {errors} error(s), {len(problems) - errors} warning(s): {text}")
