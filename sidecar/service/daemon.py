"""The long-running service: watch, catch up, then one worker thread ingests every hinted path.

Threads: watchdog's observer only queues hints (watch.py); the worker thread does every ingest through
the same Ingestor as `--once`; the main thread supervises. It pings systemd's watchdog only while the
observer and the worker are alive, and stops with an error as soon as either dies, so that systemd
restarts it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from loguru import logger
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from ..engine.batches import check_marker, take_requests
from ..engine.ingest import Ingestor
from ..errors import ConfigError, ServiceFailed, SidecarError
from ..faults import fault_active
from ..settings import Folder, Settings
from ..store.sources import stat_source
from .metrics import write_metrics
from .notify import Notifier
from .readiness import Readiness
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
    queue: PathQueue = field(default_factory=PathQueue)
    worker_error: SidecarError | None = None
    unfinished: dict[Path, _Unfinished] = field(default_factory=dict)  # owned by the worker once it runs

    def __post_init__(self) -> None:
        self.readiness = Readiness.for_settings(self.settings)
        self.metrics_failed = False

    def run(self) -> None:
        """Until the control asks it to stop (returns) or a failure (raises)."""
        notifier = Notifier()
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
                worker = threading.Thread(target=self._work, name="worker", daemon=True)
                worker.start()
                notifier.send(f"READY=1\nSTATUS=watching {len(watched)} folder(s)")
                try:
                    self._supervise(observer, worker, watched, notifier)
                finally:
                    if self.control.reload:  # systemd waits for the next READY=1
                        notifier.send(f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")
                    else:
                        notifier.send("STOPPING=1")
                    self.control.stop.set()
                    worker.join(timeout=4)
                if worker.is_alive():
                    raise ServiceFailed("the worker did not finish within 4 s")
        finally:
            if observer.is_alive():
                observer.stop()
                observer.join(timeout=2)
            logging.getLogger("watchdog.observers").removeHandler(alarm)
            notifier.close()

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
            if self.settings.metrics_file:
                self._write_metrics()
            now = time.monotonic()
            if interval and now >= next_ping:
                notifier.send("WATCHDOG=1")
                next_ping = now + interval
            self.control.stop.wait(tick)

    def _write_metrics(self) -> None:
        """Metrics are a convenience: a failure is reported once and never stops the service."""
        assert self.settings.metrics_file is not None
        try:
            write_metrics(self.settings.metrics_file, self.ingestor, len(self.queue))
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
            if w.watch is None and inode is not None:
                poll = self.settings.poll_seconds
                handler = Hints(w.folder, self.queue, self.settings.ignore, self.readiness,
                                markers=(self.settings.start_marker, self.settings.done_marker))
                try:
                    if fault_active("watch-limit"):
                        raise OSError(errno.ENOSPC, "inotify watch limit reached")
                    w.watch = observer.schedule(handler, str(w.folder.path), recursive=False)
                except (FileNotFoundError, NotADirectoryError):
                    continue
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
        next_rescan = time.monotonic() + self.settings.rescan_seconds
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
                if now >= next_requests:  # once a second: the ledger still there, rotate/finalize from the CLI
                    self.ingestor.check_ledger()
                    take_requests(self.ingestor)
                    next_requests = now + 1.0
                if self.queue.take_rescan() or now >= next_rescan:
                    self._look_again(self.ingestor.catch_up(stop=self.control.stop, may_be_unfinished=True).unfinished)
                    next_rescan = time.monotonic() + self.settings.rescan_seconds
            self.ingestor.flush()
        except SidecarError as exc:
            self.worker_error = exc
        except Exception:
            logger.exception("the worker thread failed")
            raise

    def _take(self, hint: Hint) -> None:
        if hint.path.name in (self.settings.start_marker, self.settings.done_marker):
            # In queue order, so that books written before the marker go first.
            if self.readiness.marker_ready(hint.unfinished):
                check_marker(self.ingestor, hint.path, hint.folder)
            return
        if not hint.unfinished:
            self.unfinished.pop(hint.path, None)
            self.ingestor.ingest(hint.path, hint.folder)
            return
        if self.readiness.try_unfinished_at_once and \
                self.ingestor.ingest(hint.path, hint.folder, may_be_unfinished=True) != "unfinished":
            self.unfinished.pop(hint.path, None)  # a file renamed in from elsewhere: complete, and now in
            return
        self.unfinished[hint.path] = _Unfinished(hint, _stat(hint.path), time.monotonic() + self.readiness.settle_seconds)

    def _check_still(self, path: Path, u: _Unfinished) -> None:
        now_stat = _stat(path)
        if now_stat is None or now_stat == u.stat:
            del self.unfinished[path]
            if now_stat is not None:
                self.ingestor.ingest(path, u.hint.folder)
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
    except OSError:
        return None


@dataclass
class Control:
    """What the signals ask of the service: SIGTERM/SIGINT stop it; SIGHUP stops it to start again with
    the configuration as it is now. Installed once for the life of the process, across reloads."""

    stop: threading.Event = field(default_factory=threading.Event)
    reload: bool = False

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        def stop(signum: int, frame: object) -> None:
            self.stop.set()

        def reload(signum: int, frame: object) -> None:
            self.reload = True
            self.stop.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, reload)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(settings: Settings, reload_settings: Callable[[], Settings]) -> None:
    """The service until SIGTERM/SIGINT. SIGHUP (systemctl reload): the row in hand is finished, systemd
    hears RELOADING=1, the configuration is read again and everything starts anew in the same process;
    READY=1 follows the new catch-up. A configuration that no longer loads is reported and the one in
    force goes on."""
    control = Control()
    with control.signals():
        while True:
            Service(settings, control).run()
            if not control.reload:
                return
            control.reload = False
            control.stop.clear()
            try:
                settings = reload_settings()
                logger.info("reloaded: the configuration as it is now is in force")
            except ConfigError as exc:
                logger.error(f"reload refused: {exc}; the configuration in force goes on")
