"""`sidecar verify`: is an ACS file whole and valid for LSI, and a checkpoint in agreement with its ledger?

Any ACS-shaped file is checked: a checkpoint (the 119 columns in LSI's order), the 96-column submission
shape, the sidecar's own exports. Header names are matched against the ACS names; LSI's row rules run
on the columns present; the report names the ACS columns absent. Only a checkpoint is checked for a torn
tail and against its ledger: a hand-made file may well end without a line end.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, TypedDict

from ..errors import CheckpointError
from ..rows.columns import COLUMNS, INDEX, ISBN_OR_SKU, Problem, Severity
from ..rows.isbn import identity
from ..rows.lsi_rules import REQUIRED_COLUMNS, source_problems
from ..rows.validate import RuleContext, validate_cells
from ..store.ledger import Ledger, RowRecord, ledger_path
from ..store.scratch import Scratch
from ..store.table import Record, open_table


LISTED = 1000  # problems of each kind listed one by one; the rest are counted (a report stays readable and flat)


class FileProblem(TypedDict):
    line: int | None  # None: the file as a whole
    message: str


class RowProblem(TypedDict):
    line: int
    isbn: str
    severity: str  # "error" or "warning"
    rule: str
    column: str
    message: str


@dataclass
class Report:
    path: Path
    rows: int = 0
    dialect: str = ""
    problems: list[FileProblem] = field(default_factory=list)  # structural: the file is not whole
    row_problems: list[RowProblem] = field(default_factory=list)  # LSI validation of each row
    ledger: str = "no ledger found"
    kind: str = "checkpoint"  # or "ACS file": another shape of the ACS columns
    absent: list[str] = field(default_factory=list)  # ACS columns the file does not have
    counts: Counter[str] = field(default_factory=Counter)  # "structural" and each Severity: all, listed or not
    not_ready: int = 0  # rows with an error: LSI would refuse them

    @property
    def clean(self) -> bool:
        return not self.counts["structural"] and not self.counts[Severity.ERROR]

    def add(self, line: int | None, message: str) -> None:
        self.counts["structural"] += 1
        if len(self.problems) < LISTED:
            self.problems.append({"line": line, "message": message})

    def add_row_problem(self, line: int, isbn: str, problem: Problem) -> None:
        self.counts[problem.severity] += 1
        if len(self.row_problems) < LISTED:
            self.row_problems.append({"line": line, "isbn": isbn, "severity": str(problem.severity),
                                      "rule": problem.rule, "column": problem.column, "message": problem.message})


def verify_checkpoint(path: Path, context: RuleContext = RuleContext(), state_dirs: Sequence[Path] = ()) -> Report:
    """LSI's cell rules (lsi_rules.py) on every record with context (the code tables and the publisher's lsi
    settings), and for a checkpoint the source problems its ledger kept for each row. state_dirs: where to look
    for the ledger that knows this checkpoint (the settings' state folder first; the checkpoint folder's state/
    is always tried last). Reads the file once, record by record."""
    report = Report(path=path)
    with open_table(path) as table:
        acs = table.kind == "csv" and table.columns == list(COLUMNS)
        known = [c for c in table.columns if c in INDEX]
        if not acs:
            report.kind, report.absent = "ACS file", [c for c in COLUMNS if c not in table.columns]
        ledger = _ledger_for(path, state_dirs) if acs else None
        rows = _RowCheck(report, ledger[0].rows(ledger[1]) if ledger else iter(()))
        books = _BookRows(state_dirs) if not ledger else None  # an upload file: its books' rows, by ISBN
        terminators = Counter([table.header.terminator] if table.header.terminator else [])
        last = table.header
        isbn_at = Scratch("CREATE TABLE isbns (isbn TEXT PRIMARY KEY, line INTEGER NOT NULL)")
        for record in table.records():
            report.rows += 1
            last = record
            if record.terminator:
                terminators[record.terminator] += 1
            whole = len(record.cells) == len(table.columns)
            if known and not whole:
                report.add(record.line, f"{len(record.cells)} cells, expected {len(table.columns)}")
            recorded = rows.check(record) if ledger else books.row(_isbn_of(record, table.columns)) if books else None
            if known and whole:
                _check_record(record, table.columns, report, context, isbn_at, recorded, foreign=books is not None)
        if books:
            books.close()
        isbn_at.close()
    record_problems, report.problems = report.problems, []  # file-level problems are listed first
    if not acs:
        _header_problems(table.columns, report)
    report.dialect = ("UTF-8 with BOM" if table.bom else "UTF-8 without BOM") + ", " + (
        " and ".join(f"{n} {'CRLF' if t == chr(13) + chr(10) else 'LF'}" for t, n in terminators.items()) or "no line ends")
    if table.kind == "xlsx":
        report.dialect = f"xlsx workbook, sheet {table.sheet}"
    elif len(terminators) > 1:
        report.add(None, f"mixed line ends: {report.dialect.split(', ', 1)[1]}")
    if acs and not last.terminator:
        report.add(last.line, f"torn tail: the last record is incomplete ({last.length} bytes without a line end)")
    report.problems += record_problems
    if ledger:
        with ledger[0]:
            rows.finish()
            for source, n in ledger[0].sources_with_more_rows(ledger[1]):
                rows.disagree(None, f"{source} has {n} rows")
        report.ledger = f"agrees ({rows.count} rows)" if not rows.disagreements else f"{rows.disagreements} disagreement(s)"
    return report


def record_problems(cells: dict[str, str], context: RuleContext, recorded: RowRecord | None,
                    foreign: bool = False) -> list[Problem]:
    """A record's problems: what its ledger row kept from conversion (where values came from, what a level
    refused: a file cannot show that), then LSI's cell rules on its cells, the same as conversion's. foreign:
    the record is a book's row in another file (an upload, a workbook): of what the ledger kept, only the
    errors that left a cell blank, and only where that cell is still blank."""
    kept = source_problems(recorded.lsi_errors, cells) if recorded else []
    if foreign:
        kept = [p for p in kept if p.severity == Severity.ERROR and not cells.get(p.column, "").strip()]
    return kept + validate_cells(cells, context)


def _isbn_of(record: Record, columns: list[str]) -> str:
    at = columns.index(ISBN_OR_SKU) if ISBN_OR_SKU in columns else None
    return record.cells[at] if at is not None and at < len(record.cells) else ""


class _BookRows:
    """The newest row of a book (by ISBN) in the ledger of the settings' state folder, for a file that is not
    a checkpoint: what the ledger knows of its books that the file cannot show."""

    def __init__(self, state_dirs: Sequence[Path]) -> None:
        self.ledger: Ledger | None = None
        for state_dir in state_dirs:
            try:
                self.ledger = Ledger.read_only(state_dir)
                break
            except CheckpointError:
                continue
        self.checkpoints = sorted((r.id for r in self.ledger.checkpoints()), reverse=True) if self.ledger else []

    def row(self, isbn: str) -> RowRecord | None:
        if self.ledger is None or not isbn:
            return None
        return next((row for cp in self.checkpoints if (row := self.ledger.book_row(cp, identity(isbn)))), None)

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()


def _check_record(record: Record, columns: list[str], report: Report, context: RuleContext,
                  isbn_at: Scratch, recorded: RowRecord | None = None, foreign: bool = False) -> None:
    cells = {c: v for c, v in zip(columns, record.cells) if c in INDEX}
    isbn = cells.get(ISBN_OR_SKU, "")
    if isbn and not isbn_at.execute("INSERT OR IGNORE INTO isbns VALUES (?, ?)", (isbn, record.line)).rowcount:
        [(first,)] = isbn_at.rows("SELECT line FROM isbns WHERE isbn = ?", (isbn,))
        report.add(record.line, f"duplicate ISBN {isbn} (also on line {first})")
    problems = record_problems(cells, context, recorded, foreign)
    report.not_ready += any(p.severity == Severity.ERROR for p in problems)
    for problem in problems:
        report.add_row_problem(record.line, isbn, problem)


@contextmanager
def recorded_rows(checkpoint: Path, state_dirs: Sequence[Path]) -> Iterator[Callable[[int], RowRecord | None]]:
    """The ledger's row at a byte offset of the checkpoint (None where it has none, or no ledger knows the
    file), asked in file order: one pass over the ledger's rows beside the file's records."""
    found = _ledger_for(checkpoint, state_dirs) if checkpoint.suffix == ".csv" else None
    if found is None:
        yield lambda offset: None
        return
    ledger, checkpoint_id = found
    rows = ledger.rows(checkpoint_id)
    pending: list[RowRecord] = []

    def at(offset: int) -> RowRecord | None:
        while not pending or pending[0].offset < offset:
            row = next(rows, None)
            if row is None:
                return None
            pending[:] = [row]
        return pending[0] if pending[0].offset == offset else None

    with ledger:
        yield at


def _ledger_for(checkpoint: Path, state_dirs: Sequence[Path]) -> tuple[Ledger, int] | None:
    """The first ledger that knows this checkpoint, and the checkpoint's id in it."""
    for state_dir in dict.fromkeys([*state_dirs, checkpoint.parent / "state"]):
        try:
            ledger = Ledger.read_only(state_dir)
        except CheckpointError:
            if ledger_path(state_dir).exists():
                raise  # a ledger that cannot be read is an error, not "no ledger"
            continue
        record = ledger.checkpoint_at(checkpoint.resolve())
        if record is not None:
            return ledger, record.id
        ledger.close()
    return None


