"""`sidecar export CHECKPOINT --format xlsx`: a review workbook a publisher can open in any spreadsheet.

Spreadsheets change what they guess is a number or a date when they open a CSV (Audience 01 becomes 1,
ISBNs become numbers), and a `'` guard in the checkpoint would change what LSI receives; so the file for
people is a different file. Every cell of the workbook is a text cell holding the checkpoint's value
exactly; nothing can run as a formula. Sheets: Rows (header frozen and filtered; a cell with an LSI
problem is filled and carries the reason as a comment), Problems (one line each: row, ISBN, title,
column, rule, reason, what fixes it) and Summary (books, LSI-ready or not, top reasons, the source
checkpoint and its sha256). Written with XlsxWriter in constant-memory mode: flat memory at any size.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import TableError
from ..rows import lsi_rules as R
from ..rows.columns import (
    ANNOTATION_SUMMARY, COLUMNS, CONTRIBUTOR_ONE_BIO, COVER_PATH_FILENAME, INDEX, INTERIOR_PATH_FILENAME, ISBN_OR_SKU,
    KEYWORDS, LIGHTNING_SOURCE_ACCOUNT, METADATA_CONTACT_DICTIONARY, PARENT_ISBN, RENDITION_BOOKTYPE,
    SHORT_DESCRIPTION, TABLE_OF_CONTENTS, TITLE, Problem, Severity,
)
from ..rows.lsi_rules import what_fixes
from ..rows.validate import RuleContext
from ..store.atomic import atomic_writer
from ..store.table import Table
from .verify import record_problems, recorded_rows

WIDE = {ISBN_OR_SKU: 16, PARENT_ISBN: 16, METADATA_CONTACT_DICTIONARY: 28, LIGHTNING_SOURCE_ACCOUNT: 26,
        TITLE: 40, ANNOTATION_SUMMARY: 60, SHORT_DESCRIPTION: 50, KEYWORDS: 40, TABLE_OF_CONTENTS: 40,
        CONTRIBUTOR_ONE_BIO: 40, RENDITION_BOOKTYPE: 36, INTERIOR_PATH_FILENAME: 32,
        COVER_PATH_FILENAME: 32}
PROBLEM_HEADER = ("Row", "ISBN", TITLE, "Column", "Severity", "Rule", "Reason", "What fixes it")


def write_review(checkpoint: Path, output: Path, columns: Sequence[str] = COLUMNS,
                 context: RuleContext = RuleContext(), state_dirs: Sequence[Path] = (),
                 file_problems: Mapping[int, Sequence[tuple[Problem, str]]] | None = None) -> tuple[int, int, int]:
    """Write the workbook atomically, record by record; returns (rows, rows not LSI-ready, cells cut). Each row's
    problems are verify's: LSI's cell rules with context, and what the checkpoint's ledger (in state_dirs) kept.

    file_problems: by the record's line, the problems of the files the row names and the fix of each
    (store/preflight.py); they count among the reasons a row is not ready, and fill the file's cell.
    A value longer than a spreadsheet cell holds is cut to what it holds, and the cell is filled and
    carries a comment saying so (and the Summary counts them): never cut without a word.
    Raises TableError when the checkpoint is not a whole ACS checkpoint."""
    reasons: Counter[str] = Counter()
    digest = hashlib.sha256()
    with Table(checkpoint) as table, atomic_writer(output, durable=False) as out, \
            recorded_rows(checkpoint, state_dirs) as recorded:
        if table.columns != list(COLUMNS):
            raise TableError(f"{checkpoint} is not an ACS checkpoint (run `sidecar verify` on it)")
        digest.update(table.header.data)
        import xlsxwriter  # only for workbooks, like openpyxl in store/table.py

        book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
        text, flagged, bold = (book.add_format({"num_format": "@", **f}) for f in (
            {"valign": "top"}, {"valign": "top", "bg_color": "#F8CBAD"}, {"bold": True}))
        rows_sheet, problems_sheet, summary = (book.add_worksheet(n) for n in ("Rows", "Problems", "Summary"))
        _header(rows_sheet, columns, bold, [WIDE.get(c, max(12, min(len(c), 24))) for c in columns])
        _header(problems_sheet, PROBLEM_HEADER, bold, [6, 15, 40, 32, 8, 12, 70, 60])
        index = [COLUMNS.index(c) for c in columns]
        n = found = not_ready = cut = 0
        for record in table.records():
            digest.update(record.data)
            if len(record.cells) != len(COLUMNS) or not record.terminator:
                raise TableError(f"{checkpoint} line {record.line} is not a whole record (run `sidecar verify` on it)")
            n += 1
            listed = [(p, what_fixes(p)) for p in record_problems(dict(zip(COLUMNS, record.cells)), context,
                                                                  recorded(record.offset))]
            listed += (file_problems or {}).get(record.line, ())
            cut += _write_row(rows_sheet, n, columns, [record.cells[i] for i in index], _comments(listed),
                              (text, flagged))
            if any(p.severity == Severity.ERROR for p, _ in listed):
                not_ready += 1
            for problem, fix in listed:
                if problem.column not in columns:
                    continue
                found += 1
                reasons[f"{problem.column}: {problem.message}"] += 1
                cells = (str(n + 1), record.cells[INDEX[ISBN_OR_SKU]], record.cells[INDEX[TITLE]],
                         problem.column, str(problem.severity), problem.rule, problem.message, fix)
                for col, value in enumerate(cells):
                    problems_sheet.write_string(found, col, value, text)
        rows_sheet.autofilter(0, 0, n, len(columns) - 1)
        problems_sheet.autofilter(0, 0, found, len(PROBLEM_HEADER) - 1)
        _summary(summary, bold, text, [
            ("Checkpoint", str(checkpoint.resolve())), ("sha256", digest.hexdigest()), ("Books", str(n)),
            ("LSI-ready", str(n - not_ready)), ("Not LSI-ready", str(not_ready)), ("Cells cut", str(cut)),
            *((f"Top reason {i}", f"{reason} ({count} rows)") for i, (reason, count) in
              enumerate(reasons.most_common(10), start=1)),
        ])
        book.close()
    return n, not_ready, cut


def _write_row(sheet: Any, n: int, columns: Sequence[str], values: Sequence[str], notes: dict[str, list[str]],
               formats: tuple[Any, Any]) -> int:
    """One row of the Rows sheet: a cell with a problem, or cut, is filled and says why; returns the cells cut."""
    cut = 0
    for col, (column, value) in enumerate(zip(columns, values)):
        note = "\n".join(notes.get(column, ()))
        shown = _cell_text(value)
        if shown != value:
            cut += 1
            note = "\n".join(filter(None, [note, f"cut: the checkpoint's value has {len(value):,} characters; this "
                                                  f"cell shows the first {len(shown):,}, as many as a spreadsheet "
                                                  "cell holds"]))
        sheet.write_string(n, col, shown, formats[1] if note else formats[0])
        if note:
            sheet.write_comment(n, col, note)
    return cut


def _cell_text(value: str) -> str:
    """The value, or as much of it as a spreadsheet cell holds (32,767 UTF-16 units), never half a character."""
    if len(value) <= R.CELL_LIMIT.size // 2 or len(value.encode("utf-16-le")) // 2 <= R.CELL_LIMIT.size:
        return value
    units = 0
    for end, ch in enumerate(value):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > R.CELL_LIMIT.size:
            return value[:end]
    return value


def _comments(listed: Sequence[tuple[Problem, str]]) -> dict[str, list[str]]:
    """Each column's problems, as its cell's comment shows them."""
    by_column: dict[str, list[str]] = {}
    for p, _ in listed:
        by_column.setdefault(p.column, []).append(f"{p.severity}: {p.message}")
    return by_column


def _header(sheet: Any, names: Sequence[str], bold: Any, widths: Sequence[int]) -> None:
    for col, (name, width) in enumerate(zip(names, widths)):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, name, bold)
    sheet.freeze_panes(1, 0)
    sheet.set_landscape()  # printed: the header on every page, as wide as the paper allows
    sheet.repeat_rows(0)
    if len(names) < 10:
        sheet.fit_to_pages(1, 0)


def _summary(sheet: Any, bold: Any, text: Any, lines: Sequence[tuple[str, str]]) -> None:
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 100)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    for row, (label, value) in enumerate(lines):
        sheet.write_string(row, 0, label, bold)
        sheet.write_string(row, 1, value, text)
