"""`sidecar status`, `recover` and `list`: what the checkpoints hold and what is still missing.

Read-only, safe beside the running service.
"""

from __future__ import annotations

import csv
import hashlib
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, FolderError, InputError
from ..inputs import BAD_NAME, is_utf8_name, read_regular_file, shown
from ..rows.columns import IMPRINT, KEY, TITLE
from ..rows.lsi_rules import what_fixes
from ..settings import Settings
from ..store.checkpoint import first_changed_row
from ..store.ledger import CheckpointRecord, Ledger, Rejection
from ..store.names import imprint_of, is_export_of, looks_like_checkpoint
from ..store.sources import scan, stat_source
from ..store.waiting import read_waiting
from .preflight import file_readiness, format_file_readiness, preflight_with

VANISHED_LISTED = 100  # status and recover list this many rows whose source is gone, and count the rest


def collect_status(settings: Settings, with_done: bool = False) -> dict[str, Any]:
    """Per imprint: the checkpoint, and which source files are rejected or waiting. with_done adds the
    (ISBN, title) of every book in a checkpoint with its current content: what a restarted batch can skip."""
    with Ledger.read_only(settings.state_dir) as ledger:
        rejections = {r.source: r for r in ledger.rejections()}
        imprints: dict[str, Any] = {}
        for folder in settings.folders:
            entry = imprints.setdefault(folder.imprint, {"folders": [], "rejected": [], "waiting": [],
                                                         "vanished": [], "vanished_count": 0, "stale": [],
                                                         "stale_count": 0,
                                                         **({"done": []} if with_done else {})})
            entry["folders"].append(str(folder.path))
            checkpoint = ledger.current_checkpoint(folder.imprint)
            if checkpoint is not None and "checkpoint" not in entry:
                entry.update(_checkpoint_state(ledger, checkpoint))
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


def _vanished(ledger: Ledger, checkpoint: CheckpointRecord) -> tuple[list[dict[str, str]], int]:
    """Rows whose source file is gone: the first VANISHED_LISTED of them, and how many there are."""
    listed: list[dict[str, str]] = []
    count = 0
    for row in ledger.rows(checkpoint.id):
        if not os.path.lexists(row.source):
            count += 1
            if len(listed) < VANISHED_LISTED:
                listed.append({"source": shown(row.source), "isbn": row.isbn, KEY[TITLE]: row.title})
    return listed, count


def _stale(ledger: Ledger, checkpoint: CheckpointRecord) -> tuple[list[dict[str, str]], int]:
    """Rows kept as converted under other settings (their source is gone or rejected), with the reason."""
    rows = ledger.stale_rows(checkpoint.id)
    return [{"source": shown(r.source), "isbn": r.isbn, KEY[TITLE]: r.title, "reason": r.stale or ""}
            for r in rows[:VANISHED_LISTED]], len(rows)


def _classify(path: Path, ledger: Ledger, rejection: Rejection | None, entry: dict[str, Any], max_bytes: int,
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
        entry["done"].append((row.isbn, row.title))


def _checkpoint_state(ledger: Ledger, checkpoint: CheckpointRecord) -> dict[str, Any]:
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
    return {
        "checkpoint": str(path),
        "rows": rows,
        "not_lsi_ready": not_ready,
        "top_reasons": [{"rule": p.rule, "reason": f"{p.column}: {p.message}", "rows": n, "fix": what_fixes(p)}
                        for p, n in reasons.most_common(3)],
        "last_append": datetime.fromtimestamp(last / 1e9).isoformat(timespec="seconds") if last else None,
        "ledger_and_csv": agreement,
    }


def _content_is(path: Path, stat: str, sha256: str, max_bytes: int) -> bool:
    """The file still holds the content recorded; read with the books' guards (a FIFO never blocks this)."""
    try:
        if stat_source(path) == stat:
            return True
        data, _ = read_regular_file(path, max_bytes, "books.max_bytes", follow_symlinks=False)
    except (OSError, InputError, FolderError):
        return False
    return hashlib.sha256(data).hexdigest() == sha256


def format_status(status: dict[str, Any]) -> str:
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


def list_checkpoints(settings: Settings) -> list[dict[str, Any]]:
    """Every checkpoint in the checkpoint folder, newest first, with what the ledger knows of it."""
    known: dict[str, dict[str, Any]] = {}
    try:
        ledger = Ledger.read_only(settings.state_dir)
    except CheckpointError:
        ledger = None  # no ledger yet: every file is "not in the ledger"
    if ledger is not None:
        with ledger:
            for record in ledger.checkpoints():
                known[str(record.path)] = {KEY[IMPRINT]: record.imprint, "rows": ledger.row_count(record.id),
                                           "created_ns": record.created_ns, "state": record.state}
    imprints = {e[KEY[IMPRINT]] for e in known.values()} | {f.imprint for f in settings.folders}
    entries = []
    for path in _unknown_checkpoints(settings.checkpoint_dir, set(known), imprints):
        known[str(path)] = {KEY[IMPRINT]: imprint_of(path, imprints), "rows": None, "state": "not in the ledger",
                            "created_ns": path.stat().st_mtime_ns}
    for name, entry in known.items():
        path = Path(name)
        if path.parent == settings.checkpoint_dir and path.exists():
            entries.append({"checkpoint": name, "size": path.stat().st_size, **entry})
    entries.sort(key=lambda e: (e["created_ns"], e["checkpoint"]), reverse=True)
    for e in entries:
        e["created"] = datetime.fromtimestamp(e.pop("created_ns") / 1e9).isoformat(timespec="seconds")
    return entries


def _unknown_checkpoints(folder: Path, known: set[str], imprints: set[str]) -> list[Path]:
    """Files of folder named as checkpoints that the ledger does not know: of a known imprint, or of an
    unknown one when they are not named as an export of another such file."""
    candidates = [p for p in folder.glob("*") if looks_like_checkpoint(p) and str(p) not in known] \
        if folder.is_dir() else []
    others = [*candidates, *(Path(k) for k in known)]
    return [p for p in candidates if imprint_of(p, imprints) is not None
            or not any(is_export_of(p, other) for other in others if other != p)]


def format_list(entries: list[dict[str, Any]]) -> str:
    lines = [f"{'checkpoint':60} {KEY[IMPRINT]:16} {'rows':>6} {'size':>10}  state"]
    for e in entries:
        rows = "?" if e["rows"] is None else str(e["rows"])
        imprint = e[KEY[IMPRINT]] or "?"
        lines.append(f"{Path(e['checkpoint']).name:60} {imprint:16} {rows:>6} {e['size']:>10,}  {e['state']}")
    return "\n".join(lines)


def write_resume_list(status: dict[str, Any], path: Path) -> int:
    """ISBN,Title of every book already done, for a restarted batch to skip; returns how many."""
    done = [book for entry in status["imprints"].values() for book in entry["done"]]
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["ISBN", TITLE])
        writer.writerows(done)
    return len(done)


def recovery(status: dict[str, Any]) -> dict[str, Any]:
    """Status narrowed to what a person needs after a crash: per imprint, what is waiting or rejected."""
    return {imprint: {"waiting": e["waiting"], "rejected": e["rejected"], "vanished": e["vanished"],
                      "vanished_count": e["vanished_count"], "stale": e["stale"], "stale_count": e["stale_count"]}
            for imprint, e in status["imprints"].items()}


def format_recovery(recovered: dict[str, Any]) -> str:
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
