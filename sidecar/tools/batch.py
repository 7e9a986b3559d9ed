"""`sidecar batch DIR --output FILE`: the whole batch LSI file of a folder in one go, like the pipeline's
`generate_lsi_csv.py --batch`, with the sidecar's conversion: one row per book, ordered by file name."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from ..errors import BookError
from ..rows.book import book_to_row
from ..rows.columns import encode_header
from ..settings import Folder, Settings
from ..store.atomic import atomic_write
from ..store.sources import read_source, scan


def write_batch(settings: Settings, folder: Folder, output: Path) -> tuple[int, int]:
    """Write the batch file atomically; returns (rows, rejected)."""
    profile = settings.profile_for(folder)
    chunks = [encode_header(settings.dialect)]
    seen: dict[str, Path] = {}
    rejected = 0
    for path in scan(folder.path, settings.ignore):
        try:
            made = book_to_row(read_source(path, settings.max_bytes).data, profile, settings.strict, settings.dialect)
            conversion = made.conversion
            if conversion.isbn in seen:
                raise BookError(f"ISBN {conversion.isbn} is already in the batch from {seen[conversion.isbn]}; "
                                "two files describe the same book: remove or correct one of them")
        except (BookError, FileNotFoundError) as exc:
            rejected += 1
            logger.warning(f"rejected {path}: {exc}")
            continue
        if conversion.isbn:
            seen[conversion.isbn] = path
        chunks.append(made.record)
    atomic_write(output, b"".join(chunks), durable=False)
    return len(chunks) - 1, rejected