class _RowCheck:
    """The ledger's rows against the file's records, both in offset order, in one pass (a merge)."""

    def __init__(self, report: Report, rows: Iterator[RowRecord]) -> None:
        self.report, self.rows = report, rows
        self.next: RowRecord | None = next(rows, None)
        self.count = self.disagreements = 0
        self.drift = 0  # bytes a row edited by hand added (or took) before this point: later rows moved as much

    def _take(self) -> RowRecord:
        assert self.next is not None
        row, self.next = self.next, next(self.rows, None)
        self.count += 1
        return row

    def disagree(self, line: int | None, message: str) -> None:
        self.report.add(line, message)
        self.disagreements += 1

    def check(self, record: Record) -> RowRecord | None:
        """The ledger's row for the record when the two agree."""
        while self.next is not None and self.next.offset + self.drift < record.offset:
            row = self._take()
            self.disagree(None, f"the ledger's row for {row.source} is not at byte {row.offset}")
        if self.next is None or self.next.offset + self.drift > record.offset:
            self.disagree(record.line, "a record the ledger does not know (written, but never recorded)")
            return None
        row = self._take()
        cells = record.cells
        isbn_at = INDEX[ISBN_OR_SKU]
        if len(cells) <= isbn_at or identity(cells[isbn_at]) != row.isbn:
            self.disagree(record.line, f"the ledger's row for {row.source} is not at byte {row.offset}")
        elif row.length != record.length or \
                row.row_sha256 is not None and hashlib.sha256(record.data).hexdigest() != row.row_sha256:
            self.disagree(record.line, f"the row of {row.source} is not what was written (edited by hand?)")
            self.drift += record.length - row.length
        else:
            return row
        return None

    def finish(self) -> None:
        while self.next is not None:
            row = self._take()
            self.disagree(None, f"the ledger's row for {row.source} is not at byte {row.offset}")


