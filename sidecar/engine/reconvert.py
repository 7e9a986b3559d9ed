"""Re-conversion after a settings change, and a book's identity across renames and swapped ISBNs.

Each row records the digest of the settings it was converted under (rows/digest.py). A catch-up converts
every file it finds whose row in the current checkpoint has another digest (ingest.py); finish_pass()
then takes the rows the scan could not reach: a source that is still there is converted, one that is
gone or now rejected keeps its row as it was, marked stale with the reason. Nothing else is remembered,
so a kill or a reload in the middle, or settings A then B then A, leave nothing to get wrong. A
rotation carries the pass: a finished batch is closed as it is and never converted again or copied.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from ..errors import BookError
from ..inputs import shown
from ..rows.book import book_to_row
from ..settings import Folder, Settings
from ..store.ledger import RowRecord
from ..store.sources import Source, is_eligible, read_source
from .outcome import Outcome

if TYPE_CHECKING:
    from .appender import CheckpointAppender
    from .ingest import Ingestor

GONE = "its source file is gone: the row stays as it was converted under other settings"
UNWATCHED = ("its source file is no longer in a watched folder (or its name is now ignored): the row stays as it "
             "was converted under other settings")


def announce_pass(ingestor: Ingestor) -> None:
    """Say at start which current checkpoints hold rows made under other settings."""
    for imprint, appender in ingestor.appenders.items():
        if not ingestor.ledger.count_other_digest(appender.record.id, ingestor.digests[imprint]):
            continue
        if ingestor.settings.on_rewrite == "replace":
            logger.info(f"the configuration for {imprint} changed: its books are converted again")
        else:
            logger.info(f"the configuration for {imprint} changed; with on_rewrite: {ingestor.settings.on_rewrite} "
                        "it applies to books written from now on")


def finish_pass(ingestor: Ingestor) -> int:
    """Convert every row of the current checkpoints still made under other settings after a scan; mark
    stale, with the reason, each one whose source is gone, unwatched or rejected, and clear the mark of a
    row that is current again. Returns the number of stale rows. Raises CheckpointError (DiskFull) when the
    checkpoint or the ledger cannot be written, FolderError when a source's folder can no longer be searched."""
    if ingestor.settings.on_rewrite != "replace":
        return 0
    stale = 0
    for imprint, appender in list(ingestor.appenders.items()):
        digest, reasons = ingestor.digests[imprint], {}
        for row in ingestor.ledger.rows_to_convert(appender.record.id, digest):
            if row.digest == digest:  # marked stale before, current again (settings A, B, then A)
                continue
            folder = folder_of(ingestor.settings, imprint, row.source)
            if not os.path.lexists(row.source):
                reasons[row.source] = GONE
            elif folder is None:
                reasons[row.source] = UNWATCHED
            elif ingestor.ingest(Path(row.source), folder) in (Outcome.REJECTED, Outcome.VANISHED, Outcome.UNFINISHED):
                rejection = ingestor.ledger.rejection(row.source)
                reasons[row.source] = (f"its source file is rejected under the settings in force ({rejection.reason}): "
                                       "the row stays as it was converted under other settings" if rejection else GONE)
        ingestor.flush()
        changes = []
        for row in ingestor.ledger.rows_to_convert(appender.record.id, digest):
            reason = None if row.digest == digest else reasons.get(row.source, GONE)
            stale += reason is not None
            if reason != row.stale:
                changes.append((row.source, reason))
                if reason:
                    logger.bind(source=shown(row.source), reason=reason).warning(
                        f"stale row in {appender.record.path.name}: ISBN {row.isbn or '-'} '{row.title}' from "
                        f"{shown(row.source)}: {reason}")
        if changes:
            ingestor.ledger.mark_stale(appender.record.id, changes)
    return stale


def folder_of(settings: Settings, imprint: str, source: str) -> Folder | None:
    """The watched folder of the imprint a source file lies in, if any and if its name is not ignored."""
    path = Path(source)
    if not is_eligible(path.name, settings.ignore):
        return None
    return next((f for f in settings.folders if f.imprint == imprint and f.path == path.parent), None)


def still_claims(ingestor: Ingestor, holder: str, isbn: str, folder: Folder) -> bool:
    """Whether the row the holder file has for this ISBN must stay its own: False only when its current
    content is read and gives another ISBN (two files swapped their ISBNs); True when it gives the same,
    is gone, or cannot be read as a book now."""
    row = ingestor.ledger.latest_row(holder)
    try:
        src: Source = read_source(Path(holder), ingestor.settings.max_bytes)
        if row is not None and row.sha256 == src.sha256:
            return True
        made = book_to_row(src.data, ingestor.profiles[folder.imprint], ingestor.settings.strict,
                           ingestor.settings.dialect)
    except (BookError, FileNotFoundError):
        return True
    return made.conversion.isbn == isbn


def renamed_row(ingestor: Ingestor, appender: CheckpointAppender, src: Source, title: str) -> RowRecord | None:
    """The row of a book without an ISBN whose file had another name: the old name is gone, and the row
    holds the same content, or the same title from the same inode (mv keeps it)."""
    inode = src.stat.split(":")[2]
    for row in ingestor.ledger.renamed_from(appender.record.id, src.sha256, title):
        if row.source == str(src.path) or row.source in appender.staged_sources or os.path.lexists(row.source):
            continue
        if row.sha256 == src.sha256 or row.stat.split(":")[2] == inode:
            return row
    return None
