"""Pre-flight: do the interior and cover PDFs a row names agree with the row?

Where a row's files are looked for, in order (docs/preflight.md):
1. the `files` folder (setting or --files): the names in the row's Interior / Cover cells;
2. the cover only: the book's own `full_spread_pdf_path`, relative to the pipeline's root;
3. the tranche's `file_path_templates` ({imprint} {title_slug} {isbn} {title} {author}), relative to
   the pipeline's output/ folder.
The pipeline's root is the folder above output/ when the book's JSON lies in
<root>/output/<imprint>_build/processed_json/, else the parent of `pipeline_configs` (its configs/).

The files are read by bounded child processes (pdf_files.py). File problems are worked out from the
files as they are and stored nowhere: they change when files change, not when rows do.
"""

from __future__ import annotations

import json
import math
import os
import string
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence, TypedDict

from ..errors import CheckpointError, ConfigError
from ..inputs import read_config_text, read_regular_file, shown
from ..rows.book import parse_book
from ..rows.columns import CONTRIBUTOR_ONE, INDEX, ISBN_OR_SKU, TITLE, Problem, Severity
from ..rows.preflight_rules import COVER, FILE_COLUMNS, INTERIOR, RULES, Finding, file_findings
from ..rows.values import file_name_fields
from ..settings import Key, Settings
from .ledger import Ledger
from .pdf_files import FILES_PER_CHILD, Limits, Memo, read_files
from .table import open_table

BOOK_KEYS = ("spine_width_in", "full_spread_pdf_path")  # all that pre-flight reads of a book's JSON


@dataclass(frozen=True)
class Places:
    """Where files are looked for: the upload folder, the pipeline's root, the tranche's templates."""

    files: Path | None = None
    configs_root: Path | None = None  # the pipeline's configs/ folder (its parent is the root)
    templates: Mapping[str, str] = field(default_factory=dict)  # INTERIOR/COVER -> path under output/


class FileProblemJson(TypedDict):
    rule: str
    severity: str
    file: str  # INTERIOR or COVER
    message: str
    fix: str


class BookCheckJson(TypedDict):
    line: int
    isbn: str
    title: str
    files: dict[str, str | None]
    problems: list[FileProblemJson]


class PreflightJson(TypedDict):
    """`sidecar preflight --json` for one checkpoint (and verify --json's "files")."""

    checkpoint: str
    clean: bool
    books: list[BookCheckJson]


@dataclass
class BookCheck:
    line: int
    isbn: str
    title: str
    files: dict[str, str | None]  # INTERIOR/COVER -> the file read, None when not found
    findings: list[Finding]
    looked_at: list[Path] = field(default_factory=list)  # every place a file of the row may be

    def json(self) -> BookCheckJson:
        problems = [FileProblemJson(rule=f.rule, severity=f.severity, file=f.role, message=f.message,
                                    fix=RULES[f.rule].fix) for f in self.findings]
        return BookCheckJson(line=self.line, isbn=self.isbn, title=self.title, files=self.files, problems=problems)


@dataclass
class PreflightReport:
    checkpoint: Path
    books: list[BookCheck] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)  # the book JSONs the rows came from

    @property
    def clean(self) -> bool:
        return not any(f.severity == Severity.ERROR for book in self.books for f in book.findings)

    def json(self) -> PreflightJson:
        return PreflightJson(checkpoint=str(self.checkpoint), clean=self.clean, books=[b.json() for b in self.books])

    def by_line(self) -> dict[int, list[tuple[Problem, str]]]:
        """Each row's file problems (as row Problems on the file's column) with their fixes, by the row's line."""
        return {b.line: [(f.problem(), RULES[f.rule].fix) for f in b.findings] for b in self.books if b.findings}


def preflight_with(settings: Settings, checkpoint: Path, memo: Memo | None = None,
                   stop: threading.Event | None = None) -> PreflightReport:
    """preflight_checkpoint() with the places, ledger and book size limit of the settings. With a stop event
    (the service), a file being written is left for the next look instead of waited for."""
    places = places_for(settings.files, settings.pipeline_configs, settings.tranche)
    return preflight_checkpoint(checkpoint, places, [settings.state_dir], max_book_bytes=settings.max_bytes,
                                memo=memo, stop=stop)


def places_for(files: Path | None, pipeline_configs: Path | None, tranche: Path | None) -> Places:
    """The places of the settings: the tranche's file_path_templates are read from its file."""
    templates: dict[str, str] = {}
    if tranche is not None:
        try:
            data = json.loads(read_config_text(tranche, "tranche"))
        except (ConfigError, ValueError):
            data = {}  # the settings loaded it already; an unreadable tranche just has no templates
        given = data.get("file_path_templates") if isinstance(data, dict) else None
        if isinstance(given, dict):
            templates = {role: given[role] for role in (INTERIOR, COVER) if isinstance(given.get(role), str)}
    return Places(files=files, configs_root=pipeline_configs, templates=templates)


