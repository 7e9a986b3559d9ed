"""`sidecar compare`: two ACS files, book by book (ISBN, else title), independent of row order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from ..rows.columns import ISBN_OR_SKU, PUB_DATE, STREET_DATE, TITLE
from ..rows.values import to_date
from ..store.scratch import Scratch
from ..store.table import Record, open_table


class Difference(TypedDict):
    column: str
    left: str
    right: str


class ComparisonJson(TypedDict):
    """`sidecar compare --json`."""

    same: bool
    common_columns: list[str]
    only_left: list[str]
    only_right: list[str]
    missing: list[str]
    extra: list[str]
    differing: dict[str, list[Difference]]
    duplicates: dict[str, list[str]]


@dataclass
class Comparison:
    common: list[str]
    only_left: list[str]
    only_right: list[str]
    missing: list[str] = field(default_factory=list)  # books in the right file only
    extra: list[str] = field(default_factory=list)  # books in the left file only
    differing: dict[str, list[Difference]] = field(default_factory=dict)
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # "left"/"right" -> books there twice or more

    @property
    def same(self) -> bool:
        return not (self.missing or self.extra or self.differing or any(self.duplicates.values()))


SIDES = "CREATE TABLE a (key TEXT PRIMARY KEY, digest BLOB); CREATE TABLE b (key TEXT PRIMARY KEY, digest BLOB);"


def _value(column: str, text: str) -> str:
    """A cell as compared: a date column's M/D/YY (the submission's form) read as the YYYY-MM-DD it means,
    so that a checkpoint and its own export agree; any other cell as it is."""
    if column not in (PUB_DATE, STREET_DATE) or "/" not in text:
        return text
    try:
        return to_date(text, "iso", "mdy")
    except ValueError:
        return text


def _key(cells: dict[str, str]) -> str:
    return cells.get(ISBN_OR_SKU) or f"title: {cells.get(TITLE, '')}"


def _cells(columns: list[str], record: Record) -> dict[str, str] | None:
    if record.cells == [] or record.cells == [""]:
        return None
    return dict(zip(columns, record.cells + [""] * (len(columns) - len(record.cells))))


def _digests(path: Path, common: list[str], side: str, scratch: Scratch) -> list[str]:
    """Per book, a digest of its common cells into the scratch table of its side; returns the books
    found there more than once."""
    twice: list[str] = []
    with open_table(path) as table:
        for record in table.records():
            cells = _cells(table.columns, record)
            if cells is None:
                continue
            key = _key(cells)
            digest = hashlib.blake2b("\x1f".join(_value(c, cells[c]) for c in common).encode(), digest_size=16).digest()
            if not scratch.execute(f"INSERT OR IGNORE INTO {side} VALUES (?, ?)", (key, digest)).rowcount:
                if len(twice) < 1000:
                    twice.append(key)
                scratch.execute(f"UPDATE {side} SET digest = ? WHERE key = ?", (digest, key))  # the last row counts
    return sorted(set(twice))


def _rows(path: Path, keys: set[str]) -> dict[str, dict[str, str]]:
    """The cells of the given books only (the last row of a book that is there twice)."""
    found: dict[str, dict[str, str]] = {}
    with open_table(path) as table:
        for record in table.records():
            cells = _cells(table.columns, record)
            if cells is not None and _key(cells) in keys:
                found[_key(cells)] = cells
    return found


def compare_files(left_path: Path, right_path: Path) -> Comparison:
    """Two passes over each file at most, in flat memory: digests first, then the cells of differing books."""
    with open_table(left_path) as left, open_table(right_path) as right:
        left_columns, right_columns = left.columns, right.columns
    common = [c for c in left_columns if c in right_columns]
    result = Comparison(common=common, only_left=[c for c in left_columns if c not in right_columns],
                        only_right=[c for c in right_columns if c not in left_columns])
    with Scratch(SIDES) as scratch:
        result.duplicates = {"left": _digests(left_path, common, "a", scratch),
                             "right": _digests(right_path, common, "b", scratch)}
        result.missing = [k for (k,) in scratch.rows("SELECT key FROM b WHERE key NOT IN (SELECT key FROM a) ORDER BY key")]
        result.extra = [k for (k,) in scratch.rows("SELECT key FROM a WHERE key NOT IN (SELECT key FROM b) ORDER BY key")]
        changed = {k for (k,) in scratch.rows("SELECT a.key FROM a JOIN b ON a.key = b.key WHERE a.digest != b.digest")}
    rows_a, rows_b = _rows(left_path, changed), _rows(right_path, changed)
    for key in sorted(changed):
        result.differing[key] = [{"column": c, "left": rows_a[key][c], "right": rows_b[key][c]}
                                 for c in common if _value(c, rows_a[key][c]) != _value(c, rows_b[key][c])]
    return result


def format_comparison(left: Path, right: Path, c: Comparison) -> str:
    lines = [f"left   {left}", f"right  {right}", f"compared on {len(c.common)} common columns"]
    if c.only_left:
        lines.append(f"columns only in left ({len(c.only_left)}): {', '.join(c.only_left)}")
    if c.only_right:
        lines.append(f"columns only in right ({len(c.only_right)}): {', '.join(c.only_right)}")
    lines += [f"missing from left: {key}" for key in c.missing]
    lines += [f"extra in left: {key}" for key in c.extra]
    lines += [f"in {side} more than once: {key}" for side, keys in c.duplicates.items() for key in keys]
    for key, diffs in c.differing.items():
        lines.append(f"differs: {key}")
        lines += [f"  {d['column']}: {d['left']!r} != {d['right']!r}" for d in diffs]
    twice = sum(len(keys) for keys in c.duplicates.values())
    lines.append("same content" if c.same else f"{len(c.missing)} missing, {len(c.extra)} extra, "
                 f"{len(c.differing)} differing" + (f", {twice} more than once" if twice else ""))
    return "\n".join(lines)


def comparison_json(c: Comparison) -> ComparisonJson:
    return {"same": c.same, "common_columns": c.common, "only_left": c.only_left, "only_right": c.only_right,
            "missing": c.missing, "extra": c.extra, "differing": c.differing, "duplicates": c.duplicates}
