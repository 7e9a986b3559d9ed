"""What the service does with a fault that can pass: it says what it waits for, retries with back-off and
resumes by itself.

A full disk, a watched folder it cannot list, a configuration that does not load: each is logged at ERROR
once, and again only when its message changes; told to systemd (STATUS=); written to
<state_dir>/waiting.json for `sidecar status`; counted by the metrics. When it passes, one INFO line says so.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import AbstractSet

from loguru import logger

from ..store.waiting import write_waiting
from .notify import Notifier

BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0)  # then every 15 s for as long as the fault lasts


class Backoff:
    """The delays between retries of one fault: 1, 2, 4, 8, then 15 s; reset once it passes."""

    def __init__(self) -> None:
        self.tries = 0

    def next(self) -> float:
        delay = BACKOFF_SECONDS[min(self.tries, len(BACKOFF_SECONDS) - 1)]
        self.tries += 1
        return delay

    def reset(self) -> None:
        self.tries = 0


class Waits:
    """The faults the service waits for now, each under a key (a folder's path, 'config', 'run')."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.current: dict[str, str] = {}
        self.since: dict[str, str] = {}
        self.normal_status = "starting"
        self.state_dir: Path | None = None  # where waiting.json goes, once the settings are known
        self._told: str | None = None

    def set(self, key: str, message: str) -> None:
        """Wait for this fault: logged at ERROR when it is new or its message changed."""
        if self.current.get(key) == message:
            return
        self.current[key] = message
        self.since.setdefault(key, datetime.now().isoformat(timespec="seconds"))
        self._tell()  # first, so that whoever reads the log line finds the status already saying it
        logger.bind(reason=message).error(f"waiting: {message}; retrying until it passes")

    def clear(self, key: str) -> None:
        """The fault under key passed (or was never there)."""
        message = self.current.pop(key, None)
        self.since.pop(key, None)
        if message is not None:
            self._tell()
            logger.info(f"resumed: no longer waiting for: {message}")

    def keep_only(self, keys: AbstractSet[str], prefix: str) -> None:
        """Clear every fault whose key starts with prefix and is not in keys."""
        for key in [k for k in self.current if k.startswith(prefix) and k not in keys]:
            self.clear(key)

    def status(self) -> str:
        """STATUS= for systemd: what it waits for, else what it does."""
        if self.current:
            return "waiting: " + "; ".join(self.current.values())
        return self.normal_status

    def ready(self, normal_status: str) -> None:
        """READY=1 (again, harmlessly, after a wait), with the status when it changed."""
        self.normal_status = normal_status
        text = self.status()
        self.notifier.send("READY=1" + (f"\nSTATUS={text}" if text != self._told else ""))
        self._told = text

    def _tell(self) -> None:
        text = self.status()
        if text != self._told:
            self.notifier.send(f"STATUS={text}")
            self._told = text
        if self.state_dir is not None:
            write_waiting(self.state_dir, [{"reason": m, "since": self.since.get(k, "")}
                                           for k, m in self.current.items()])