def preflight_checkpoint(checkpoint: Path, places: Places, state_dirs: Sequence[Path] = (),
                         limits: Limits = Limits(), max_book_bytes: int = 16 << 20, memo: Memo | None = None,
                         stop: threading.Event | None = None) -> PreflightReport:
    """Check the files of every row of an ACS file; the book JSONs come from the ledger that knows it.
    With a memo, files and books unchanged since its last run are not read again (see check_rows for stop).

    Raises CheckpointError when the file is not an ACS file, OSError when it cannot be read."""
    rows: list[RowFiles] = []
    books, imprint = _books_of(checkpoint, state_dirs)
    with open_table(checkpoint) as table:
        columns = table.columns
        if ISBN_OR_SKU not in columns:
            raise CheckpointError(f"{checkpoint} has no '{ISBN_OR_SKU}' column; it is not an ACS file")
        for record in table.records():
            if len(record.cells) != len(columns):
                continue  # verify reports a torn or broken record; there is no row to check
            cells = {c: v for c, v in zip(columns, record.cells) if c in INDEX}
            source = books.get(cells[ISBN_OR_SKU])
            book = _book(source, max_book_bytes, memo) if source else {}
            rows.append(RowFiles(record.line, cells, book, _root(source, places), imprint))
    return PreflightReport(checkpoint, check_rows(rows, places, limits, memo, stop), list(books.values()))


@dataclass(frozen=True)
class RowFiles:
    """A row, and what its files are found by and checked against."""

    line: int
    cells: Mapping[str, str]
    book: Mapping[str, Any]  # the book's JSON (spine_width_in, full_spread_pdf_path); {} when unknown
    root: Path | None  # the pipeline's root
    imprint: str


def check_rows(rows: Sequence[RowFiles], places: Places, limits: Limits = Limits(), memo: Memo | None = None,
               stop: threading.Event | None = None) -> list[BookCheck]:
    """Find each row's files, read them FILES_PER_CHILD at a time by bounded child processes, apply the rules.
    Without a stop event (a tool's one run), a file being written is read once more after SETTLE_SECONDS;
    with one (the service), it is left for the next look, and once stop is set the files not read yet are
    not judged (rule file-settled) and the run ends soon."""
    checks: list[BookCheck] = []
    wanted: dict[tuple[int, str], Path] = {}
    for n, row in enumerate(rows):
        check = BookCheck(row.line, row.cells.get(ISBN_OR_SKU, ""), row.cells.get(TITLE, ""), {}, [])
        for role in (INTERIOR, COVER):
            found, looked = candidates(role, row.cells, row.book, row.root, row.imprint, places)
            check.looked_at += [*found, *([places.files] if places.files else [])]  # a file added there, or it
            path, where = _first(found, looked)
            check.files[role] = str(path) if path else None
            if path is None:
                check.findings.append(Finding("file-found", role, "not found; looked for " + ", ".join(where)))
            else:
                wanted[(n, role)] = path
        checks.append(check)
    keys = list(wanted)
    for start in range(0, len(keys), FILES_PER_CHILD):
        chunk = keys[start:start + FILES_PER_CHILD]
        facts = read_files({key: wanted[key] for key in chunk}, limits, memo, stop, patient=stop is None)
        for n, role in chunk:
            checks[n].findings += file_findings(role, facts[n, role], rows[n].cells, _spine(rows[n].book))
    return checks


def _first(found: list[Path], looked: list[str]) -> tuple[Path | None, list[str]]:
    for path in found:
        if os.path.lexists(path):
            return path, looked
    return None, [shown(p) for p in found] + looked or ["nowhere: no files folder, and no pipeline root"]


def candidates(role: str, cells: Mapping[str, str], book: Mapping[str, Any], root: Path | None, imprint: str,
               places: Places) -> tuple[list[Path], list[str]]:
    """The paths where the row's file for role may be, first first, and the places that could not be
    looked at, with why (a blank cell, a template needing a value the row lacks)."""
    found: list[Path] = []
    looked: list[str] = []
    name = os.path.basename(cells.get(FILE_COLUMNS[role], ""))
    if places.files is not None:
        if not places.files.is_dir():
            looked.append(f"{places.files} (the files folder: {'not a folder' if places.files.exists() else 'missing'})")
        elif name:
            found.append(_named(places.files, name))
        else:
            looked.append(f"nothing in {places.files} (the row's {FILE_COLUMNS[role]} is blank)")
    spread = book.get("full_spread_pdf_path")
    if role == COVER and root is not None and isinstance(spread, str) and spread:
        found.append(root / spread)
    template = places.templates.get(role)
    if template and root is not None:
        fields = file_name_fields(cells.get(ISBN_OR_SKU, ""), cells.get(TITLE, ""), imprint,
                                  cells.get(CONTRIBUTOR_ONE, ""))
        names = [n for _, n, _, _ in string.Formatter().parse(template) if n is not None]
        unknown, blank = [n for n in names if n not in fields], [n for n in names if n in fields and not fields[n]]
        if not unknown and not blank:
            found.append(root / "output" / template.format(**fields))
        else:
            why = [f"{{{n}}} is not one of {{{'}, {'.join(fields)}}}" for n in unknown] + \
                  [f"the row gives no {{{n}}}" for n in blank]
            looked.append(f"the tranche's {role} template '{template}' ({'; '.join(why)})")
    return found, looked


