"""The long-running service: watch, catch up, then one worker thread ingests every hinted path.

Threads: watchdog's observer only queues hints (watch.py); the worker thread does every ingest through
the same Ingestor as `--once`; the main thread supervises. It pings systemd's watchdog only while the
observer and the worker are alive, and stops with an error as soon as either dies, so that systemd
restarts it. Faults that can pass (a full disk, a folder it cannot list, a configuration that does not
load) are waited out in the process instead (waits.py).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from loguru import logger
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from ..engine.batches import check_marker, take_requests
from ..engine.ingest import Ingestor
from ..engine.outcome import Outcome
from ..errors import ConfigError, DiskFull, FolderError, ServiceFailed, SidecarError
from ..faults import fault_active
from ..settings import Folder, Settings
from ..store.pdf_files import Memo
from ..store.sources import stat_source
from .control import Control
from .files import FileChecks
from .metrics import write_metrics
from .notify import Notifier
from .readiness import Readiness
from .waits import Backoff, Waits
from .watch import Hint, Hints, OverflowAlarm, PathQueue


@dataclass
class _Watched:
    folder: Folder
    watch: ObservedWatch | None = None
    inode: int | None = None
    waiting: bool = False
    failed: bool = False


@dataclass
class _Unfinished:
    """A file that may still be being written: looked at again at due, ingested once its stat holds still."""

    hint: Hint
    stat: str | None
    due: float


@dataclass
class Service:
    settings: Settings
    control: Control = field(default_factory=lambda: Control())
    notifier: Notifier = field(default_factory=Notifier)
    waits: Waits | None = None
    queue: PathQueue = field(default_factory=PathQueue)
    worker_error: SidecarError | None = None
    unfinished: dict[Path, _Unfinished] = field(default_factory=dict)  # owned by the worker once it runs
    memo: Memo = field(default_factory=Memo)  # the PDFs' facts, kept across reloads (store/pdf_files.py)

    def __post_init__(self) -> None:
        self.readiness = Readiness.for_settings(self.settings)
        self.metrics_failed = False
        self.waits = self.waits or Waits(self.notifier)
        self.waits.state_dir = self.settings.state_dir
        self.folder_backoff = Backoff()
        self.files = FileChecks(self.settings, self.control.stop, self.memo) if self.settings.files is not None else None

    def run(self) -> None:
        """Until the control asks it to stop (returns) or a failure (raises: DiskFull and ConfigError are
        waited out by serve(); CheckpointError and ServiceFailed end the process)."""
        notifier, waits = self.notifier, self.waits
        assert waits is not None
        alarm = OverflowAlarm(self.queue)
        logging.getLogger("watchdog.observers").addHandler(alarm)
        observer: BaseObserver = PollingObserver(timeout=self.settings.poll_seconds) if self.settings.poll_seconds else Observer()
        try:
            with Ingestor(self.settings) as ingestor:
                self.ingestor = ingestor
                watched = [_Watched(f) for f in self.settings.folders]
                observer.start()
                self._watch_folders(observer, watched)  # before the catch-up, so nothing falls between
                summary = ingestor.count_readiness(ingestor.catch_up(_catch_up_progress(notifier), stop=self.control.stop,
                                                                     may_be_unfinished=True))
                self.queue.take_rescan()  # the catch-up was that rescan
                logger.info(f"caught up: {summary.line()}")
                if summary.not_ready:
                    logger.warning(summary.readiness())
                self._look_again(summary.unfinished)
                waits.normal_status = f"watching {len(watched)} folder(s)"
                waits.clear("run")  # whatever the service waited for before this start has passed
                self._report_folders(watched)
                worker = threading.Thread(target=self._work, name="worker", daemon=True)
                worker.start()
                waits.ready(waits.normal_status)
                if self.files is not None:
                    self.files.start()
                try:
                    self._supervise(observer, worker, watched, notifier)
                finally:
                    if self.control.reload:  # systemd waits for the next READY=1
                        notifier.send(f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")
                    elif self.control.terminated:
                        notifier.send("STOPPING=1")
                    self.control.stop.set()
                    worker.join(timeout=4)
                    if self.files is not None:
                        self.files.join(timeout=4)
                if worker.is_alive():
                    raise ServiceFailed("the worker did not finish within 4 s")
        finally:
            if observer.is_alive():
                observer.stop()
                observer.join(timeout=2)
            logging.getLogger("watchdog.observers").removeHandler(alarm)

    # ------------------------------------------------------------------ main thread

    def _supervise(self, observer: BaseObserver, worker: threading.Thread, watched: list[_Watched],
                   notifier: Notifier) -> None:
        interval = notifier.watchdog_interval
        tick = min(1.0, interval) if interval else 1.0
        next_ping = 0.0
        while not self.control.stop.is_set():
            if self.worker_error is not None:
                raise self.worker_error
            if not worker.is_alive():
                raise ServiceFailed("the worker thread died; exiting so that the service is restarted")
            if not observer.is_alive():
                raise ServiceFailed("the filesystem observer thread died; exiting so that the service is restarted")
            self._watch_folders(observer, watched)
            self._report_folders(watched)
            if self.settings.metrics_file:
                self._write_metrics()
            now = time.monotonic()
            if interval and now >= next_ping:
                notifier.send("WATCHDOG=1")
                next_ping = now + interval
            self.control.stop.wait(tick)

    def _report_folders(self, watched: list[_Watched]) -> None:
        """The watched folders the worker's last pass could not list, or that do not exist: waited for, and
        said so."""
        assert self.waits is not None
        faults = dict(self.ingestor.folder_faults)  # replaced whole by the worker, never changed in place
        for w in watched:  # one that does not exist (yet, or any more): its books come when it does
            if w.waiting and w.folder.path not in faults and not os.path.lexists(w.folder.path):
                faults[w.folder.path] = f"the watched folder {w.folder.path} does not exist"
        for folder, message in faults.items():
            self.waits.set(f"folder:{folder}", message)
        self.waits.keep_only({f"folder:{folder}" for folder in faults}, "folder:")

    def _write_metrics(self) -> None:
        """Metrics are a convenience: a failure is reported once and never stops the service."""
        assert self.settings.metrics_file is not None and self.waits is not None
        try:
            write_metrics(self.settings.metrics_file, self.ingestor.totals, self.ingestor.last_append_ns,
                          len(self.queue), len(self.waits.current), self.files.with_file_errors if self.files else None)
            self.metrics_failed = False
        except OSError as exc:
            if not self.metrics_failed:
                logger.warning(f"cannot write the metrics file {self.settings.metrics_file}: {exc.strerror or exc}")
            self.metrics_failed = True

    def _watch_folders(self, observer: BaseObserver, watched: list[_Watched]) -> None:
        """Watch folders that exist; let go of ones deleted or replaced, and pick them up again."""
        for w in watched:
            try:
                inode: int | None = os.stat(w.folder.path).st_ino
            except FileNotFoundError:
                inode = None
            gone = w.folder.path in self.queue.gone
            if w.watch is not None and (gone or inode != w.inode):
                self.queue.gone.discard(w.folder.path)
                try:
                    observer.unschedule(w.watch)
                except KeyError:
                    pass  # the emitter already stopped itself when the folder was deleted
                w.watch, w.inode, w.waiting = None, None, True
                logger.warning(f"{w.folder.path} was removed; waiting for it to come back")
                self.queue.request_rescan()  # which tells, if something else now has its name
            if w.watch is None and inode is not None:
                poll = self.settings.poll_seconds
                handler = Hints(w.folder, self.queue, self.settings.ignore, self.readiness,
                                markers=(self.settings.start_marker, self.settings.done_marker))
                try:
                    # inotify ignores a folder it may not read (watchdog hides the EACCES): no watch until it can
                    os.close(os.open(w.folder.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
                    if fault_active("watch-limit"):
                        raise OSError(errno.ENOSPC, "inotify watch limit reached")
                    w.watch = observer.schedule(handler, str(w.folder.path), recursive=False)
                except (FileNotFoundError, NotADirectoryError, PermissionError):
                    continue  # gone again, or not a folder it can read: the worker's scans say which
                except OSError as exc:  # the inotify watch or instance limit
                    if not w.failed:
                        logger.error(f"cannot watch {w.folder.path}: {exc}; raise fs.inotify.max_user_watches "
                                     f"/ max_user_instances or use --poll; rescans every "
                                     f"{self.settings.rescan_seconds:g} s still find its books")
                    w.failed = True
                    continue
                w.failed = False
                w.inode = inode
                logger.info(f"watching {w.folder.path} ({f'polling every {poll:g} s' if poll else 'inotify'})")
                self.queue.request_rescan()  # whatever arrived before the watch began
            elif w.watch is None and not w.waiting:
                logger.warning(f"{w.folder.path} does not exist yet; waiting for it")
            w.waiting = w.watch is None

    # ------------------------------------------------------------------ worker thread

    def _look_again(self, found: list[tuple[Path, Folder]]) -> None:
        """Files a rescan found half-written: look again once they stop changing."""
        due = time.monotonic() + self.readiness.settle_seconds
        for path, folder in found:
            self.unfinished.setdefault(path, _Unfinished(Hint(path, folder, unfinished=True), _stat(path), due))

    def _work(self) -> None:
        unfinished = self.unfinished
        next_rescan = time.monotonic() + self._rescan_delay()
        next_requests = 0.0
        try:
            while not self.control.stop.is_set():
                # Sleep until the next thing due (an unfinished file, the rescan), at most a second.
                due = min([u.due for u in unfinished.values()] + [next_rescan, time.monotonic() + 1.0])
                hint = self.queue.get(timeout=max(0.01, due - time.monotonic()))
                if hint is not None:
                    self._take(hint)
                if hint is None or not len(self.queue):
                    self.ingestor.flush()  # idle: make everything durable now
                now = time.monotonic()
                for path, u in list(unfinished.items()):
                    if u.due <= now and not self.control.stop.is_set():
                        self._check_still(path, u)
                if self.ingestor.folder_faults and not self.folder_backoff.tries:
                    next_rescan = min(next_rescan, now + self._rescan_delay())  # a fault a hint ran into
                if now >= next_requests:  # once a second: the ledger still there, rotate/finalize from the CLI
                    self.ingestor.check_ledger()
                    take_requests(self.ingestor)
                    next_requests = now + 1.0
                if self.queue.take_rescan() or now >= next_rescan:
                    self._look_again(self.ingestor.catch_up(stop=self.control.stop, may_be_unfinished=True).unfinished)
                    next_rescan = time.monotonic() + self._rescan_delay()
            self.ingestor.flush()
        except SidecarError as exc:
            self.worker_error = exc
        except Exception:
            logger.exception("the worker thread failed")
            raise

    def _rescan_delay(self) -> float:
        """The full rescan interval; while a folder cannot be listed, retries with back-off up to it."""
        if not self.ingestor.folder_faults:
            self.folder_backoff.reset()
            return self.settings.rescan_seconds
        return min(self.settings.rescan_seconds, self.folder_backoff.next())

    def _take(self, hint: Hint) -> None:
        if hint.path.name in (self.settings.start_marker, self.settings.done_marker):
            # In queue order, so that books written before the marker go first.
            if self.readiness.marker_ready(hint.unfinished):
                check_marker(self.ingestor, hint.path, hint.folder)
            return
        if not hint.unfinished:
            self.unfinished.pop(hint.path, None)
            self._ingest(hint.path, hint.folder)
            return
        if self.readiness.try_unfinished_at_once and \
                self._ingest(hint.path, hint.folder, may_be_unfinished=True) != Outcome.UNFINISHED:
            self.unfinished.pop(hint.path, None)  # a file renamed in from elsewhere: complete, and now in
            return
        self.unfinished[hint.path] = _Unfinished(hint, _stat(hint.path), time.monotonic() + self.readiness.settle_seconds)

    def _ingest(self, path: Path, folder: Folder, may_be_unfinished: bool = False) -> Outcome:
        try:
            return self.ingestor.ingest(path, folder, may_be_unfinished)
        except FolderError as exc:  # the folder can no longer be searched: the rescans tell when it can
            self.ingestor.folder_faults = {**self.ingestor.folder_faults, folder.path: str(exc)}
            return Outcome.UNFINISHED

    def _check_still(self, path: Path, u: _Unfinished) -> None:
        now_stat = _stat(path)
        if now_stat is None or now_stat == u.stat:
            del self.unfinished[path]
            if now_stat is not None:
                self._ingest(path, u.hint.folder)
        else:
            u.stat, u.due = now_stat, time.monotonic() + self.readiness.settle_seconds


def _catch_up_progress(notifier: Notifier) -> Callable[[int, int], None]:
    """During the start-up catch-up: progress in systemctl status, and watchdog pings at their rate."""
    interval = notifier.watchdog_interval or 1.0
    next_report = 0.0

    def report(done: int, total: int) -> None:
        nonlocal next_report
        if time.monotonic() >= next_report:
            watchdog = "\nWATCHDOG=1" if notifier.watchdog_interval else ""
            notifier.send(f"STATUS=catching up: {done}/{total} books{watchdog}")
            next_report = time.monotonic() + min(1.0, interval)

    return report


def _stat(path: Path) -> str | None:
    try:
        return stat_source(path)
    except (OSError, FolderError):
        return None


def serve(load_settings: Callable[[], Settings]) -> None:
    """The service until SIGTERM/SIGINT. SIGHUP (systemctl reload): the row in hand is finished, systemd
    hears RELOADING=1, the configuration is read again and everything starts anew in the same process;
    READY=1 follows the new catch-up. A configuration that no longer loads is reported and the one in
    force goes on; one that does not load at start, a full disk or a checkpoint folder it cannot create
    is waited out (READY=1 and STATUS=waiting: ..., retried with back-off, and at once on SIGHUP).

    Raises CheckpointError for what must not be retried in this process (a failed fsync, a lock held by
    another sidecar, a checkpoint changed by hand) and ServiceFailed when a thread dies: systemd restarts it.
    """
    control, notifier = Control(), Notifier()
    waits, backoff, memo = Waits(notifier), Backoff(), Memo()
    settings: Settings | None = None
    try:
        with control.signals():
            while not control.terminated:
                if settings is None or control.reload:
                    settings = _load(load_settings, settings, waits)
                    control.reload = False
                    control.stop.clear()
                if settings is None:
                    _wait(control, waits, backoff.next())
                    continue
                try:
                    Service(settings, control, notifier, waits, memo=memo).run()
                    backoff.reset()
                except (DiskFull, ConfigError) as exc:  # a folder it cannot create or list is a ConfigError
                    waits.set("run", str(exc))
                    if not control.terminated:
                        control.stop.clear()
                        _wait(control, waits, backoff.next(), settings)
                    if isinstance(exc, ConfigError):
                        settings = None  # the configuration may be what has to change: read it again
                    continue
                if not control.reload:
                    return
    finally:
        notifier.close()


def _load(load_settings: Callable[[], Settings], settings: Settings | None, waits: Waits) -> Settings | None:
    """The configuration as it is now; at a reload that fails, the one in force; at start, None."""
    try:
        loaded = load_settings()
    except (ConfigError, RecursionError, ValueError, MemoryError) as exc:  # whatever a config file can cause
        reason = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {str(exc)[:200]}"
        if settings is None:
            waits.set("config", f"the configuration cannot be loaded: {reason}")
        else:
            logger.error(f"reload refused: {reason}; the configuration in force goes on")
        return settings
    if settings is not None:
        logger.info("reloaded: the configuration as it is now is in force")
    waits.clear("config")
    return loaded


def _wait(control: Control, waits: Waits, seconds: float, settings: Settings | None = None) -> None:
    """Wait out a fault for seconds, or until a signal: systemd hears READY=1 (so that a wait at start is
    not killed by TimeoutStartSec) with what is waited for, and the watchdog pings go on."""
    waits.ready(waits.normal_status)
    if settings is not None and settings.metrics_file:
        with contextlib.suppress(OSError):
            write_metrics(settings.metrics_file, {}, 0, 0, len(waits.current))
    interval = waits.notifier.watchdog_interval
    deadline = time.monotonic() + seconds
    while not control.stop.is_set() and (left := deadline - time.monotonic()) > 0:
        if interval:
            waits.notifier.send("WATCHDOG=1")
        control.stop.wait(min(left, interval or left))
