"""`sidecar compare`: two ACS files, book by book (ISBN, else title), independent of row order."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store.table import Table, read_table


@dataclass
class Comparison:
    common: list[str]
    only_left: list[str]
    only_right: list[str]
    missing: list[str] = field(default_factory=list)  # books in the right file only
    extra: list[str] = field(default_factory=list)  # books in the left file only
    differing: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not (self.missing or self.extra or self.differing)


def _books(table: Table) -> dict[str, dict[str, str]]:
    columns = table.columns
    books: dict[str, dict[str, str]] = {}
    for record in table.records:
        if record.cells == [] or record.cells == [""]:
            continue
        row = dict(zip(columns, record.cells + [""] * (len(columns) - len(record.cells))))
        key = row.get("ISBN or SKU") or f"title: {row.get('Title', '')}"
        books[key] = row
    return books


def compare_files(left_path: Path, right_path: Path) -> Comparison:
    left, right = read_table(left_path), read_table(right_path)
    common = [c for c in left.columns if c in right.columns]
    result = Comparison(common=common, only_left=[c for c in left.columns if c not in right.columns],
                        only_right=[c for c in right.columns if c not in left.columns])
    a, b = _books(left), _books(right)
    result.missing = sorted(set(b) - set(a))
    result.extra = sorted(set(a) - set(b))
    for key in sorted(set(a) & set(b)):
        diffs = [{"column": c, "left": a[key][c], "right": b[key][c]} for c in common if a[key][c] != b[key][c]]
        if diffs:
            result.differing[key] = diffs
    return result


def format_comparison(left: Path, right: Path, c: Comparison) -> str:
    lines = [f"left   {left}", f"right  {right}", f"compared on {len(c.common)} common columns"]
    if c.only_left:
        lines.append(f"columns only in left ({len(c.only_left)}): {', '.join(c.only_left)}")
    if c.only_right:
        lines.append(f"columns only in right ({len(c.only_right)}): {', '.join(c.only_right)}")
    lines += [f"missing from left: {key}" for key in c.missing]
    lines += [f"extra in left: {key}" for key in c.extra]
    for key, diffs in c.differing.items():
        lines.append(f"differs: {key}")
        lines += [f"  {d['column']}: {d['left']!r} != {d['right']!r}" for d in diffs]
    lines.append("same content" if c.same else
                 f"{len(c.missing)} missing, {len(c.extra)} extra, {len(c.differing)} differing")
    return "\n".join(lines)


def comparison_json(c: Comparison) -> dict[str, Any]:
    return {"same": c.same, "common_columns": c.common, "only_left": c.only_left, "only_right": c.only_right,
            "missing": c.missing, "extra": c.extra, "differing": c.differing}
