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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

from loguru import logger

from ..errors import BookError, CheckpointError, FolderError
from ..inputs import BAD_NAME, is_utf8_name, shown
from ..rows.book import BookRow, book_to_row
from ..rows.columns import Problem
from ..rows.profile import what_fixes
from ..settings import Folder, Settings, ensure_writable_folder
from ..store.checkpoint import remove_stale_temp_files
from ..store.ledger import Ledger, Rejection, RowRecord, ledger_path
from ..store.lock import DirLock
from ..store.manifest import settings_digest, write_manifest, write_missing_manifests
from ..store.sources import Source, mtime_ns, read_source, scan, stat_source
from .appender import CheckpointAppender, StagedRow
from .batches import check_markers, take_requests

# A file whose mtime is this close to when we last read it may have changed within the timestamp's
# granularity, so its unchanged stat proves nothing (git's "racy" rule): read it again.
RACY_NS = 2_000_000_000
OUTCOMES = ("appended", "replaced", "unchanged", "rejected", "vanished", "unfinished")


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    checkpoints: list[Path] = field(default_factory=list)
    unfinished: list[tuple[Path, Folder]] = field(default_factory=list)  # may still be being written
    rows: int = 0  # in the current checkpoints
    not_ready: int = 0  # of those, rows LSI would refuse
    reasons: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        parts = ", ".join(f"{self.counts[o]} {o}" for o in OUTCOMES[:4])
        where = ", ".join(str(p) for p in self.checkpoints) or "none yet"
        return f"{parts}, {self.not_ready} not LSI-ready; checkpoint: {where}"

    def readiness(self) -> str:
        """Loud when rows are not LSI-ready: how many, the top reasons, and what fixes each."""
        top = "; ".join(f"{reason} ({n} rows: {what_fixes(reason.split(':')[0], reason)})"
                        for reason, n in self.reasons.most_common(3))
        return f"{self.not_ready} of {self.rows} rows are not LSI-ready: {top}"


