"""What the signals ask of the running service."""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass, field
from typing import Iterator


@dataclass
class Control:
    """What the signals ask of the service: SIGTERM/SIGINT stop it; SIGHUP stops it to start again with
    the configuration as it is now. Installed once for the life of the process, across reloads."""

    stop: threading.Event = field(default_factory=threading.Event)
    reload: bool = False
    terminated: bool = False  # SIGTERM/SIGINT: stop for good

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        def stop(signum: int, frame: object) -> None:
            self.terminated = True
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