def _header_problems(columns: list[str], report: Report) -> None:
    """A header other than the checkpoint's: every name must be an ACS name, once; LSI's required ones there."""
    if not any(c in INDEX for c in columns):
        report.add(1, "not an ACS file: none of its header names is an ACS column name")
        return
    for n, name in enumerate(columns, start=1):
        if name not in INDEX:
            report.add(1, f"header column {n} '{name}' is not an ACS column name")
        elif columns.index(name) != n - 1:
            report.add(1, f"header column {n} '{name}' is there twice")
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            report.add(1, f"the column '{name}' is absent, and LSI rejects a file without it")


def format_report(report: Report) -> str:
    if report.kind == "checkpoint":
        lines = [f"checkpoint  {report.path}", f"rows        {report.rows}", f"dialect     {report.dialect}",
                 f"ledger      {report.ledger}"]
    else:
        lines = [f"ACS file    {report.path}", f"rows        {report.rows}", f"dialect     {report.dialect}",
                 f"columns     {len(COLUMNS) - len(report.absent)} of {len(COLUMNS)} ACS columns" +
                 (f"; absent: {', '.join(report.absent)}" if report.absent else "")]
    for p in report.problems:
        lines.append(f"  {'line ' + str(p['line']) if p['line'] else 'file'}: {p['message']}")
    if report.counts["structural"] > len(report.problems):
        lines.append(f"  ... and {report.counts['structural'] - len(report.problems)} more")
    errors, warnings = report.counts[Severity.ERROR], report.counts[Severity.WARNING]
    lines.append(f"LSI checks  {errors} error(s), {warnings} warning(s); LSI-ready "
                 f"{report.rows - report.not_ready} of {report.rows} rows")
    for r in report.row_problems:
        lines.append(f"  line {r['line']} ({r['isbn'] or 'no ISBN'}) {r['severity']}: {r['column']}: {r['message']} "
                     f"[{r['rule']}]")
    if errors + warnings > len(report.row_problems):
        lines.append(f"  ... and {errors + warnings - len(report.row_problems)} more")
    lines.append("clean" if report.clean else "NOT CLEAN")
    return "\n".join(lines)