class Ingestor:
    """Holds the locks, the ledger and one appender per imprint for the life of a run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        ensure_writable_folder(settings.checkpoint_dir, "checkpoint_dir")
        ensure_writable_folder(settings.state_dir, "state_dir")
        self.locks = [DirLock(settings.checkpoint_dir)]
        try:
            if settings.state_dir != settings.checkpoint_dir:
                self.locks.append(DirLock(settings.state_dir))
            _refuse_lost_ledger(settings)
            remove_stale_temp_files(settings.checkpoint_dir)  # left by a process killed mid-write; we hold the lock
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
            logger.warning(f"config value refused: {problem}")
        self.digests = {imprint: settings_digest(settings, imprint) for imprint in self.profiles}
        self.reconvert = self._changed_configurations()
        self.totals: Counter[str] = Counter()  # since start: rows appended and replaced, files rejected
        self.last_append_ns = 0
        self.bad_names: set[str] = set()  # names that are not UTF-8, each reported once per run
        self.folder_faults: dict[Path, str] = {}  # watched folders the last pass could not list, and why

    def close(self) -> None:
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
        """Start a new checkpoint for the imprint now; the previous one stays as it is (closed)."""
        self.flush()
        previous = self.appenders.pop(imprint, None)
        if previous is not None:
            previous.close()
        appender = self.appenders[imprint] = self._open_appender(imprint, batch_id or "")
        logger.info(f"rotated {imprint}: {appender.record.path.name}" +
                    (f" follows {previous.record.path.name}" if previous else ""))
        return appender.record.path

    def finalize(self, imprint: str) -> Path | None:
        """Mark the imprint's checkpoint complete, with a manifest beside it; the next book starts a new one."""
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
        for n, (folder, path) in enumerate(paths, start=1):
            if stop is not None and stop.is_set():
                break
            if folder.path in faults:
                continue
            try:
                outcome = self.ingest(path, folder, may_be_unfinished)
            except FolderError as exc:  # listed, but its files cannot be reached: searching it is not allowed
                faults[folder.path] = str(exc)
                continue
            summary.counts[outcome] += 1
            if outcome == "unfinished":
                summary.unfinished.append((path, folder))
            if progress:
                progress(n, len(paths))
        self.flush()
        if faults and not may_be_unfinished:
            raise FolderError("; ".join(faults.values()))
        if (stop is None or not stop.is_set()) and not faults:
            self._configurations_applied()
        summary.checkpoints = self.checkpoints
        return summary

    def _changed_configurations(self) -> set[int]:
        """The current checkpoints whose rows were made under other settings: their books are converted
        again (a row that comes out the same stays; one that differs is replaced in place)."""
        stale: set[int] = set()
        for imprint, digest in self.digests.items():
            recorded, appender = self.ledger.configuration(imprint), self.appenders.get(imprint)
            if recorded in (None, digest) or appender is None:
                continue
            if self.settings.on_rewrite == "replace":
                stale.add(appender.record.id)
                logger.info(f"the configuration for {imprint} changed: its books are converted again")
            else:
                logger.info(f"the configuration for {imprint} changed; with on_rewrite: {self.settings.on_rewrite} "
                            "it applies to books written from now on")
        return stale

    def _configurations_applied(self) -> None:
        for imprint, digest in self.digests.items():
            if self.ledger.configuration(imprint) != digest:
                self.ledger.record_configuration(imprint, digest)
        self.reconvert.clear()

    def count_readiness(self, summary: Summary) -> Summary:
        """Add the current checkpoints' LSI-readiness to a summary: one pass over their ledger rows, so only
        for the summaries a person reads (end of --once, the service's start), not every rescan."""
        for appender in self.appenders.values():
            rows, not_ready, reasons = self.ledger.readiness(appender.record.id)
            summary.rows, summary.not_ready = summary.rows + rows, summary.not_ready + not_ready
            summary.reasons.update(reasons)
        return summary

    def flush(self) -> None:
        """Make every staged row durable and recorded."""
        for appender in self.appenders.values():
            for record in appender.commit():
                self.totals["appended"] += 1
                self.last_append_ns = record.appended_ns
                logger.bind(isbn=record.isbn, source=shown(record.source), checkpoint=str(appender.record.path)).info(
                    f"appended ISBN {record.isbn or '-'} '{record.title}' from "
                            f"{shown(Path(record.source).name)} to {appender.record.path.name}")

    def ingest(self, path: Path, folder: Folder, may_be_unfinished: bool = False) -> str:
        """Bring one source file's current content into the checkpoint; returns the outcome.

        may_be_unfinished: the file may still be being written, so a recently modified file that cannot
        be read as a book yet is "unfinished" rather than rejected (the service looks again once it is
        closed or stops changing).
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
            return "vanished"
        row = self.ledger.latest_row(source)
        again = row is not None and row.checkpoint_id in self.reconvert  # made under other settings
        if row and not again and _proven(row.stat, row.checked_ns, stat):
            return "unchanged"
        rejection = self.ledger.rejection(source)
        again = again or (rejection is not None and bool(self.reconvert))
        if rejection and not again and _proven(rejection.stat, rejection.checked_ns, stat):
            return "rejected"

        checked_ns = time.time_ns()
        src: Source | None = None
        try:
            src = read_source(path, self.settings.max_bytes)
            if row and not again and row.sha256 == src.sha256:
                if row.stat != src.stat:
                    self.ledger.touch_row(row, row.sha256, src.stat, checked_ns)
                return "unchanged"
            if rejection and not again and rejection.sha256 == src.sha256:
                return "rejected"
            made = book_to_row(src.data, self.profiles[folder.imprint], self.settings.strict, self.settings.dialect)
        except FileNotFoundError:
            return "vanished"
        except BookError as exc:
            if may_be_unfinished and mtime_ns(stat) > checked_ns - RACY_NS:
                return "unfinished"
            version = (src.sha256, src.stat) if src else ("", stat)
            return self._reject(Rejection(source, *version, checked_ns, str(exc)), rejection)
        return self._place(src, folder, checked_ns, made, row, rejection)

    def _place(self, src: Source, folder: Folder, checked_ns: int, made: BookRow, row: RowRecord | None,
               rejection: Rejection | None) -> str:
        """Stage a converted row for appending, or replace the source's earlier row with it."""
        source, conversion = str(src.path), made.conversion
        appender = self._appender(folder.imprint)
        own_row = row is not None and row.checkpoint_id == appender.record.id
        holder = self._isbn_holder(appender, conversion.isbn, source)
        if holder and (own_row or os.path.lexists(holder)):
            reason = (f"ISBN {conversion.isbn} is already in the checkpoint from {shown(holder)}; "
                      "two files describe the same book: remove or correct one of them")
            return self._reject(Rejection(source, src.sha256, src.stat, checked_ns, reason), rejection)
        if holder:  # the book's identity is its ISBN: its file was renamed or replaced, so this one takes the row
            self.flush()
            row = self.ledger.latest_row(holder)
            logger.info(f"ISBN {conversion.isbn}: {shown(holder)} is gone; its row now comes from {shown(source)}")
        if made.problems:
            _log_problems(src.path, made.problems)
        staged = StagedRow.of(made.record, source, src.sha256, src.stat, checked_ns, conversion.isbn,
                              conversion.title, [f"{p.column}: {p.message}" for p in made.problems
                                                 if p.severity == "error"])
        if row is None or row.checkpoint_id != appender.record.id or (self.settings.on_rewrite == "append"
                                                                      and not holder):
            appender.stage(staged)
            if len(appender.staged) >= self.settings.rows_per_sync:
                self.flush()
            return "appended"
        if self.settings.on_rewrite == "ignore" and not holder:
            self.ledger.touch_row(row, row.sha256, src.stat, checked_ns)  # keeps the old content's hash
            return "unchanged"
        self.flush()
        if appender.file.read_at(row.offset, row.length) == staged.data:
            self.ledger.touch_row(row, src.sha256, src.stat, checked_ns)
            return "unchanged"
        appender.replace(row, staged)
        self.totals["replaced"] += 1
        self.last_append_ns = time.time_ns()
        logger.bind(isbn=conversion.isbn, source=shown(source), checkpoint=str(appender.record.path)).info(
            f"replaced ISBN {conversion.isbn or '-'} '{conversion.title}' from {shown(src.path.name)} "
                    f"in {appender.record.path.name}")
        return "replaced"

    def _isbn_holder(self, appender: CheckpointAppender, isbn: str, source: str) -> str | None:
        if not isbn:
            return None
        queued = appender.staged_isbns.get(isbn)
        if queued is not None and queued != source:
            return queued
        return self.ledger.isbn_holder(appender.record.id, isbn, source)

    def _refuse_name(self, path: Path) -> str:
        """A name that is not UTF-8 cannot be recorded, logged plainly or shown to LSI: no row, a warning."""
        if str(path) not in self.bad_names:
            self.bad_names.add(str(path))
            self.totals["rejected"] += 1
            logger.bind(source=shown(path), reason=BAD_NAME).warning(f"rejected {shown(path)}: {BAD_NAME}")
        return "rejected"

    def check_ledger(self) -> None:
        """The ledger must stay where it was opened: deleted under a running process, nothing it writes counts."""
        if not self.ledger.still_in_place():
            raise CheckpointError(f"the ledger {self.ledger.path} was deleted or replaced while the sidecar ran; "
                                  "restore it from a backup, or move the checkpoints aside to start over")

    def _reject(self, rejection: Rejection, previous: Rejection | None) -> str:
        # A reason may quote the book's text: escaped, it can be stored and logged whatever it holds.
        rejection = dataclasses.replace(rejection, reason=shown(rejection.reason))
        self.ledger.record_rejection(rejection)
        if previous is None or previous.reason != rejection.reason or previous.sha256 != rejection.sha256:
            self.totals["rejected"] += 1
            logger.bind(source=shown(rejection.source), reason=rejection.reason).warning(
                f"rejected {shown(rejection.source)}: {rejection.reason}")
        return "rejected"


