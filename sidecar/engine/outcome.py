"""What ingesting one source file came to: the words of the summary line, the totals and the metrics."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    APPENDED = "appended"  # a new row, made durable at the end of the checkpoint
    REPLACED = "replaced"  # the book's row, rewritten with the file's new content
    UNCHANGED = "unchanged"  # the checkpoint already holds the file's content
    REJECTED = "rejected"  # no row: the reason is logged and kept in the ledger
    VANISHED = "vanished"  # the file was gone before it could be read
    UNFINISHED = "unfinished"  # may still be being written: looked at again when it is closed or stops changing


SUMMED = (Outcome.APPENDED, Outcome.REPLACED, Outcome.UNCHANGED, Outcome.REJECTED)  # the summary line's counts
TOTALLED = (Outcome.APPENDED, Outcome.REPLACED, Outcome.REJECTED)  # counted since start, for the metrics
