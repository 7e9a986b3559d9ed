"""`sidecar status`, `recover` and `list`: what the checkpoints hold and what is still missing.

Read-only, safe beside the running service.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, NotRequired, TypedDict

from ..errors import CheckpointError, FolderError, InputError
from ..inputs import BAD_NAME, is_utf8_name, read_regular_file, shown
from ..rows.columns import IMPRINT, KEY, TITLE
from ..rows.lsi_rules import what_fixes
from ..settings import Key, Settings
from ..store.checkpoint import first_changed_row
from ..store.ledger import CheckpointRecord, Ledger, Rejection
from ..store.names import imprint_of, is_export_of, looks_like_checkpoint
from ..store.preflight import FileReadiness, file_readiness, preflight_with
from ..store.sources import scan, stat_source
from ..store.waiting import Waiting, read_waiting
from .preflight import format_file_readiness

VANISHED_LISTED = 100  # status and recover list this many rows whose source is gone, and count the rest


class Rejected(TypedDict):
    source: str
    reason: str


class Vanished(TypedDict):
    source: str
    isbn: str
    title: str


class Stale(Vanished):
    reason: str


class TopReason(TypedDict):
    rule: str
    reason: str  # "<column>: <message>"
    rows: int
    fix: str


class Recovery(TypedDict):
    waiting: list[str]  # source files not in a checkpoint yet
    rejected: list[Rejected]
    vanished: list[Vanished]  # the first VANISHED_LISTED
    vanished_count: int
    stale: list[Stale]  # the first VANISHED_LISTED
    stale_count: int


class ImprintStatus(Recovery):
    """An imprint's entry of `sidecar status --json`, keys in this order; the checkpoint's keys only once
    there is one."""

    folders: list[str]
    done: NotRequired[list[tuple[str, str]]]  # (ISBN, title), with --resume-list
    checkpoint: NotRequired[str]
    rows: NotRequired[int]
    not_lsi_ready: NotRequired[int]
    top_reasons: NotRequired[list[TopReason]]
    last_append: NotRequired[str | None]  # local time, ISO 8601 to the second
    ledger_and_csv: NotRequired[str]  # "agree", or how the file and the ledger differ
    files: NotRequired[FileReadiness]  # file readiness (store/preflight.py), with a files folder set
    unreadable: NotRequired[list[str]]  # why a watched folder could not be listed


class Status(TypedDict):
    state_dir: str
    imprints: dict[str, ImprintStatus]
    service_waiting: list[Waiting]


@dataclass(frozen=True)
class ListEntry:
    """A checkpoint as `sidecar list` shows it; json() is its object in `sidecar list --json`."""

    checkpoint: str
    size: int  # bytes
    imprint: str | None  # None: named for an imprint no folder or ledger knows
    rows: int | None  # None: not in the ledger
    state: str  # open, rotated, finalized, or "not in the ledger"
    created: str  # local time, ISO 8601 to the second (the file's mtime when not in the ledger)

    def json(self) -> dict[str, object]:
        """The fields by name, in this order."""
        return dataclasses.asdict(self)


def collect_status(settings: Settings, with_done: bool = False) -> Status:
    """Per imprint: the checkpoint, and which source files are rejected or waiting. with_done adds the
    (ISBN, title) of every book in a checkpoint with its current content: what a restarted batch can skip."""
    with Ledger.read_only(settings.state_dir) as ledger:
        rejections = {r.source: r for r in ledger.rejections()}
        imprints: dict[str, ImprintStatus] = {}
        for folder in settings.folders:
            entry = imprints.setdefault(folder.imprint, {"folders": [], "rejected": [], "waiting": [],
                                                         "vanished": [], "vanished_count": 0, "stale": [],
                                                         "stale_count": 0})
            if with_done:
                entry.setdefault("done", [])
            entry["folders"].append(str(folder.path))
            checkpoint = ledger.current_checkpoint(folder.imprint)
            if checkpoint is not None and "checkpoint" not in entry:
                _add_checkpoint_state(entry, ledger, checkpoint)
                entry["vanished"], entry["vanished_count"] = _vanished(ledger, checkpoint)
                if settings.files is not None and checkpoint.path.exists():  # the PDFs as they are now
                    entry["files"] = file_readiness(preflight_with(settings, checkpoint.path))
                entry["stale"], entry["stale_count"] = _stale(ledger, checkpoint)
            try:
                found = scan(folder.path, settings.ignore)
            except FolderError as exc:
                entry.setdefault("unreadable", []).append(str(exc))
                continue
            for path in found:
                _classify(path, ledger, rejections.get(str(path)), entry, settings.max_bytes, with_done)
        return {"state_dir": str(settings.state_dir), "imprints": imprints,
                "service_waiting": read_waiting(settings.state_dir)}


def _vanished(ledger: Ledger, checkpoint: CheckpointRecord) -> tuple[list[Vanished], int]:
    """Rows whose source file is gone: the first VANISHED_LISTED of them, and how many there are."""
    listed: list[Vanished] = []
    count = 0
    for row in ledger.rows(checkpoint.id):
        if not os.path.lexists(row.source):
            count += 1
            if len(listed) < VANISHED_LISTED:
                listed.append(Vanished(source=shown(row.source), isbn=row.isbn, title=row.title))
    return listed, count


def _stale(ledger: Ledger, checkpoint: CheckpointRecord) -> tuple[list[Stale], int]:
    """Rows kept as converted under other settings (their source is gone or rejected), with the reason."""
    rows = ledger.stale_rows(checkpoint.id)
    return [Stale(source=shown(r.source), isbn=r.isbn, title=r.title, reason=r.stale or "")
            for r in rows[:VANISHED_LISTED]], len(rows)


def _classify(path: Path, ledger: Ledger, rejection: Rejection | None, entry: ImprintStatus, max_bytes: int,
              with_done: bool) -> None:
    """One source file: rejected (with the reason), waiting, or in the checkpoint with its current content."""
    if not is_utf8_name(path):
        entry["rejected"].append({"source": shown(path), "reason": BAD_NAME})
        return
    source = str(path)
    if rejection is not None and _content_is(path, rejection.stat, rejection.sha256, max_bytes):
        entry["rejected"].append({"source": shown(source), "reason": rejection.reason})
        return
    row = ledger.latest_row(source)
    if row is None or not _content_is(path, row.stat, row.sha256, max_bytes):
        entry["waiting"].append(shown(source))
    elif with_done:
        entry.setdefault("done", []).append((row.isbn, row.title))


def _add_checkpoint_state(entry: ImprintStatus, ledger: Ledger, checkpoint: CheckpointRecord) -> None:
    path: Path = checkpoint.path
    size = path.stat().st_size if path.exists() else None
    end = ledger.recorded_end(checkpoint)
    _, last = ledger.append_times(checkpoint.id)
    if size is None:
        agreement = "checkpoint file missing: a new one starts at the next run"
    elif checkpoint.pending_rewrite:
        agreement = "a row replacement is being finished"
    elif size < end:
        agreement = f"DISAGREE: the file is {size} bytes, the ledger records {end}"
    elif changed := first_changed_row(path, ledger.rows(checkpoint.id), checkpoint.header_len):
        agreement = f"DISAGREE: {changed} (edited by hand? the next start refuses it)"
    elif size == end:
        agreement = "agree"
    else:
        agreement = f"{size - end} bytes after the last recorded row (being written, or cut at the next start)"
    rows, not_ready, reasons = ledger.readiness(checkpoint.id)
    entry["checkpoint"] = str(path)
    entry["rows"] = rows
    entry["not_lsi_ready"] = not_ready
    entry["top_reasons"] = [{"rule": p.rule, "reason": f"{p.column}: {p.message}", "rows": n, "fix": what_fixes(p)}
                            for p, n in reasons.most_common(3)]
    entry["last_append"] = datetime.fromtimestamp(last / 1e9).isoformat(timespec="seconds") if last else None
    entry["ledger_and_csv"] = agreement


def _content_is(path: Path, stat: str, sha256: str, max_bytes: int) -> bool:
    """The file still holds the content recorded; read with the books' guards (a FIFO never blocks this)."""
    try:
        if stat_source(path) == stat:
            return True
        data, _ = read_regular_file(path, max_bytes, Key.BOOKS_MAX_BYTES, follow_symlinks=False)
    except (OSError, InputError, FolderError):
        return False
    return hashlib.sha256(data).hexdigest() == sha256