def _refuse_lost_ledger(settings: Settings) -> None:
    """Checkpoints without their ledger: starting a new ledger would write every book again, silently."""
    if ledger_path(settings.state_dir).exists():
        return
    found = [p for f in settings.folders for p in settings.checkpoint_dir.glob(f"cumulative_checkpoint_*_{f.imprint}*.csv")]
    if found:
        raise CheckpointError(f"{len(found)} checkpoint(s) such as {found[0].name} are in {settings.checkpoint_dir}, "
                              f"but their ledger {ledger_path(settings.state_dir)} is missing: restore it (or set "
                              "state_dir to where it is), or move those checkpoints aside to start over")


def _proven(recorded: str, checked_ns: int, current: str) -> bool:
    """The file is provably the version recorded, without reading it."""
    return recorded == current and mtime_ns(current) < checked_ns - RACY_NS


def _log_problems(path: Path, problems: Sequence[Problem]) -> None:
    text = "; ".join(f"{p.column}: {p.message}" for p in problems)
    log = logger.bind(source=shown(path), problems=[{"severity": p.severity, "column": p.column, "message": p.message}
                                                    for p in problems])
    if any(p.severity == "error" for p in problems):
        log.warning(f"{shown(path)}: {len(problems)} problem(s): {text}")
    else:
        log.info(f"{shown(path)}: {text}")
