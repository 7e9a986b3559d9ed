"""The invariant every scenario must keep, checked from the outside (files and ledger), never from logs.

Always: each checkpoint's recorded rows parse with Python's csv module, have 119 cells each, hold no
duplicate ISBN or source, and agree byte for byte with the ledger (with the committed copy while a row
replacement sits between its ledger commit and its rename). After a clean run (complete): no bytes
after any checkpoint's last recorded row, every eligible source file's current content is in the
checkpoints exactly once, a malformed file is recorded as rejected, and no source file was modified.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
from pathlib import Path
from typing import Iterable, Mapping

from sidecar.rows.columns import COLUMNS, ISBN_OR_SKU, Dialect, encode_header
from sidecar.rows.isbn import identity
from sidecar.store.ledger import ledger_path

SIBLINGS = ("_lsi_metadata.json", "_with_mnemonics.json")
ISBN = COLUMNS.index(ISBN_OR_SKU)


class Breach(AssertionError):
    """An invariant does not hold."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise Breach(message)


def check_invariants(folder: Path, checkpoint_dir: Path, complete: bool = True, malformed: Iterable[str] = (),
                     originals: Mapping[str, str] | None = None, state_dir: Path | None = None) -> list[list[str]]:
    """Every checkpoint's recorded rows, oldest checkpoint first; raises Breach when an invariant fails."""
    path = ledger_path(state_dir or checkpoint_dir / "state")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True) if path.exists() else None
    # A kill while the very first start creates the ledger can leave it without its tables yet.
    if db is None or not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'checkpoints'").fetchone():
        _require(not complete or not _eligible(folder), "no ledger, yet there are books")
        return []
    try:
        checkpoints = db.execute("SELECT id, path, pending_rewrite FROM checkpoints ORDER BY id").fetchall()
        ledger = {cid: db.execute("SELECT offset, length, source, sha256, isbn FROM rows WHERE checkpoint_id = ? "
                                  "ORDER BY offset", (cid,)).fetchall() for cid, _, _ in checkpoints}
        rejected = dict(db.execute("SELECT source, sha256 FROM rejections").fetchall())
    finally:
        db.close()

    header = encode_header(Dialect())
    all_rows: list[list[str]] = []
    latest: dict[str, tuple[int, str]] = {}  # source -> (checkpoint id, sha) of its newest row
    for cid, path, pending in checkpoints:
        path = Path(path)
        if not path.exists():
            _require(not ledger[cid], f"{path} is gone but the ledger holds {len(ledger[cid])} rows for it")
            continue
        _require(not (complete and pending), f"{path}: a rewrite is still pending after a clean run")
        data = Path(pending).read_bytes() if pending and Path(pending).exists() else path.read_bytes()
        _require(data.startswith(header), f"{path} does not start with the ACS header")
        position = len(header)
        for offset, length, source, sha, isbn in ledger[cid]:
            _require(offset == position, f"{path}: ledger rows are not contiguous at byte {offset}")
            record = data[offset:offset + length]
            _require(record.endswith(b"\r\n"), f"{path}: the row of {source} at byte {offset} is not whole")
            cells = next(csv.reader(io.StringIO(record.decode(), newline="")))
            _require(identity(cells[ISBN]) == isbn, f"{path}: the row at byte {offset} is not ISBN {isbn}")
            position += length
            latest[source] = (cid, sha)
        rows = list(csv.reader(io.StringIO(data[:position].decode("utf-8-sig"), newline=""), strict=True))[1:]
        _require(len(rows) == len(ledger[cid]), f"{path}: {len(rows)} records for {len(ledger[cid])} ledger rows")
        _require(all(len(r) == len(COLUMNS) for r in rows), f"{path}: a record without 119 cells")
        isbns = [identity(r[ISBN]) for r in rows if r[ISBN]]  # one book: its ISBN-10 and ISBN-13 alike
        _require(len(isbns) == len(set(isbns)), f"{path}: duplicate ISBN")
        sources = [source for _, _, source, _, _ in ledger[cid]]
        _require(len(sources) == len(set(sources)), f"{path}: a source has two rows")
        if complete:
            _require(position == len(data), f"{path}: {len(data) - position} bytes after the last recorded row")
        all_rows.extend(rows)
    if not complete:
        return all_rows

    bad = set(malformed)
    for path in _eligible(folder):
        current = hashlib.sha256(path.read_bytes()).hexdigest()
        if str(path) in bad:
            _require(rejected.get(str(path)) == current, f"{path} is malformed but not recorded as rejected")
            continue
        _require(str(path) in latest, f"{path} is in no checkpoint")
        _require(latest[str(path)][1] == current, f"{path}: its newest row is not its current content")
    for path, sha in (originals or {}).items():
        _require(hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha, f"{path} was modified")
    return all_rows


def _eligible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith(".") and not p.name.endswith(SIBLINGS))
