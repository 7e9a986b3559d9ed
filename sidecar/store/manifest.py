"""The manifest written beside a finalized checkpoint: what it holds, and how it was made."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ..rows.lsi_rules import RULESET_VERSION
from ..settings import Settings
from .atomic import atomic_write
from .ledger import CheckpointRecord, Ledger
from .names import manifest_name


def manifest_path(checkpoint: Path) -> Path:
    return manifest_name(checkpoint)


def settings_digest(settings: Settings, imprint: str | None = None) -> str:
    """A fingerprint of everything that shapes an imprint's rows: rows made under the same digest were made
    alike; a changed digest means the configuration changed and the rows may differ."""
    p = settings.profiles.get(imprint, settings.profile) if imprint else settings.profile
    shaping = {
        "defaults": dict(sorted(p.defaults.items())), "blank": dict(sorted(p.blank.items())), "append": dict(p.append),
        "origins": dict(sorted(p.origins.items())), "trim_size": list(p.trim_size),
        "context": repr(p.context), "ranks": dict(sorted(p.ranks.items())),
        "notes": sorted(map(repr, p.notes.items())), "date_order": p.date_order,
        "subtitle_separator": p.subtitle_separator, "ruleset": RULESET_VERSION, "required_bisac": p.required_bisac, "exchange_rates": {k: str(v) for k, v in sorted(p.exchange_rates.items())},
        "price_ending": str(p.price_ending), "price_bands": [list(b) for b in p.price_bands],
        "books": {isbn: repr(b) for isbn, b in sorted(p.books.items())},
        "file_names": dict(p.file_names), "annotation_tags": list(p.annotation_tags),
        "pub_date_format": p.pub_date_format,
        "language_code_case": p.language_code_case,
        "acs_codes": p.codes is not None and hashlib.sha256(repr(p.codes).encode()).hexdigest(), "bom": settings.dialect.bom,
        "line_terminator": settings.dialect.line_terminator, "strict": settings.strict,
        "on_rewrite": settings.on_rewrite,
    }
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()


def _iso(ns: int | None) -> str | None:
    return datetime.fromtimestamp(ns / 1e9).isoformat(timespec="seconds") if ns else None


def write_manifest(ledger: Ledger, settings: Settings, record: CheckpointRecord) -> Path:
    first, last = ledger.append_times(record.id)
    with open(record.path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256")
        size = f.tell()
    manifest: dict[str, Any] = {
        "checkpoint": record.path.name,
        "imprint": record.imprint,
        "batch_id": ledger.batch_id(record.id),
        "books": ledger.row_count(record.id),
        "bytes": size,
        "sha256": digest.hexdigest(),
        "created": _iso(record.created_ns),
        "first_append": _iso(first),
        "last_append": _iso(last),
        "finalized": datetime.now().isoformat(timespec="seconds"),
        "source_folders": [str(f.path) for f in settings.folders if f.imprint == record.imprint],
        "pipeline_configs": str(settings.pipeline_configs) if settings.pipeline_configs else None,
        "lsi_config": str(settings.lsi_config) if settings.lsi_config else None,
        "tranche": str(settings.tranche) if settings.tranche else None,
        "settings_digest": settings_digest(settings, record.imprint),
    }
    path = manifest_path(record.path)
    atomic_write(path, (json.dumps(manifest, indent=2) + "\n").encode(), durable=True)
    return path


def write_missing_manifests(ledger: Ledger, settings: Settings) -> None:
    """A finalize interrupted between its ledger commit and its manifest is completed at the next start."""
    for record in ledger.finalized_checkpoints():
        if record.path.exists() and not manifest_path(record.path).exists():
            write_manifest(ledger, settings, record)
