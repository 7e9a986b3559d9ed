"""`sidecar verify`: is a checkpoint a whole, valid ACS file that agrees with its ledger?"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import CheckpointError
from ..rows.codes import AcsCodes
from ..rows.columns import COLUMNS, INDEX
from ..rows.validate import validate_row
from ..store.ledger import Ledger, RowRecord, ledger_path
from ..store.table import Record, Table


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
    the checkpoint folder's state/ is always tried last). Reads the file once, record by record."""
    report = Report(path=path)
    with Table(path) as table:
        acs = table.columns == list(COLUMNS)
        ledger = _ledger_for(path, state_dirs) if acs else None
        rows = _RowCheck(report, ledger[1] if ledger else iter(()))
        terminators = Counter([table.header.terminator] if table.header.terminator else [])
        last = table.header
        isbn_at: dict[str, int] = {}
        for record in table.records():
            report.rows += 1
            last = record
            if record.terminator:
                terminators[record.terminator] += 1
            if acs:
                _check_record(record, report, codes, isbn_at)
                rows.check(record)
    record_problems, report.problems = report.problems, []
    if not acs:
        report.add(1, _header_problem(table.columns))
    report.dialect = ("UTF-8 with BOM" if table.bom else "UTF-8 without BOM") + ", " + (
        " and ".join(f"{n} {'CRLF' if t == chr(13) + chr(10) else 'LF'}" for t, n in terminators.items()) or "no line ends")
    if len(terminators) > 1:
        report.add(None, f"mixed line ends: {report.dialect.split(', ', 1)[1]}")
    if not last.terminator:
        report.add(last.line, f"torn tail: the last record is incomplete ({last.length} bytes without a line end)")
    report.problems += record_problems
    if ledger:
        with ledger[0]:
            rows.finish()
        report.ledger = f"agrees ({rows.count} rows)" if not rows.disagreements else f"{rows.disagreements} disagreement(s)"
    return report


def _check_record(record: Record, report: Report, codes: AcsCodes | None, isbn_at: dict[str, int]) -> None:
    if len(record.cells) != len(COLUMNS):
        report.add(record.line, f"{len(record.cells)} cells, expected {len(COLUMNS)}")
        return
    isbn = record.cells[INDEX["ISBN or SKU"]]
    if isbn and isbn in isbn_at:
        report.add(record.line, f"duplicate ISBN {isbn} (also on line {isbn_at[isbn]})")
    isbn_at.setdefault(isbn, record.line)
    for problem in validate_row(tuple(record.cells), codes):
        report.row_problems.append({"line": record.line, "isbn": isbn, "severity": problem.severity,
                                    "column": problem.column, "message": problem.message})


def _ledger_for(checkpoint: Path, state_dirs: Sequence[Path]) -> tuple[Ledger, Iterator[RowRecord]] | None:
    """The first ledger that knows this checkpoint, with its rows in file order."""
    for state_dir in dict.fromkeys([*state_dirs, checkpoint.parent / "state"]):
        try:
            ledger = Ledger.read_only(state_dir)
        except CheckpointError:
            if ledger_path(state_dir).exists():
                raise  # a ledger that cannot be read is an error, not "no ledger"
            continue
        record = ledger.checkpoint_at(checkpoint.resolve())
        if record is not None:
            return ledger, ledger.rows(record.id)
        ledger.close()
    return None


class _RowCheck:
    """The ledger's rows against the file's records, both in offset order, in one pass (a merge)."""

    def __init__(self, report: Report, rows: Iterator[RowRecord]) -> None:
        self.report, self.rows = report, rows
        self.next: RowRecord | None = next(rows, None)
        self.count = self.disagreements = 0
        self.sources: Counter[str] = Counter()

    def _take(self) -> RowRecord:
        assert self.next is not None
        row, self.next = self.next, next(self.rows, None)
        self.count += 1
        self.sources[row.source] += 1
        if self.sources[row.source] == 2:
            self._disagree(None, f"{row.source} has more than one row")
        return row

    def _disagree(self, line: int | None, message: str) -> None:
        self.report.add(line, message)
        self.disagreements += 1

    def check(self, record: Record) -> None:
        while self.next is not None and self.next.offset < record.offset:
            row = self._take()
            self._disagree(None, f"the ledger's row for {row.source} is not at byte {row.offset}")
        if self.next is None or self.next.offset > record.offset:
            self._disagree(record.line, "a record the ledger does not know (written, but never recorded)")
            return
        row = self._take()
        cells = record.cells
        if row.length != record.length or len(cells) <= INDEX["ISBN or SKU"] or cells[INDEX["ISBN or SKU"]] != row.isbn:
            self._disagree(record.line, f"the ledger's row for {row.source} is not at byte {row.offset}")
        elif row.row_sha256 is not None and hashlib.sha256(record.data).hexdigest() != row.row_sha256:
            self._disagree(record.line, f"the row of {row.source} is not what was written (edited by hand?)")

    def finish(self) -> None:
        while self.next is not None:
            row = self._take()
            self._disagree(None, f"the ledger's row for {row.source} is not at byte {row.offset}")


def _header_problem(columns: list[str]) -> str:
    if len(columns) != len(COLUMNS):
        return f"not an ACS checkpoint: the header has {len(columns)} columns, expected the {len(COLUMNS)} ACS names"
    n, (found, wanted) = next((i, pair) for i, pair in enumerate(zip(columns, COLUMNS)) if pair[0] != pair[1])
    return f"not an ACS checkpoint: header column {n + 1} is '{found}', expected '{wanted}'"


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
