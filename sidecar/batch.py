"""`sidecar batch DIR --output FILE`: the whole batch LSI file of a folder in one go, like the pipeline's
`generate_lsi_csv.py --batch`, with the sidecar's conversion: one row per book, ordered by file name."""

from __future__ import annotations

import os
from pathlib import Path

from loguru import logger

from .books import read_source, scan
from .columns import encode_header, encode_record
from .config import Folder, Settings
from .errors import BookError
from .ingest import build_row


def write_batch(settings: Settings, folder: Folder, output: Path) -> tuple[int, int]:
    """Write the batch file atomically; returns (rows, rejected)."""
    profile = settings.profile_for(folder)
    chunks = [encode_header(settings.dialect)]
    seen: dict[str, Path] = {}
    rejected = 0
    for path in scan(folder.path, settings.ignore):
        try:
            conversion, problems = build_row(read_source(path, settings.max_bytes).data, profile, settings.strict)
            if conversion.isbn in seen:
                raise BookError(f"ISBN {conversion.isbn} is already in the batch from {seen[conversion.isbn]}; "
                                "two files describe the same book: remove or correct one of them")
        except (BookError, FileNotFoundError) as exc:
            rejected += 1
            logger.warning(f"rejected {path}: {exc}")
            continue
        if conversion.isbn:
            seen[conversion.isbn] = path
        chunks.append(encode_record(conversion.row, settings.dialect))
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    tmp.write_bytes(b"".join(chunks))
    os.replace(tmp, output)
    return len(chunks) - 1, rejected