def format_status(status: Status) -> str:
    lines = [f"the service waits (since {w.get('since', '?')}): {w.get('reason', '?')}"
             for w in status.get("service_waiting", [])]
    for imprint, entry in status["imprints"].items():
        lines.append(f"imprint {imprint}")
        lines.append(f"  folders     {', '.join(entry['folders'])}")
        lines.extend(f"    {message}" for message in entry.get("unreadable", []))
        if "checkpoint" in entry:
            lines.append(f"  checkpoint  {entry['checkpoint']}")
            lines.append(f"  rows        {entry['rows']}" + (f" (last appended {entry['last_append']})"
                                                             if entry["last_append"] else ""))
            lines.append(f"  ledger/CSV  {entry['ledger_and_csv']}")
            lines.append(f"  LSI-ready   {entry['rows'] - entry['not_lsi_ready']} of {entry['rows']}")
            lines.extend(f"    not ready: {r['reason']} ({r['rows']} rows; fix: {r['fix']})"
                         for r in entry["top_reasons"])
            lines.extend(format_file_readiness(entry["files"]) if "files" in entry else [])
        else:
            lines.append("  checkpoint  none yet")
        lines.append(f"  rejected    {len(entry['rejected'])}")
        lines.extend(f"    {r['source']}: {r['reason']}" for r in entry["rejected"])
        lines.append(f"  waiting     {len(entry['waiting'])}")
        lines.extend(f"    {source}" for source in entry["waiting"])
        if entry["vanished"]:
            lines.append(f"  vanished    {entry['vanished_count']} (in the checkpoint, but the source file is gone)")
            lines.extend(f"    {v['source']} (ISBN {v['isbn'] or '-'})" for v in entry["vanished"])
            if entry["vanished_count"] > len(entry["vanished"]):
                lines.append(f"    ... and {entry['vanished_count'] - len(entry['vanished'])} more")
        if entry["stale"]:
            lines.append(f"  stale       {entry['stale_count']} (not converted under the settings in force)")
            lines.extend(f"    {v['source']} (ISBN {v['isbn'] or '-'}): {v['reason']}" for v in entry["stale"])
            if entry["stale_count"] > len(entry["stale"]):
                lines.append(f"    ... and {entry['stale_count'] - len(entry['stale'])} more")
    return "\n".join(lines)


