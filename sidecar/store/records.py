"""The ledger's records: a checkpoint, a row of one, a source file rejected. Their fields are named for the
columns of the ledger's tables (schema.py); ledger.py selects those columns in field order to build them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CheckpointRecord:
    id: int
    imprint: str
    path: Path
    header_len: int
    pending_rewrite: str | None
    created_ns: int
    closed_ns: int | None = None
    finalized_ns: int | None = None

    @property
    def state(self) -> str:
        """open (books go to it), rotated (closed, a newer one follows) or finalized (closed, with a manifest)."""
        return "open" if self.closed_ns is None else "finalized" if self.finalized_ns else "rotated"


@dataclass(frozen=True)
class RowRecord:
    checkpoint_id: int
    offset: int
    length: int
    source: str
    sha256: str
    stat: str
    checked_ns: int
    isbn: str
    title: str
    appended_ns: int
    row_sha256: str | None  # None for rows recorded before the ledger kept it
    lsi_errors: str | None = None  # the row's problems (lsi_rules.encode_problems); None in older ledgers
    digest: str | None = None  # of the settings it was converted under; None for rows recorded before it was kept
    stale: str | None = None  # why it could not be converted under the settings in force (its source is gone...)

    @property
    def end(self) -> int:
        """The offset just past the row's bytes in its checkpoint."""
        return self.offset + self.length


@dataclass(frozen=True)
class Rejection:
    source: str
    sha256: str
    stat: str
    checked_ns: int
    reason: str
    digest: str | None = None  # of the settings it was rejected under
