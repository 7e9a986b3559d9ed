"""The long-running service: watch, catch up, then one writer thread ingests every hinted path.

Threads: watchdog's observer only queues hints (watch.py); the writer thread does every ingest through
the same Ingestor as `--once`; the main thread supervises. It pings systemd's watchdog only while the
observer and the writer are alive, and exits non-zero as soon as either dies, so that systemd restarts it.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from loguru import logger
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from .books import stat_source
from .config import Folder, Settings
from .errors import SidecarError
from .faults import fault_active
from .ingest import Ingestor
from .metrics import write_metrics
from .notify import Notifier
from .watch import Hint, Hints, OverflowAlarm, PathQueue

EXIT_OK = 0
EXIT_CHECKPOINT = 3  # the writer met a checkpoint or disk error (a failed fsync, a full disk...)
EXIT_SERVICE_FAILED = 4  # the observer or the writer thread died
SETTLE_SECONDS = 1.0  # a created file that does not parse yet is read again once it is this still


@dataclass
class _Watched:
    folder: Folder
    watch: ObservedWatch | None = None
    inode: int | None = None
    waiting: bool = False
    failed: bool = False


@dataclass
class _Settling:
    hint: Hint
    stat: str | None
    due: float


@dataclass
class Service:
    settings: Settings
    stop: threading.Event = field(default_factory=threading.Event)
    queue: PathQueue = field(default_factory=PathQueue)
    reload: bool = False
    writer_error: SidecarError | None = None
    settling: dict[Path, _Settling] = field(default_factory=dict)  # owned by the writer once it runs

    def run(self) -> int:
        notifier = Notifier()
        alarm = OverflowAlarm(self.queue)
        logging.getLogger("watchdog.observers").addHandler(alarm)
        observer: BaseObserver = PollingObserver(timeout=self.settings.poll_seconds) if self.settings.poll_seconds else Observer()
        try:
            with _signals(self), Ingestor(self.settings) as ingestor:
                self.ingestor = ingestor
                watched = [_Watched(f) for f in self.settings.folders]
                observer.start()
                self._watch_folders(observer, watched)  # before the catch-up, so nothing falls between
                summary = ingestor.catch_up(_catch_up_progress(notifier), stop=self.stop, tentative=True)
                self.queue.take_rescan()  # the catch-up was that rescan
                logger.info(f"caught up: {summary.line()}")
                self._settle_later(summary.pending)
                writer = threading.Thread(target=self._write, name="writer", daemon=True)
                writer.start()
                notifier.send(f"READY=1\nSTATUS=watching {len(watched)} folder(s)")
                code = self._supervise(observer, writer, watched, notifier)
                notifier.send("STOPPING=1")
                self.stop.set()
                writer.join(timeout=4)
                if writer.is_alive():
                    logger.error("the writer did not finish within 4 s")
                    code = code or EXIT_SERVICE_FAILED
        finally:
            if observer.is_alive():
                observer.stop()
                observer.join(timeout=2)
            logging.getLogger("watchdog.observers").removeHandler(alarm)
            notifier.close()
        if self.reload and code == EXIT_OK:
            logger.info("reloading: starting again with the configuration as it is now")
            Notifier().send("RELOADING=1")
            logger.complete()
            os.execv(sys.executable, [sys.executable, "-m", "sidecar", *sys.argv[1:]])
        return code

    # ------------------------------------------------------------------ main thread

    def _supervise(self, observer: BaseObserver, writer: threading.Thread, watched: list[_Watched],
                   notifier: Notifier) -> int:
        interval = notifier.watchdog_interval
        tick = min(1.0, interval) if interval else 1.0
        next_ping = 0.0
        while not self.stop.is_set():
            if self.writer_error is not None:
                return EXIT_CHECKPOINT
            if not writer.is_alive():
                logger.critical("the writer thread died; exiting so that the service is restarted")
                return EXIT_SERVICE_FAILED
            if not observer.is_alive():
                logger.critical("the filesystem observer thread died; exiting so that the service is restarted")
                return EXIT_SERVICE_FAILED
            self._watch_folders(observer, watched)
            if self.settings.metrics_file:
                write_metrics(self.settings.metrics_file, self.ingestor, len(self.queue))
            now = time.monotonic()
            if interval and now >= next_ping:
                notifier.send("WATCHDOG=1")
                next_ping = now + interval
            self.stop.wait(tick)
        return EXIT_OK

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
                handler = Hints(w.folder, self.queue, self.settings.ignore, polling=bool(poll),
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

    # ------------------------------------------------------------------ writer thread

    def _settle_later(self, pending: list[tuple[Path, Folder]]) -> None:
        """Files a rescan found half-written: look again once they stop changing."""
        due = time.monotonic() + (self.settings.poll_seconds or SETTLE_SECONDS)
        for path, folder in pending:
            self.settling.setdefault(path, _Settling(Hint(path, folder, settle=True), _stat(path), due))

    def _write(self) -> None:
        settle_after = self.settings.poll_seconds or SETTLE_SECONDS
        settling = self.settling
        next_rescan = time.monotonic() + self.settings.rescan_seconds
        next_requests = 0.0
        try:
            while not self.stop.is_set():
                # Sleep until the next thing due (a settling file, the rescan), at most a second.
                due = min([s.due for s in settling.values()] + [next_rescan, time.monotonic() + 1.0])
                hint = self.queue.get(timeout=max(0.01, due - time.monotonic()))
                if hint is not None:
                    self._take(hint, settling, settle_after)
                if hint is None or not len(self.queue):
                    self.ingestor.flush()  # idle: make everything durable now
                now = time.monotonic()
                for path, s in list(settling.items()):
                    if s.due <= now and not self.stop.is_set():
                        self._check_settled(path, s, settling, settle_after)
                if now >= next_requests:  # rotate/finalize asked for by the CLI: looked for once a second
                    self.ingestor.take_requests()
                    next_requests = now + 1.0
                if self.queue.take_rescan() or now >= next_rescan:
                    self._settle_later(self.ingestor.catch_up(stop=self.stop, tentative=True).pending)
                    next_rescan = time.monotonic() + self.settings.rescan_seconds
            self.ingestor.flush()
        except SidecarError as exc:
            self.writer_error = exc
            logger.error(f"stopping: {exc}")
        except Exception:
            logger.exception("the writer thread failed")
            raise

    def _take(self, hint: Hint, settling: dict[Path, _Settling], settle_after: float) -> None:
        if hint.path.name in (self.settings.start_marker, self.settings.done_marker):
            # In queue order, so books written before the marker go first. With inotify a marker's create
            # event comes before its content (a batch id): wait for its close.
            if not (hint.settle and not self.settings.poll_seconds):
                self.ingestor.check_marker(hint.path, hint.folder)
            return
        if not hint.settle:
            settling.pop(hint.path, None)
            self.ingestor.ingest(hint.path, hint.folder)
            return
        if not self.settings.poll_seconds and self.ingestor.ingest(hint.path, hint.folder, tentative=True) != "pending":
            settling.pop(hint.path, None)  # a file renamed in from elsewhere: complete, and now in
            return
        settling[hint.path] = _Settling(hint, _stat(hint.path), time.monotonic() + settle_after)

    def _check_settled(self, path: Path, s: _Settling, settling: dict[Path, _Settling], settle_after: float) -> None:
        now_stat = _stat(path)
        if now_stat is None or now_stat == s.stat:
            del settling[path]
            if now_stat is not None:
                self.ingestor.ingest(path, s.hint.folder)
        else:
            s.stat, s.due = now_stat, time.monotonic() + settle_after


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


class _signals:
    """SIGTERM/SIGINT: stop taking work and finish the row in hand. SIGHUP: the same, then start again
    with the configuration as it is now (a clean restart in place, same PID)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def __enter__(self) -> None:
        def stop(signum: int, frame: object) -> None:
            self.service.stop.set()

        def reload(signum: int, frame: object) -> None:
            self.service.reload = True
            self.service.stop.set()

        self.previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, reload)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
