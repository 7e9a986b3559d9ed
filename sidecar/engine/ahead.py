"""Books read and converted ahead of a catch-up pass, in worker processes: one per CPU the pass may use.

Only the pure part of ingesting runs in a worker: read the file (bounded, never through a link, hashed)
and book_to_row(). Whatever decides or records (the ledger, the checkpoint, the log) stays in the one
process that holds the locks, in the pass's order, so exactly-once does not rest on the workers. A result
is used only when the file's stat is still the one the worker read; a file a worker could not read, a
result that is not ready, or a worker that died is read again by the pass itself.

Workers are forked when a pass has at least READ_AHEAD_MIN files, this process may run on more than one
CPU (its affinity: systemd's CPUAffinity=, taskset) and it has no other thread to fork beside (sidecar
--once; the service's watcher runs threads, so the service converts alone). Forked, they share the
profiles already built. Each closes its copies of the folder locks, ignores Ctrl-C (the pass stops them),
ends on SIGTERM (how the pool stops the others when one dies) and dies with the pass (PR_SET_PDEATHSIG),
so a killed sidecar leaves no worker holding anything.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from loguru import logger

from ..errors import BookError
from ..rows.book import BookRow, book_to_row
from ..rows.columns import Dialect
from ..rows.profile import Profile
from ..store.sources import read_source

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from ..settings import Folder
    from .ingest import Ingestor

READ_AHEAD_MIN = 64  # files in a pass before workers are worth their start (a fork each, ~10 ms)
CHUNK = 32  # files a worker reads and converts per task
DEPTH = 2  # tasks in flight per worker
MAX_WORKERS = 4
PR_SET_PDEATHSIG = 1  # prctl(2)


@dataclass(frozen=True)
class Ready:
    """A file as a worker read and converted it: its version, and its row or why it cannot be one."""

    checked_ns: int  # the wall clock (ns since the epoch) just before the worker read it
    stat: str  # the version read (stat_key)
    sha256: str  # of the bytes read
    made: BookRow | BookError  # a row's conversion comes without its cells (row is ()): the record has them

    def row(self) -> BookRow:
        """The converted row; raises the BookError the worker's conversion raised."""
        if isinstance(self.made, BookError):
            raise self.made
        return self.made


def workers_for(files: int) -> int:
    """How many workers a pass of this many files gets: 0 (the pass converts alone) or the CPUs this
    process may use, at most MAX_WORKERS."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if files < READ_AHEAD_MIN or cpus < 2 or threading.active_count() > 1 or not hasattr(os, "fork"):
        return 0
    return min(cpus, MAX_WORKERS)


class ReadAhead:
    """Keeps up to DEPTH tasks a worker in flight ahead of the pass; take(i) gives item i's result.

    items: the pass's (folder, path) in its order. A file goes to a worker when the pass will read it (the
    ledger does not know it, or Ingestor.wanted()), as judged when its task is sent; the pass judges
    again when it gets there.
    """

    def __init__(self, ingestor: Ingestor, items: Sequence[tuple[Folder, Path]], workers: int) -> None:
        self.items, self.ingestor, self.workers = items, ingestor, workers
        self.sent = 0  # items looked at so far, in CHUNK-sized tasks
        self.tasks: deque[tuple[int, Future[list[Ready | None]] | None, list[Path]]] = deque()  # (first item, …)
        self.ready: dict[Path, Ready | None] = {}
        self.pool: ProcessPoolExecutor | None = None
        self.broken = workers == 0

    def take(self, index: int) -> Ready | None:
        """Item index's result when a worker has it; None when the pass is to read the file itself."""
        if self.broken:
            return None
        self._send(until=index + CHUNK * DEPTH * self.workers)
        while self.tasks and self.tasks[0][0] <= index:
            _, future, paths = self.tasks.popleft()
            if future is not None:
                self._collect(future, paths)
        return self.ready.pop(self.items[index][1], None) if not self.broken else None

    def _send(self, until: int) -> None:
        while self.sent < min(until, len(self.items)) and not self.broken:
            start, self.sent = self.sent, min(self.sent + CHUNK, len(self.items))
            known = self.ingestor.ledger.known([str(path) for _, path in self.items[start:self.sent]])
            chunk = [(folder, path) for folder, path in self.items[start:self.sent]
                     if str(path) not in known or self.ingestor.wanted(path, folder)]
            try:
                future = self._pool().submit(_prepare, [(p, f.imprint) for f, p in chunk]) if chunk else None
            except Exception as exc:  # noqa: BLE001 - see _collect()
                self._broke(exc)
                return
            self.tasks.append((start, future, [path for _, path in chunk]))

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            import multiprocessing  # only for a pass with workers: the import costs a small --once more than they save
            from concurrent.futures import ProcessPoolExecutor

            gc.freeze()  # the profiles and code tables live as long as the pass: no collection walks them again

            locks = [lock.fd for lock in self.ingestor.locks]
            s = self.ingestor.settings
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                            initializer=_start_worker,
                                            initargs=(os.getpid(), locks, self.ingestor.profiles, s.max_bytes,
                                                      s.strict, s.dialect))
            logger.info(f"{self.workers} worker processes read and convert the pass's {len(self.items)} files ahead")
        return self.pool

    def _collect(self, future: Future[list[Ready | None]], paths: list[Path]) -> None:
        try:
            self.ready.update(zip(paths, future.result()))
        except Exception as exc:  # noqa: BLE001 - a worker that died (killed, out of memory): the pass reads alone
            self._broke(exc)

    def _broke(self, exc: Exception) -> None:
        self.broken = True
        logger.warning(f"the worker processes stopped ({type(exc).__name__}: {exc}); "
                       "the pass goes on reading the files itself")

    def close(self) -> None:
        """Stop the workers: tasks not started are cancelled, running ones (a CHUNK of files) end first."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
            gc.unfreeze()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WORKER: tuple[dict[str, Profile], int, bool, Dialect] | None = None


def _start_worker(parent: int, locks: list[int], profiles: dict[str, Profile], max_bytes: int, strict: bool,
                  dialect: Dialect) -> None:
    global _WORKER
    _WORKER = (profiles, max_bytes, strict, dialect)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the pass's handler: the pool stops a worker with SIGTERM
    for fd in locks:  # the flocks stay with the pass: a worker left behind must not hold them
        os.close(fd)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the worker ends when its task queue closes
    if os.getppid() != parent:  # the pass died before the line above
        os._exit(1)


def _prepare(files: list[tuple[Path, str]]) -> list[Ready | None]:
    """In a worker: each file read and converted, or None where the pass is to read it itself (it could not
    be read: the pass reports why)."""
    assert _WORKER is not None
    profiles, max_bytes, strict, dialect = _WORKER
    done: list[Ready | None] = []
    for path, imprint in files:
        checked_ns = time.time_ns()
        try:
            src = read_source(path, max_bytes)
        except (BookError, OSError):
            done.append(None)
            continue
        made: BookRow | BookError
        try:
            row = book_to_row(src.data, profiles[imprint], strict, dialect)
            made = replace(row, conversion=replace(row.conversion, row=()))  # the pass needs the record only
        except BookError as exc:
            made = exc
        done.append(Ready(checked_ns, src.stat, src.sha256, made))
    return done
