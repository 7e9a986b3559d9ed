"""The checkpoint file name, made and recognised in this one place.

A checkpoint of imprint X is named `cumulative_checkpoint_YYYYMMDD_HHMM_X.csv`, then `_2` ... `_9` before
`.csv` for more in the same minute. The time is the local time at creation, except that a new name never
sorts before an existing checkpoint of the imprint (a clock or a time zone set back, a daylight-saving
change): it then takes the newest existing checkpoint's minute with the next number, and after `_9` the
minute after it, so that names sorted as text are in the order they were made. Nothing else is a
checkpoint of X: `..._X_submission.csv` (an export) is not, nor is `..._X_light.csv` (another imprint).
Only imprints named `X` and `X_2` in one folder cannot be told apart by name (`..._X_2.csv` fits both):
the ledger, which records each checkpoint's imprint, decides where it knows the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable

PREFIX = "cumulative_checkpoint_"
EXTENSION = ".csv"
STAMP_FORMAT = "%Y%m%d_%H%M"
MANIFEST_SUFFIX = ".manifest.json"
_TEMP_PREFIX, _TEMP_SUFFIX = ".", ".tmp"  # a writer's temp file: .<name>.<pid>.tmp beside the file
LAST_SEQUENCE = 9  # _10 would sort before _9 as text: the minute after is taken instead
_STAMP = re.compile(r"\d{8}_\d{4}")
_SEQUENCE = re.compile(r"_([2-9]|[1-9]\d+)")


@dataclass(frozen=True, order=True)
class CheckpointName:
    """One checkpoint file name: its minute, its imprint and its number within the minute (1 for none)."""

    stamp: str  # YYYYMMDD_HHMM
    sequence: int
    imprint: str

    @property
    def file_name(self) -> str:
        """cumulative_checkpoint_<stamp>_<imprint>[_<sequence>].csv, the sequence left out when it is 1."""
        return f"{PREFIX}{self.stamp}_{self.imprint}{'' if self.sequence == 1 else f'_{self.sequence}'}{EXTENSION}"

    @classmethod
    def parse(cls, file_name: str, imprint: str) -> CheckpointName | None:
        """The name when file_name is exactly a checkpoint name of imprint; None for anything else."""
        if not (file_name.startswith(PREFIX) and file_name.endswith(EXTENSION)):
            return None
        middle = file_name[len(PREFIX):-len(EXTENSION)]
        stamp, rest = middle[:13], middle[13:]
        if not _STAMP.fullmatch(stamp) or not rest.startswith(f"_{imprint}"):
            return None
        tail = rest[len(imprint) + 1:]
        if tail == "":
            return cls(stamp, 1, imprint)
        found = _SEQUENCE.fullmatch(tail)
        return cls(stamp, int(found.group(1)), imprint) if found else None


def is_checkpoint_of(path: Path, imprint: str) -> bool:
    """True when path's name is a checkpoint name of exactly this imprint."""
    return CheckpointName.parse(path.name, imprint) is not None


def checkpoints_of(folder: Path, imprint: str) -> list[Path]:
    """The files in folder named as checkpoints of imprint, oldest name first.

    Raises OSError when the folder cannot be listed (FileNotFoundError when it is missing)."""
    found = [(name, folder / name.file_name) for p in folder.iterdir()
             if (name := CheckpointName.parse(p.name, imprint)) is not None]
    return [path for _, path in sorted(found)]


def imprint_of(path: Path, imprints: Iterable[str]) -> str | None:
    """Which of imprints path is a checkpoint of (the longest name when two could be: `a` and `a_2`)."""
    matching = [i for i in imprints if is_checkpoint_of(path, i)]
    return max(matching, key=len) if matching else None


def looks_like_checkpoint(path: Path) -> bool:
    """Named like a checkpoint of some imprint, the imprint unknown (an export of one looks so too)."""
    name = path.name
    return (name.startswith(PREFIX) and name.endswith(EXTENSION)
            and _STAMP.fullmatch(name[len(PREFIX):len(PREFIX) + 13]) is not None and len(name) > len(PREFIX) + 18)


def is_export_of(path: Path, checkpoint: Path) -> bool:
    """path is named as a file made from checkpoint (`<its stem>_<profile>.csv`), not as a later checkpoint."""
    rest = path.stem.removeprefix(checkpoint.stem)
    return rest != path.stem and rest.startswith("_") and _SEQUENCE.fullmatch(rest) is None


def new_checkpoint_name(folder: Path, imprint: str, now: datetime, existing: Iterable[Path] = ()) -> Path:
    """A name in folder for a new checkpoint of imprint, made at now (local time), that sorts after every
    checkpoint of the imprint in folder and in existing (those the ledger knows, whose files may be gone).

    Raises OSError when the folder cannot be listed."""
    names = [n for p in [*existing, *(checkpoints_of(folder, imprint) if folder.is_dir() else [])]
             if (n := CheckpointName.parse(p.name, imprint)) is not None]
    name = CheckpointName(f"{now:{STAMP_FORMAT}}", 1, imprint)
    newest = max(names, default=None)
    if newest is not None and name <= newest:
        name = CheckpointName(newest.stamp, newest.sequence + 1, imprint)
        if name.sequence > LAST_SEQUENCE:
            after = datetime.strptime(newest.stamp, STAMP_FORMAT) + timedelta(minutes=1)
            name = CheckpointName(f"{after:{STAMP_FORMAT}}", 1, imprint)
    return folder / name.file_name


def export_name(checkpoint: Path, profile: str) -> Path:
    """The default name of a CSV export of checkpoint: `<checkpoint's stem>_<profile>.csv` beside it.
    A profile name of digits only would look like a checkpoint's number, so it gets `_export_` first."""
    suffix = f"export_{profile}" if profile.isdigit() else profile
    return checkpoint.with_name(f"{checkpoint.stem}_{suffix}{EXTENSION}")


def review_name(checkpoint: Path) -> Path:
    """The default name of a checkpoint's review workbook: beside it, `.xlsx` for `.csv`."""
    return checkpoint.with_suffix(".xlsx")


def temp_name(path: Path, pid: int) -> Path:
    """The temp file a writer of path (a checkpoint, a manifest, an export) renames or links into place:
    `.<name>.<pid>.tmp` beside it."""
    return path.with_name(f"{_TEMP_PREFIX}{path.name}.{pid}{_TEMP_SUFFIX}")


def temp_target(name: str) -> str | None:
    """The name of the file a temp file (temp_name) was written for, or None when name is no temp file."""
    if not (name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX)):
        return None
    target, _, pid = name[len(_TEMP_PREFIX):-len(_TEMP_SUFFIX)].rpartition(".")
    return target if target and pid.isdigit() else None


def is_checkpoint_temp(path: Path, imprints: Iterable[str]) -> bool:
    """A temp file (temp_name) of a checkpoint of one of imprints, or of the manifest beside it: what a
    killed writer leaves. The temp files of exports written beside checkpoints are not."""
    target = temp_target(path.name)
    if target is None:
        return False
    target = target.removesuffix(MANIFEST_SUFFIX)
    return any(CheckpointName.parse(target, imprint) is not None for imprint in imprints)


def manifest_name(checkpoint: Path) -> Path:
    """The manifest finalize writes beside a checkpoint."""
    return checkpoint.with_name(checkpoint.name + MANIFEST_SUFFIX)


def rewrite_name(checkpoint: Path) -> Path:
    """The replacement copy of a checkpoint, made while a row in its middle is rewritten."""
    return checkpoint.with_name(f".{checkpoint.name}.rewrite")
