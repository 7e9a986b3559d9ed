"""<state_dir>/waiting.json: what the running service waits for (a full disk, a folder it cannot list), for
`sidecar status`. Written by the service while it waits and removed when it no longer does."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from loguru import logger

from .atomic import atomic_write

WAITING_FILE = "waiting.json"


def write_waiting(state_dir: Path, faults: list[dict[str, str]]) -> None:
    """Best effort: on a full disk it may not be written (the log and `systemctl status` still say it)."""
    path = state_dir / WAITING_FILE
    try:
        if faults:
            atomic_write(path, json.dumps({"pid": os.getpid(), "waiting": faults}).encode(), durable=False)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        logger.debug(f"cannot write {path}: {exc.strerror or exc}")


def read_waiting(state_dir: Path) -> list[dict[str, str]]:
    """What the service that wrote the file waits for; nothing when that process is gone."""
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
    return [w for w in waiting if isinstance(w, dict)] if isinstance(waiting, list) else []
