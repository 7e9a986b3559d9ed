"""Filesystem events as hints: a path worth looking at is queued for the worker, nothing more.

Events are never the source of truth (readiness.py says what each kind means). Periodic and overflow
rescans, checked against the ledger, recover anything the events missed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from watchdog.events import EVENT_TYPE_DELETED, EVENT_TYPE_MOVED, FileSystemEvent, FileSystemEventHandler

from ..faults import fault_active
from ..settings import Folder
from ..store.sources import is_eligible
from .readiness import Readiness


@dataclass(frozen=True)
class Hint:
    path: Path
    folder: Folder
    unfinished: bool  # True: may still be being written; ingest when it parses or stops changing


class PathQueue:
    """Paths waiting for the worker, each at most once (repeated events coalesce), bounded."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._items: dict[Path, Hint] = {}
        self._cond = threading.Condition()
        self._rescan = False
        self.gone: set[Path] = set()  # watched folders whose watch reported them deleted

    def put(self, hint: Hint) -> None:
        with self._cond:
            queued = self._items.get(hint.path)
            if queued is not None:
                if queued.unfinished and not hint.unfinished:  # "finished now" beats "maybe unfinished"
                    self._items[hint.path] = hint
                return
            if len(self._items) >= self.limit:
                self._rescan = True  # dropped, and recovered by the rescan
            else:
                self._items[hint.path] = hint
            self._cond.notify()

    def request_rescan(self) -> None:
        with self._cond:
            self._rescan = True
            self._cond.notify()

    def folder_gone(self, path: Path) -> None:
        with self._cond:
            self.gone.add(path)

    def get(self, timeout: float) -> Hint | None:
        with self._cond:
            if not self._items and not self._rescan:
                self._cond.wait(timeout)
            if not self._items:
                return None
            path = next(iter(self._items))
            return self._items.pop(path)

    def take_rescan(self) -> bool:
        with self._cond:
            wanted, self._rescan = self._rescan, False
            return wanted

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class Hints(FileSystemEventHandler):
    """watchdog handler for one watched folder. It never raises: an exception here would kill the
    observer thread silently (watchdog #427), so every event is handled inside a catch-all."""

    def __init__(self, folder: Folder, queue: PathQueue, ignore: tuple[str, ...], readiness: Readiness,
                 markers: tuple[str, ...] = ()) -> None:
        self.folder, self.queue, self.ignore, self.readiness = folder, queue, ignore, readiness
        self.markers = markers  # batch start/done marker names, queued like books to keep their order

    def dispatch(self, event: FileSystemEvent) -> None:
        if fault_active("observer-dies"):
            raise RuntimeError("fault injected: the observer thread dies")
        try:
            self._hint(event)
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            logger.error(f"ignored a filesystem event that could not be handled ({event!r}): {exc!r}")

    def _hint(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if event.is_directory:
            if kind == EVENT_TYPE_DELETED and Path(str(event.src_path)) == self.folder.path:
                self.queue.folder_gone(self.folder.path)
            return
        unfinished = self.readiness.unfinished_after(kind)
        if unfinished is not None:
            self._offer(event.dest_path if kind == EVENT_TYPE_MOVED else event.src_path, unfinished)

    def _offer(self, path: bytes | str, unfinished: bool) -> None:
        if fault_active("drop-events"):  # tests: an event the kernel or watchdog lost
            return
        found = Path(str(path))
        if found.parent == self.folder.path and (found.name in self.markers or is_eligible(found.name, self.ignore)):
            self.queue.put(Hint(found, self.folder, unfinished))


class OverflowAlarm(logging.Handler):
    """watchdog reports a kernel queue overflow only in a log line; that line asks for a rescan."""

    def __init__(self, queue: PathQueue) -> None:
        super().__init__(level=logging.WARNING)
        self.queue = queue

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.queue.request_rescan()