class _Known(NamedTuple):
    imprint: str | None
    rows: int | None
    created_ns: int
    state: str


def list_checkpoints(settings: Settings) -> list[ListEntry]:
    """Every checkpoint in the checkpoint folder, newest first, with what the ledger knows of it."""
    known: dict[str, _Known] = {}
    try:
        ledger = Ledger.read_only(settings.state_dir)
    except CheckpointError:
        ledger = None  # no ledger yet: every file is "not in the ledger"
    if ledger is not None:
        with ledger:
            for record in ledger.checkpoints():
                known[str(record.path)] = _Known(record.imprint, ledger.row_count(record.id), record.created_ns,
                                                 record.state)
    imprints = {k.imprint for k in known.values() if k.imprint is not None} | {f.imprint for f in settings.folders}
    for path in _unknown_checkpoints(settings.checkpoint_dir, set(known), imprints):
        known[str(path)] = _Known(imprint_of(path, imprints), None, path.stat().st_mtime_ns, "not in the ledger")
    present = [(k.created_ns, name, Path(name).stat().st_size, k) for name, k in known.items()
               if Path(name).parent == settings.checkpoint_dir and Path(name).exists()]
    return [ListEntry(checkpoint=name, size=size, imprint=k.imprint, rows=k.rows, state=k.state,
                      created=datetime.fromtimestamp(ns / 1e9).isoformat(timespec="seconds"))
            for ns, name, size, k in sorted(present, key=lambda p: (p[0], p[1]), reverse=True)]


def _unknown_checkpoints(folder: Path, known: set[str], imprints: set[str]) -> list[Path]:
    """Files of folder named as checkpoints that the ledger does not know: of a known imprint, or of an
    unknown one when they are not named as an export of another such file."""
    candidates = [p for p in folder.glob("*") if looks_like_checkpoint(p) and str(p) not in known] \
        if folder.is_dir() else []
    others = [*candidates, *(Path(k) for k in known)]
    return [p for p in candidates if imprint_of(p, imprints) is not None
            or not any(is_export_of(p, other) for other in others if other != p)]


def format_list(entries: list[ListEntry]) -> str:
    lines = [f"{'checkpoint':60} {KEY[IMPRINT]:16} {'rows':>6} {'size':>10}  state"]
    for e in entries:
        rows = "?" if e.rows is None else str(e.rows)
        lines.append(f"{Path(e.checkpoint).name:60} {e.imprint or '?':16} {rows:>6} {e.size:>10,}  {e.state}")
    return "\n".join(lines)


def write_resume_list(status: Status, path: Path) -> int:
    """ISBN,Title of every book already done, for a restarted batch to skip; returns how many."""
    done = [book for entry in status["imprints"].values() for book in entry.get("done", [])]
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["ISBN", TITLE])
        writer.writerows(done)
    return len(done)


def recovery(status: Status) -> dict[str, Recovery]:
    """Status narrowed to what a person needs after a crash: per imprint, what is waiting or rejected."""
    return {imprint: {"waiting": e["waiting"], "rejected": e["rejected"], "vanished": e["vanished"],
                      "vanished_count": e["vanished_count"], "stale": e["stale"], "stale_count": e["stale_count"]}
            for imprint, e in status["imprints"].items()}


def format_recovery(recovered: dict[str, Recovery]) -> str:
    lines = []
    for imprint, entry in recovered.items():
        lines.append(f"imprint {imprint}: {len(entry['waiting'])} not in a checkpoint yet, "
                     f"{len(entry['rejected'])} rejected")
        lines += [f"  waiting   {s}" for s in entry["waiting"]]
        lines += [f"  rejected  {r['source']}: {r['reason']}" for r in entry["rejected"]]
        lines += [f"  vanished  {v['source']} (ISBN {v['isbn'] or '-'}): in the checkpoint, its file is gone"
                  for v in entry["vanished"]]
        if entry["vanished_count"] > len(entry["vanished"]):
            lines.append(f"  vanished  ... and {entry['vanished_count'] - len(entry['vanished'])} more")
        lines += [f"  stale     {v['source']} (ISBN {v['isbn'] or '-'}): {v['reason']}" for v in entry["stale"]]
        if entry["stale_count"] > len(entry["stale"]):
            lines.append(f"  stale     ... and {entry['stale_count'] - len(entry['stale'])} more")
    return "\n".join(lines)
