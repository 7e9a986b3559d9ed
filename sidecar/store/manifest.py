"""The manifest written beside a finalized checkpoint: what it holds, and how it was made."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import TypedDict

from ..rows.digest import conversion_digest
from ..settings import Settings
from .atomic import atomic_write
from .ledger import CheckpointRecord, Ledger
from .names import manifest_name


class Manifest(TypedDict):
    """The manifest's JSON. Times are local, ISO 8601 to the second; None where the ledger has none."""

    checkpoint: str  # the checkpoint's file name
    imprint: str
    batch_id: str | None  # given with `sidecar rotate --batch-id`
    books: int  # rows in the checkpoint
    bytes: int  # the file's size when finalized
    sha256: str  # of the whole file, hex
    created: str | None
    first_append: str | None
    last_append: str | None
    finalized: str
    source_folders: list[str]  # the watched folders of the imprint
    pipeline_configs: str | None
    lsi_config: str | None
    tranche: str | None
    settings_digest: str  # of the settings in force when finalized (rows/digest.py)
    rows_by_settings_digest: dict[str, int]  # rows made under each digest, most first ('' for none recorded)


def manifest_path(checkpoint: Path) -> Path:
    """The manifest's path: the checkpoint's name + .manifest.json, beside it (store/names.py)."""
    return manifest_name(checkpoint)


def settings_digest(settings: Settings, imprint: str | None = None) -> str:
    """A fingerprint of everything that shapes an imprint's rows (rows/digest.py): rows made under the same
    digest were made alike; a row under another digest is converted again."""
    profile = settings.profiles.get(imprint) if imprint else None
    if profile is None:
        profile = dataclasses.replace(settings.profile, imprint=imprint) if imprint else settings.profile
    return conversion_digest(profile, settings.strict, settings.dialect)


def _iso(ns: int | None) -> str | None:
    return datetime.fromtimestamp(ns / 1e9).isoformat(timespec="seconds") if ns else None


def write_manifest(ledger: Ledger, settings: Settings, record: CheckpointRecord) -> Path:
    """Write a finalized checkpoint's manifest durably (atomic_write) and return its path; the counts and
    times come from the ledger, the size and sha256 from reading the file. Raises OSError when the checkpoint
    cannot be read or the manifest written."""
    first, last = ledger.append_times(record.id)
    with open(record.path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256")
        size = f.tell()
    manifest = Manifest(
        checkpoint=record.path.name,
        imprint=record.imprint,
        batch_id=ledger.batch_id(record.id),
        books=ledger.row_count(record.id),
        bytes=size,
        sha256=digest.hexdigest(),
        created=_iso(record.created_ns),
        first_append=_iso(first),
        last_append=_iso(last),
        finalized=datetime.now().isoformat(timespec="seconds"),
        source_folders=[str(f.path) for f in settings.folders if f.imprint == record.imprint],
        pipeline_configs=str(settings.pipeline_configs) if settings.pipeline_configs else None,
        lsi_config=str(settings.lsi_config) if settings.lsi_config else None,
        tranche=str(settings.tranche) if settings.tranche else None,
        settings_digest=settings_digest(settings, record.imprint),
        # A batch is closed as it is: the settings its rows were made under, with how many rows each.
        rows_by_settings_digest=ledger.digests(record.id),
    )
    path = manifest_path(record.path)
    atomic_write(path, (json.dumps(manifest, indent=2) + "\n").encode(), durable=True)
    return path


def write_missing_manifests(ledger: Ledger, settings: Settings) -> None:
    """A finalize interrupted between its ledger commit and its manifest is completed at the next start.
    Raises OSError as write_manifest() does."""
    for record in ledger.finalized_checkpoints():
        if record.path.exists() and not manifest_path(record.path).exists():
            write_manifest(ledger, settings, record)
