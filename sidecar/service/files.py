"""The rows' files, checked by the running service when `files` is set (store/preflight.py).

A thread of its own looks every LOOK_SECONDS at the stats of what the check depends on: the current
checkpoints, the book JSONs their rows came from, and every place a row's interior or cover may be.
The first look after the catch-up checks at once; later, a change is checked once it has held still for
one look (a batch being written is not checked row by row), and files unchanged since the last check
are not read again. READY=1 and the ingesting never wait for it; a file being written is not judged
until it holds still, then checked again. Each row whose file problems changed is logged (its problems,
or that its files now agree with it), then the summary line when it changed: a WARNING like the
caught-up line's not-LSI-ready one, or "files: N of N rows' files agree with them".
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from loguru import logger

from ..errors import SidecarError
from ..rows.columns import Severity
from ..settings import Settings
from ..store.pdf_files import NOT_JUDGED, SETTLE_SECONDS, Memo
from ..store.preflight import (BookCheck, PreflightReport, current_checkpoints, file_readiness, files_agree,
                               files_warning, preflight_with)

LOOK_SECONDS = 2.0

Signature = tuple[tuple[str, tuple[int, ...] | None], ...]


class FileChecks:
    """The files' check of a Service run: start() after READY=1; stopped by the run's stop event."""

    def __init__(self, settings: Settings, stop: threading.Event, memo: Memo) -> None:
        self.settings, self.stop, self.memo = settings, stop, memo
        self.imprints = [f.imprint for f in settings.folders]
        self.watched: list[Path] = []  # what the last check depended on, besides the checkpoints
        self.checked: Signature | None = None  # the stats the last check was made on; None: check at once
        self.seen: Signature | None = None  # the stats at the previous look
        self.again_at = math.inf  # a file not judged yet (being written): when to check again
        self.rows: dict[tuple[str, str], tuple[str, ...]] = {}  # (checkpoint, ISBN) -> its file problems
        self.summary = ""
        self.failure = ""
        self.with_file_errors: int | None = None  # rows with a file error at the last check, for the metrics
        self.thread = threading.Thread(target=self._run, name="files", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self._look()
                self.failure = ""
            except Exception as exc:  # noqa: BLE001 - never the service's end: logged once, tried at the next look
                if str(exc) != self.failure:
                    if isinstance(exc, (SidecarError, OSError)):  # a checkpoint or the ledger in between two states
                        logger.warning(f"the rows' files could not be checked: {exc}; tried again at the next look")
                    else:
                        logger.opt(exception=exc).error(f"the rows' files could not be checked: {exc!r}")
                self.failure = str(exc)
            self.stop.wait(LOOK_SECONDS)

    def _look(self) -> None:
        checkpoints = list(current_checkpoints(self.settings.state_dir, self.imprints))
        signature = _stats([*checkpoints, *self.watched])
        held_still, self.seen = signature == self.seen, signature
        due = time.monotonic() >= self.again_at
        if self.checked is not None and (signature == self.checked and not due or not held_still):
            return
        reports = [preflight_with(self.settings, c, self.memo, self.stop) for c in checkpoints]
        if self.stop.is_set():
            return
        self.memo.next_run()  # what no checkpoint's rows name any more is forgotten
        watched = sorted({p for r in reports for p in [*r.sources, *(q for b in r.books for q in b.looked_at)]})
        # New places (a row appended): check once more at the next look, with their stats taken before it.
        self.checked = signature if watched == self.watched else None
        self.watched = watched
        not_judged = any(f.rule == NOT_JUDGED for r in reports for b in r.books for f in b.findings)
        self.again_at = time.monotonic() + SETTLE_SECONDS if not_judged else math.inf
        self._report(reports)

    def _report(self, reports: Sequence[PreflightReport]) -> None:
        # A file not judged yet (being written) is looked at again shortly: not a problem to report now.
        reports = [replace(r, books=[replace(b, findings=[f for f in b.findings if f.rule != NOT_JUDGED])
                                     for b in r.books]) for r in reports]
        rows = {}
        for report in reports:
            for book in report.books:
                key = (report.checkpoint.name, book.isbn or f"line {book.line}")
                rows[key] = _problems(book)
                if rows[key] != self.rows.get(key, ()):
                    _log_row(report.checkpoint, book, rows[key], key in self.rows)
        self.rows = rows
        entries = [file_readiness(r) for r in reports]
        self.with_file_errors = sum(e["with_file_errors"] for e in entries)
        warning = files_warning(entries)
        summary = "files: the current checkpoints have no rows yet"
        if rows:
            summary = warning or f"files: {files_agree(entries)}"
        if summary != self.summary and (rows or self.summary):
            (logger.warning if warning else logger.info)(summary)
        self.summary = summary


def _problems(book: BookCheck) -> tuple[str, ...]:
    return tuple(f"{f.severity} {f.role}: {f.message} [{f.rule}]" for f in book.findings)


def _log_row(checkpoint: Path, book: BookCheck, problems: tuple[str, ...], known: bool) -> None:
    where = f"files of {checkpoint.name} line {book.line} ({book.isbn or 'no ISBN'})"
    if not problems:
        if known:
            logger.info(f"{where}: they agree with the row now")
        return
    errors = sum(f.severity == Severity.ERROR for f in book.findings)
    logger.bind(isbn=book.isbn, files=book.files).warning(
        f"{where}: {errors} error(s), {len(problems) - errors} warning(s): {'; '.join(problems)}")


def _stats(paths: Sequence[Path]) -> Signature:
    """Each path with what tells that it changed (device, inode, size, modification and change times), None
    when absent."""
    found: list[tuple[str, tuple[int, ...] | None]] = []
    for path in paths:
        try:
            st = os.stat(path)
            found.append((str(path), (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)))
        except OSError:
            found.append((str(path), None))
    return tuple(found)
