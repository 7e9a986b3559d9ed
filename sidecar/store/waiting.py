"""<state_dir>/waiting.json: what the running service waits for (a full disk, a folder it cannot list), for
`sidecar status`. Written by the service while it waits and removed when it no longer does."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypedDict

from loguru import logger

from .atomic import atomic_write

WAITING_FILE = "waiting.json"


class Waiting(TypedDict):
    """One fault the service waits on."""

    reason: str  # what it waits for, as the log says it
    since: str  # local time it began, ISO 8601 to the second


class WaitingFile(TypedDict):
    """The whole of waiting.json."""

    pid: int  # the service's process: a file whose process is gone is ignored
    waiting: list[Waiting]


def write_waiting(state_dir: Path, faults: list[Waiting]) -> None:
    """Write <state_dir>/waiting.json, or remove it when faults is empty. Best effort: an OSError (a full disk)
    is logged at DEBUG and not raised (the log and `systemctl status` still say what the service waits for)."""
    path = state_dir / WAITING_FILE
    try:
        if faults:
            content: WaitingFile = {"pid": os.getpid(), "waiting": faults}
            atomic_write(path, json.dumps(content).encode(), durable=False)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        logger.debug(f"cannot write {path}: {exc.strerror or exc}")


def read_waiting(state_dir: Path) -> list[Waiting]:
    """What the service that wrote <state_dir>/waiting.json waits for; nothing when that process is gone or
    the file is missing or unreadable. Raises nothing. An entry without a text reason and since is skipped."""
    try:
        data: Any = json.loads((state_dir / WAITING_FILE).read_text())
        os.kill(int(data["pid"]), 0)
    except ProcessLookupError:
        return []  # left by a service that was killed while it waited
    except PermissionError:
        pass  # the service's process, run by another user
    except (OSError, ValueError, KeyError, TypeError):
        return []
    waiting = data.get("waiting") if isinstance(data, dict) else None
    if not isinstance(waiting, list):
        return []
    return [{"reason": w["reason"], "since": w["since"]} for w in waiting
            if isinstance(w, dict) and isinstance(w.get("reason"), str) and isinstance(w.get("since"), str)]
