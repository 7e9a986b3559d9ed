"""The batch lifecycle's inputs: marker files the pipeline drops, and requests from `sidecar rotate|finalize`.

Both sides of the request format live here: write_request() (the CLI, when a service holds the lock)
and take_requests() (whoever holds the lock: the service once a second, or the next run at start).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from loguru import logger

from ..errors import FolderError, InputError
from ..inputs import read_regular_file, shown
from ..settings import Folder
from ..store.atomic import atomic_write
from ..store.sources import stat_source

if TYPE_CHECKING:
    from .ingest import Ingestor

ACTIONS = ("rotate", "finalize")
MARKER_MAX_BYTES = 4096  # a marker holds at most a batch id


class Request(TypedDict):
    """A request file's JSON."""

    action: str  # one of ACTIONS
    imprints: list[str]
    batch_id: str | None  # rotate's --batch-id


def requests_dir(state_dir: Path) -> Path:
    """<state_dir>/requests: where `sidecar rotate|finalize` leave requests for the process that holds the lock."""
    return state_dir / "requests"


def write_request(state_dir: Path, action: str, imprints: list[str], batch_id: str | None) -> Path:
    """Leave a request (<state_dir>/requests/<ns>-<pid>.json) for the running service; it deletes the file once
    the request is done. Raises OSError when the folder or the file cannot be written."""
    folder = requests_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    request = folder / f"{time.time_ns()}-{os.getpid()}.json"
    # The service reads only whole requests (*.json); the temp name does not match.
    content: Request = {"action": action, "imprints": imprints, "batch_id": batch_id}
    atomic_write(request, json.dumps(content).encode(), durable=False)
    return request


def take_requests(ingestor: Ingestor) -> None:
    """Carry out every request waiting, oldest first, then delete it. A malformed request is logged and deleted;
    the errors of rotate() and finalize() (CheckpointError, DiskFull, OSError) are raised, the request then
    left in place to be taken again."""
    for request in sorted(requests_dir(ingestor.settings.state_dir).glob("*.json")):
        try:
            wanted = json.loads(read_regular_file(request, MARKER_MAX_BYTES, "a request's size")[0])
            if wanted["action"] not in ACTIONS:
                raise ValueError(f"unknown action {wanted['action']!r}")
            for imprint in wanted["imprints"]:
                if wanted["action"] == "finalize":
                    ingestor.finalize(imprint)
                else:
                    ingestor.rotate(imprint, wanted.get("batch_id"))
        except (ValueError, KeyError, TypeError, InputError) as exc:
            logger.warning(f"ignored a malformed request {request}: {exc!r}")
        request.unlink(missing_ok=True)


def check_markers(ingestor: Ingestor) -> None:
    """Every watched folder's markers, as a catch-up finds them. Raises what check_marker() raises."""
    for folder in ingestor.settings.folders:
        for marker in (ingestor.settings.start_marker, ingestor.settings.done_marker):
            check_marker(ingestor, folder.path / marker, folder)


def check_marker(ingestor: Ingestor, path: Path, folder: Folder) -> None:
    """A batch marker the pipeline dropped: act on each new version of it (by its stat) once. The start marker's
    text, printable characters only and at most 200, is the new checkpoint's batch id. A marker that is no
    regular file or over MARKER_MAX_BYTES is logged and ignored. Raises what Ingestor.rotate() and finalize()
    raise (CheckpointError, DiskFull), and CheckpointError when the ledger cannot record the marker."""
    ledger = ingestor.ledger
    try:
        stat = stat_source(path)
        if ledger.marker_seen(str(path), stat):
            return
        data, _ = read_regular_file(path, MARKER_MAX_BYTES, "a marker's size", follow_symlinks=False)
    except (FileNotFoundError, FolderError):  # a folder that cannot be searched: its scan reports it
        return
    except InputError as exc:  # never followed, never read whole: a link to a secret, a FIFO, /dev/zero
        logger.warning(f"ignored the batch marker {shown(path)}: {exc}")
        ledger.record_marker(str(path), stat)
        return
    batch_id = "".join(c for c in data.decode("utf-8", "replace").strip() if c.isprintable())[:200]
    if path.name == ingestor.settings.start_marker:
        ingestor.rotate(folder.imprint, batch_id)
    elif path.name == ingestor.settings.done_marker:
        ingestor.finalize(folder.imprint)
    ledger.record_marker(str(path), stat)