def _named(folder: Path, name: str) -> Path:
    """folder/name; for a name beyond ASCII, the file whose name is the same text in another Unicode
    normalisation when that is the one there (a Mac writes names decomposed: NFD)."""
    path = folder / name
    if name.isascii() or os.path.lexists(path):
        return path
    wanted = unicodedata.normalize("NFC", name)
    try:
        return next((folder / n for n in os.listdir(folder) if unicodedata.normalize("NFC", n) == wanted), path)
    except OSError:
        return path


def _books_of(checkpoint: Path, state_dirs: Sequence[Path]) -> tuple[dict[str, Path], str]:
    """ISBN -> the book JSON that made the row, and the imprint, from the first ledger that knows the file."""
    for state_dir in dict.fromkeys([*state_dirs, checkpoint.parent / "state"]):
        try:
            ledger = Ledger.read_only(state_dir)
        except CheckpointError:
            continue
        with ledger:
            record = ledger.checkpoint_at(checkpoint.resolve())
            if record is not None:
                return {row.isbn: Path(row.source) for row in ledger.rows(record.id)}, record.imprint
    return {}, ""


def _book(source: Path, max_bytes: int, memo: Memo | None) -> Mapping[str, Any]:
    """The keys pre-flight reads of the book's JSON, or none when it is gone or unreadable (its file checks
    then say what is unknown)."""
    try:
        st = os.stat(source, follow_symlinks=False)
        known = memo.get("book", source, st) if memo is not None else None
        if known is None:
            data, _ = read_regular_file(source, max_bytes, Key.BOOKS_MAX_BYTES, follow_symlinks=False)
            book = parse_book(data)
            known = {key: book[key] for key in BOOK_KEYS if key in book}
        if memo is not None:
            memo.put("book", source, st, known)
        return known
    except Exception:  # noqa: BLE001 - a book that cannot be read only leaves the spine unknown
        return {}


def _root(source: Path | None, places: Places) -> Path | None:
    """The pipeline's root: above output/<imprint>_build/processed_json/, else the parent of configs/."""
    if source is not None and len(source.parents) > 3:
        folder, build, output = source.parents[0], source.parents[1], source.parents[2]
        if folder.name == "processed_json" and build.name.endswith("_build") and output.name == "output":
            return source.parents[3]
    return places.configs_root.parent if places.configs_root else None


def _spine(book: Mapping[str, Any]) -> float | None:
    """The book's spine_width_in in inches, a number or a number written as text; None unless 0 < it < 10."""
    value = book.get("spine_width_in")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 < value < 10:
        return float(value)
    return None


def current_checkpoints(state_dir: Path, imprints: Sequence[str]) -> Iterator[Path]:
    """The current checkpoint of each imprint, from the ledger. Raises CheckpointError when there is no
    ledger in state_dir."""
    with Ledger.read_only(state_dir) as ledger:
        for imprint in dict.fromkeys(imprints):
            record = ledger.current_checkpoint(imprint)
            if record is not None:
                yield record.path


class FileReason(TypedDict):
    reason: str  # the file and the rule, e.g. "interior page-count"
    rows: int
    fix: str


class FileReadiness(TypedDict):
    """The files of one checkpoint, as status --json gives them (key "files")."""

    rows: int
    with_file_errors: int
    top_reasons: list[FileReason]


def file_readiness(report: PreflightReport) -> FileReadiness:
    """What status and the summaries show: rows, rows with a file error, and the three most common
    rules broken with the fix of each."""
    reasons: Counter[str] = Counter()
    failing = 0
    for book in report.books:
        errors = {(f.role, f.rule) for f in book.findings if f.severity == Severity.ERROR}
        failing += bool(errors)
        reasons.update(f"{role} {rule}" for role, rule in sorted(errors))  # ties keep this order
    top = [FileReason(reason=r, rows=n, fix=RULES[r.split()[1]].fix) for r, n in reasons.most_common(3)]
    return FileReadiness(rows=len(report.books), with_file_errors=failing, top_reasons=top)


def files_agree(entries: Sequence[FileReadiness]) -> str:
    """How many rows' files agree with them, as every summary says it: 'N of M rows' files agree with them'."""
    rows, failing = sum(e["rows"] for e in entries), sum(e["with_file_errors"] for e in entries)
    return f"{rows - failing} of {rows} rows' files agree with them"


def files_warning(entries: Sequence[FileReadiness]) -> str | None:
    """The summaries' warning when rows' files have errors (None when none has), like their readiness
    line: how many, the top reasons and what fixes each."""
    rows, failing = sum(e["rows"] for e in entries), sum(e["with_file_errors"] for e in entries)
    if not failing:
        return None
    top = "; ".join(f"{r['reason']} ({r['rows']} rows: {r['fix']})" for e in entries for r in e["top_reasons"])
    return f"{failing} of {rows} rows have file problems (sidecar preflight lists them): {top}"
