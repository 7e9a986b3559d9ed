"""What ingesting one source file came to, and a pass: the words of the summary line, the totals and the metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ..rows.columns import Problem
from ..rows.lsi_rules import what_fixes
from ..settings import Folder


class Outcome(StrEnum):
    APPENDED = "appended"  # a new row, made durable at the end of the checkpoint
    REPLACED = "replaced"  # the book's row, rewritten with the file's new content
    UNCHANGED = "unchanged"  # the checkpoint already holds the file's content
    REJECTED = "rejected"  # no row: the reason is logged and kept in the ledger
    VANISHED = "vanished"  # the file was gone before it could be read
    UNFINISHED = "unfinished"  # may still be being written: looked at again when it is closed or stops changing


SUMMED = (Outcome.APPENDED, Outcome.REPLACED, Outcome.UNCHANGED, Outcome.REJECTED)  # the summary line's counts
TOTALLED = (Outcome.APPENDED, Outcome.REPLACED, Outcome.REJECTED)  # counted since start, for the metrics


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    checkpoints: list[Path] = field(default_factory=list)
    unfinished: list[tuple[Path, Folder]] = field(default_factory=list)  # may still be being written
    rows: int = 0  # in the current checkpoints
    not_ready: int = 0  # of those, rows LSI would refuse
    reasons: Counter[Problem] = field(default_factory=Counter)  # the errors of rows not LSI-ready
    stale: int = 0  # rows of the current checkpoints that could not be converted under the settings in force

    def line(self) -> str:
        """What --once prints: files appended, replaced, unchanged, rejected; rows not LSI-ready; the checkpoints."""
        parts = ", ".join(f"{self.counts[o]} {o}" for o in SUMMED)
        where = ", ".join(str(p) for p in self.checkpoints) or "none yet"
        stale = f", {self.stale} stale (see sidecar status)" if self.stale else ""
        return f"{parts}, {self.not_ready} not LSI-ready{stale}; checkpoint: {where}"

    def readiness(self) -> str:
        """Loud when rows are not LSI-ready: how many, the top reasons, and what fixes each."""
        top = "; ".join(f"{p.column}: {p.message} ({n} rows: {what_fixes(p)})"
                        for p, n in self.reasons.most_common(3))
        return f"{self.not_ready} of {self.rows} rows are not LSI-ready: {top}"
