"""`sidecar export`: a submission file from a checkpoint, shaped by a profile from config.yaml."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import CheckpointError, ConfigError, TableError
from ..rows.columns import (
    COLUMNS, CUSTOM_TRIM_HEIGHT_INCHES, CUSTOM_TRIM_WIDTH_INCHES, FLEX_FIELDS, LSI_SPECIAL_CATEGORY, PUB_DATE,
    RESERVED11, RESERVED12, RESERVED5, RESERVED6, RESERVED7, RESERVED8, RESERVED_1, RESERVED_2, RESERVED_3,
    RESERVED_4, RESERVED_SPECIAL_INSTRUCTIONS, STAMPED_TEXT_CENTER, STAMPED_TEXT_LEFT, STAMPED_TEXT_RIGHT,
    STREET_DATE, WEIGHT_LBS, Dialect, encode_header, encode_record,
)
from ..rows.values import format_date
from ..store.atomic import atomic_writer
from ..store.ledger import Ledger
from ..store.table import Table

# The 23 columns the publisher's real submission dropped: always blank for print-on-demand titles.
ALWAYS_BLANK = (
    RESERVED_1, RESERVED_2, RESERVED_3, RESERVED_4, CUSTOM_TRIM_WIDTH_INCHES,
    CUSTOM_TRIM_HEIGHT_INCHES, WEIGHT_LBS, RESERVED5, RESERVED6, RESERVED7, RESERVED8,
    RESERVED_SPECIAL_INSTRUCTIONS, LSI_SPECIAL_CATEGORY,
    STAMPED_TEXT_LEFT, STAMPED_TEXT_CENTER, STAMPED_TEXT_RIGHT,
    *FLEX_FIELDS, RESERVED11, RESERVED12,
)
BUILTIN_PROFILES: dict[str, dict[str, Any]] = {
    # The shape of the file the publisher actually uploaded: 96 columns, M/D/YY, no BOM, LF.
    "submission": {"drop_columns": list(ALWAYS_BLANK), "pub_date_format": "m/d/yy", "bom": False,
                   "line_terminator": "lf"},
    # Every column, as the checkpoint has it.
    "full": {},
}
PROFILE_KEYS = {"columns": list, "drop_columns": list, "pub_date_format": str, "bom": bool, "line_terminator": str}


@dataclass(frozen=True)
class ExportProfile:
    columns: tuple[str, ...]
    pub_date_format: str | None
    dialect: Dialect


def export_profile(name: str, configured: Mapping[str, Any]) -> ExportProfile:
    spec = {**BUILTIN_PROFILES, **configured}.get(name)
    if spec is None:
        known = ", ".join(sorted({**BUILTIN_PROFILES, **configured}))
        raise ConfigError(f"no export profile '{name}' (known: {known}; add one under 'exports:' in config.yaml)")
    for key, value in spec.items():
        if key not in PROFILE_KEYS or not isinstance(value, PROFILE_KEYS[key]):
            raise ConfigError(f"export profile '{name}': '{key}' is not one of {', '.join(PROFILE_KEYS)} "
                              "with the right type")
    columns = spec.get("columns") or list(COLUMNS)
    unknown = [c for c in [*columns, *spec.get("drop_columns", [])] if c not in COLUMNS]
    if unknown:
        raise ConfigError(f"export profile '{name}': '{unknown[0]}' is not an ACS column")
    kept = tuple(c for c in columns if c not in spec.get("drop_columns", []))
    return ExportProfile(kept, spec.get("pub_date_format"),
                         Dialect(bom=spec.get("bom", True),
                                 line_terminator="\n" if spec.get("line_terminator") == "lf" else "\r\n"))


def export_checkpoint(checkpoint: Path, profile: ExportProfile, output: Path,
                      protected: Sequence[Path] = ()) -> tuple[int, Counter[str]]:
    """Write the export atomically, record by record; returns the number of rows, and for each column the
    profile leaves out, how many rows had a value there (an export never drops a value without saying so).

    protected: files an export must never replace (the checkpoints the ledger knows), besides the input.
    """
    refuse_checkpoint_output(output, checkpoint, protected)
    rows = 0
    dropped: Counter[str] = Counter()
    left_out = [(i, c) for i, c in enumerate(COLUMNS) if c not in profile.columns]
    with Table(checkpoint) as table, atomic_writer(output, durable=False) as out:
        if table.columns != list(COLUMNS):
            raise TableError(f"{checkpoint} is not an ACS checkpoint (run `sidecar verify` on it)")
        index = [COLUMNS.index(c) for c in profile.columns]
        out.write(encode_header(profile.dialect, profile.columns))
        for record in table.records():
            if len(record.cells) != len(COLUMNS) or not record.terminator:
                raise TableError(f"{checkpoint} line {record.line} is not a whole record (run `sidecar verify` on it)")
            cells = [record.cells[i] for i in index]
            dropped.update(c for i, c in left_out if record.cells[i].strip())
            if profile.pub_date_format:
                cells = [_redate(cell, profile.pub_date_format) if c in (PUB_DATE, STREET_DATE) else cell
                         for c, cell in zip(profile.columns, cells)]
            out.write(encode_record(cells, profile.dialect))
            rows += 1
    return rows, dropped


def refuse_checkpoint_output(output: Path, checkpoint: Path, protected: Sequence[Path]) -> None:
    if output.exists() and any(p.exists() and os.path.samefile(output, p) for p in (checkpoint, *protected)):
        raise ConfigError(f"{output} is a checkpoint; give --output a new file name")


def known_checkpoints(state_dir: Path) -> list[Path]:
    """The checkpoints the ledger of state_dir knows (none when there is no readable ledger)."""
    try:
        with Ledger.read_only(state_dir) as ledger:
            return [record.path for record in ledger.checkpoints()]
    except CheckpointError:
        return []


def _redate(value: str, style: str) -> str:
    try:
        return format_date(datetime.strptime(value, "%Y-%m-%d").date(), style)
    except ValueError:
        return value
