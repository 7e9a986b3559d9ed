"""`sidecar verify`: is a checkpoint a whole, valid ACS file that agrees with its ledger?"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..errors import CheckpointError
from ..rows.codes import AcsCodes
from ..rows.columns import COLUMNS, INDEX
from ..rows.validate import validate_row
from ..store.ledger import Ledger, RowRecord
from ..store.table import Table, read_table


@dataclass
class Report:
    path: Path
    rows: int = 0
    dialect: str = ""
    problems: list[dict[str, Any]] = field(default_factory=list)  # structural: the file is not whole
    row_problems: list[dict[str, Any]] = field(default_factory=list)  # LSI validation of each row
    ledger: str = "no ledger found"

    @property
    def clean(self) -> bool:
        return not self.problems and not any(p["severity"] == "error" for p in self.row_problems)

    def add(self, line: int | None, message: str) -> None:
        self.problems.append({"line": line, "message": message})


def verify_checkpoint(path: Path, codes: AcsCodes | None = None, state_dirs: Sequence[Path] = ()) -> Report:
    """state_dirs: where to look for the ledger that knows this checkpoint (the settings' state folder first;
    the checkpoint folder's state/ is always tried last)."""
    table = read_table(path)
    report = Report(path=path, rows=len(table.records))
    if table.columns != list(COLUMNS):
        report.add(1, _header_problem(table.columns))
    terminators = Counter(r.terminator for r in [table.header, *table.records] if r.terminator)
    report.dialect = ("UTF-8 with BOM" if table.bom else "UTF-8 without BOM") + ", " + (
        " and ".join(f"{n} {'CRLF' if t == chr(13) + chr(10) else 'LF'}" for t, n in terminators.items()) or "no line ends")
    if len(terminators) > 1:
        report.add(None, f"mixed line ends: {report.dialect.split(', ', 1)[1]}")
    last = table.records[-1] if table.records else table.header
    if not last.terminator:
        report.add(last.line, f"torn tail: the last record is incomplete ({last.length} bytes without a line end)")
    if table.columns != list(COLUMNS):
        return report  # not a checkpoint: its records cannot be checked as ACS rows

    isbn_at: dict[str, int] = {}
    for record in table.records:
        if len(record.cells) != len(COLUMNS):
            report.add(record.line, f"{len(record.cells)} cells, expected {len(COLUMNS)}")
            continue
        isbn = record.cells[INDEX["ISBN or SKU"]]
        if isbn and isbn in isbn_at:
            report.add(record.line, f"duplicate ISBN {isbn} (also on line {isbn_at[isbn]})")
        isbn_at.setdefault(isbn, record.line)
        for problem in validate_row(tuple(record.cells), codes):
            report.row_problems.append({"line": record.line, "isbn": isbn, "severity": problem.severity,
                                        "column": problem.column, "message": problem.message})

    for state_dir in dict.fromkeys([*state_dirs, path.parent / "state"]):
        rows = _ledger_rows(state_dir, path)
        if rows is not None:
            report.ledger = _check_ledger(table, rows, report)
            break
    return report


def _header_problem(columns: list[str]) -> str:
    if len(columns) != len(COLUMNS):
        return f"not an ACS checkpoint: the header has {len(columns)} columns, expected the {len(COLUMNS)} ACS names"
    n, (found, wanted) = next((i, pair) for i, pair in enumerate(zip(columns, COLUMNS)) if pair[0] != pair[1])
    return f"not an ACS checkpoint: header column {n + 1} is '{found}', expected '{wanted}'"


def _ledger_rows(state_dir: Path, checkpoint: Path) -> list[RowRecord] | None:
    """The rows a state folder's ledger records for this checkpoint; None when it does not know it."""
    try:
        ledger = Ledger.read_only(state_dir)
    except CheckpointError:
        return None
    with ledger:
        record = ledger.checkpoint_at(checkpoint.resolve())
        return ledger.rows(record.id) if record else None


def _check_ledger(table: Table, rows: list[RowRecord], report: Report) -> str:
    by_offset = {r.offset: r for r in table.records}
    disagreements = 0
    for row in rows:
        record = by_offset.get(row.offset)
        if record is None or record.length != row.length or record.cells[INDEX["ISBN or SKU"]] != row.isbn:
            report.add(record.line if record else None, f"the ledger's row for {row.source} is not at byte {row.offset}")
            disagreements += 1
    recorded = {row.offset for row in rows}
    for record in table.records:
        if record.offset not in recorded:
            report.add(record.line, "a record the ledger does not know (written, but never recorded)")
            disagreements += 1
    sources = Counter(row.source for row in rows)
    for source, n in sources.items():
        if n > 1:
            report.add(None, f"{source} has {n} rows")
            disagreements += 1
    return f"agrees ({len(rows)} rows)" if not disagreements else f"{disagreements} disagreement(s)"


def format_report(report: Report) -> str:
    lines = [f"checkpoint  {report.path}", f"rows        {report.rows}", f"dialect     {report.dialect}",
             f"ledger      {report.ledger}"]
    for p in report.problems:
        lines.append(f"  {'line ' + str(p['line']) if p['line'] else 'file'}: {p['message']}")
    errors = [p for p in report.row_problems if p["severity"] == "error"]
    warnings = len(report.row_problems) - len(errors)
    lines.append(f"LSI checks  {len(errors)} error(s), {warnings} warning(s)")
    for p in report.row_problems:
        lines.append(f"  line {p['line']} ({p['isbn'] or 'no ISBN'}) {p['severity']}: {p['column']}: {p['message']}")
    lines.append("clean" if report.clean else "NOT CLEAN")
    return "\n".join(lines)
