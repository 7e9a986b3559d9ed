"""`sidecar preflight`: do the interior and cover PDFs a row names agree with the row?

Where a row's files are looked for, in order (docs/preflight.md):
1. the `files` folder (setting or --files): the names in the row's Interior / Cover cells;
2. the cover only: the book's own `full_spread_pdf_path`, relative to the pipeline's root;
3. the tranche's `file_path_templates` ({imprint} {title_slug} {isbn} {title} {author}), relative to
   the pipeline's output/ folder.
The pipeline's root is the folder above output/ when the book's JSON lies in
<root>/output/<imprint>_build/processed_json/, else the parent of `pipeline_configs` (its configs/).

The files are read by child processes (tools/pdf_facts.py), FILES_PER_CHILD each, killed when one
runs over Limits: no file can hang or exhaust the run, and the service's system-call filter (which denies
setrlimit) does not matter, because nothing here sets a resource limit. File problems are computed
afresh on every run and stored nowhere: they change when files change, not when rows do.
"""

from __future__ import annotations

import json
import math
import os
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import CheckpointError, ConfigError, InputError
from ..inputs import open_regular_file, read_config_text, read_regular_file, shown
from ..rows.book import parse_book
from ..rows.columns import INDEX, Problem
from ..rows.preflight_rules import COVER, FILE_COLUMNS, INTERIOR, RULES, Finding, file_findings
from ..rows.values import sanitize_filename
from ..settings import Settings
from ..store.ledger import Ledger
from ..store.table import open_table

SETTLE_SECONDS = 2.0  # the engine's "racy" window: a file changed this recently may still be being written
POLL_SECONDS = 0.02  # how often the child's memory is looked at while waiting for it
FILES_PER_CHILD = 32  # files one child process reads: its start (the interpreter, pypdf) is paid once for them


@dataclass(frozen=True)
class Limits:
    """What reading one file may cost: its wall time, and the resident memory of the reading process."""

    seconds: float = 60.0
    memory_bytes: int = 512 << 20


@dataclass(frozen=True)
class Places:
    """Where files are looked for: the upload folder, the pipeline's root, the tranche's templates."""

    files: Path | None = None
    configs_root: Path | None = None  # the pipeline's configs/ folder (its parent is the root)
    templates: Mapping[str, str] = field(default_factory=dict)  # INTERIOR/COVER -> path under output/


@dataclass
class BookCheck:
    line: int
    isbn: str
    title: str
    files: dict[str, str | None]  # INTERIOR/COVER -> the file read, None when not found
    findings: list[Finding]

    def json(self) -> dict[str, Any]:
        return {"line": self.line, "isbn": self.isbn, "title": self.title, "files": self.files,
                "problems": [{"rule": f.rule, "severity": f.severity, "file": f.role, "message": f.message,
                              "fix": RULES[f.rule].fix} for f in self.findings]}


@dataclass
class PreflightReport:
    checkpoint: Path
    books: list[BookCheck] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not any(f.severity == "error" for book in self.books for f in book.findings)

    def json(self) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint), "clean": self.clean, "books": [b.json() for b in self.books]}

    def by_line(self) -> dict[int, list[tuple[Problem, str]]]:
        """Each row's file problems (as row Problems on the file's column) with their fixes, by the row's line."""
        return {b.line: [(f.problem(), RULES[f.rule].fix) for f in b.findings] for b in self.books if b.findings}


def preflight_with(settings: Settings, checkpoint: Path) -> PreflightReport:
    """preflight_checkpoint() with the places, ledger and book size limit of the settings."""
    places = places_for(settings.files, settings.pipeline_configs, settings.tranche)
    return preflight_checkpoint(checkpoint, places, [settings.state_dir], max_book_bytes=settings.max_bytes)


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
                         limits: Limits = Limits(), max_book_bytes: int = 16 << 20) -> PreflightReport:
    """Check the files of every row of an ACS file; the book JSONs come from the ledger that knows it."""
    rows: list[RowFiles] = []
    books, imprint = _books_of(checkpoint, state_dirs)
    with open_table(checkpoint) as table:
        columns = table.columns
        if "ISBN or SKU" not in columns:
            raise CheckpointError(f"{checkpoint} has no 'ISBN or SKU' column; it is not an ACS file")
        for record in table.records():
            if len(record.cells) != len(columns):
                continue  # verify reports a torn or broken record; there is no row to check
            cells = {c: v for c, v in zip(columns, record.cells) if c in INDEX}
            source = books.get(cells["ISBN or SKU"])
            book = _book(source, max_book_bytes) if source else {}
            rows.append(RowFiles(record.line, cells, book, _root(source, places), imprint))
    return PreflightReport(checkpoint, check_rows(rows, places, limits))


@dataclass(frozen=True)
class RowFiles:
    """A row, and what its files are found by and checked against."""

    line: int
    cells: Mapping[str, str]
    book: Mapping[str, Any]  # the book's JSON (spine_width_in, full_spread_pdf_path); {} when unknown
    root: Path | None  # the pipeline's root
    imprint: str


def check_row(line: int, cells: Mapping[str, str], book: Mapping[str, Any], root: Path | None, imprint: str,
              places: Places, limits: Limits = Limits()) -> BookCheck:
    """One row: find its files, read them in a bounded child process, apply the rules."""
    [check] = check_rows([RowFiles(line, cells, book, root, imprint)], places, limits)
    return check


def check_rows(rows: Sequence[RowFiles], places: Places, limits: Limits = Limits()) -> list[BookCheck]:
    """Find each row's files, read them FILES_PER_CHILD at a time by bounded child processes, apply the rules."""
    checks: list[BookCheck] = []
    wanted: dict[tuple[int, str], Path] = {}
    for n, row in enumerate(rows):
        check = BookCheck(row.line, row.cells.get("ISBN or SKU", ""), row.cells.get("Title", ""), {}, [])
        for role in (INTERIOR, COVER):
            path, looked = locate(role, row.cells, row.book, row.root, row.imprint, places)
            check.files[role] = str(path) if path else None
            if path is None:
                check.findings.append(Finding("file-found", role, "not found; looked for " + ", ".join(looked)))
            else:
                wanted[(n, role)] = path
        checks.append(check)
    keys = list(wanted)
    for start in range(0, len(keys), FILES_PER_CHILD):
        chunk = keys[start:start + FILES_PER_CHILD]
        facts = read_files({key: wanted[key] for key in chunk}, limits)
        for n, role in chunk:
            checks[n].findings += file_findings(role, facts[n, role], rows[n].cells, _spine(rows[n].book))
    return checks


def locate(role: str, cells: Mapping[str, str], book: Mapping[str, Any], root: Path | None, imprint: str,
           places: Places) -> tuple[Path | None, list[str]]:
    """The file a row names for role, and every place looked at (shown when none holds it)."""
    candidates: list[Path] = []
    looked: list[str] = []
    name = os.path.basename(cells.get(FILE_COLUMNS[role], ""))
    if places.files is not None:
        if name:
            candidates.append(places.files / name)
        else:
            looked.append(f"nothing in {places.files} (the row's {FILE_COLUMNS[role]} is blank)")
    spread = book.get("full_spread_pdf_path")
    if role == COVER and root is not None and isinstance(spread, str) and spread:
        candidates.append(root / spread)
    template = places.templates.get(role)
    if template and root is not None:
        fields = {"imprint": imprint, "title_slug": sanitize_filename(cells.get("Title", "")),
                  "isbn": cells.get("ISBN or SKU", ""), "title": cells.get("Title", ""),
                  "author": cells.get("Contributor One", "")}
        names = [n for _, n, _, _ in string.Formatter().parse(template) if n is not None]
        if all(n in fields and fields[n] for n in names):
            candidates.append(root / "output" / template.format(**fields))
        else:
            looked.append(f"the tranche's {role} template '{template}' (it needs {{{', '.join(names)}}})")
    for path in candidates:
        if os.path.lexists(path):
            return path, looked
    return None, [shown(p) for p in candidates] + looked or ["nowhere: no files folder, and no pipeline root"]


def read_files(paths: Mapping[Any, Path], limits: Limits = Limits()) -> dict[Any, dict[str, Any]]:
    """The facts of each file (key -> facts), read by child processes held to limits, each file to its own."""
    facts: dict[Any, dict[str, Any]] = {}
    before: dict[Any, os.stat_result] = {}
    started = time.time()
    for key, path in paths.items():
        try:
            fd, before[key] = open_regular_file(path)  # never a FIFO or a device, which could block a reader
            os.close(fd)
        except (InputError, OSError) as exc:
            facts[key] = {"unreadable": str(exc) if isinstance(exc, InputError) else f"cannot open it: {exc}",
                          "rule": "file-readable"}
    pending = [key for key in paths if key not in facts]
    while pending:
        results, over = _child([paths[key] for key in pending], limits)
        facts.update(zip(pending, results))
        pending = pending[len(results):]
        if over and pending:
            facts[pending.pop(0)] = {"unreadable": over, "rule": "file-limits"}
    for key, st in before.items():
        facts[key] = _settled(paths[key], st, facts[key], started)
    return facts


def _settled(path: Path, before: os.stat_result, facts: dict[str, Any], started: float) -> dict[str, Any]:
    """A file that changed while read, or that is unreadable and had changed a moment before its reading
    started, is being written: it is not judged (the readiness rule of the books)."""
    try:
        after = os.stat(path)
    except OSError:
        return {"unreadable": "it was removed while being read; checked again at the next run", "rule": "file-settled"}
    age = max(0.0, started - after.st_mtime)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return {"unreadable": "it changed while being read (still being written); not judged yet", "rule": "file-settled"}
    if facts.get("unreadable") and facts.get("rule") is None and age < SETTLE_SECONDS:
        return {"unreadable": f"being written (changed {age:.1f} s ago) and not a whole PDF yet; not judged yet",
                "rule": "file-settled"}
    return facts


def _child(paths: Sequence[Path], limits: Limits) -> tuple[list[dict[str, Any]], str | None]:
    """Run pdf_facts on paths; the facts it printed, and why it was stopped (None when it finished)."""
    over = None
    with tempfile.TemporaryFile() as out:
        # -P: the current folder is not put on the child's import path (a stray pypdf.py there is not run)
        proc = subprocess.Popen([sys.executable, "-P", "-m", "sidecar.tools.pdf_facts", *map(str, paths)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL)
        deadline, written = time.monotonic() + limits.seconds, 0
        while True:
            try:
                proc.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if os.fstat(out.fileno()).st_size != written:  # a file's facts came out: the next one's time starts
                    deadline, written = time.monotonic() + limits.seconds, os.fstat(out.fileno()).st_size
                if time.monotonic() > deadline:
                    over = f"not checked: reading it took over {limits.seconds:g} s (the limit); stopped"
                elif _rss_bytes(proc.pid) > limits.memory_bytes:
                    over = f"not checked: reading it needed over {limits.memory_bytes >> 20} MB (the limit); stopped"
                if over:
                    proc.kill()
                    proc.wait()
                    break
        out.seek(0)
        lines = _json_lines(out.read())
    results = [line for line in lines if "peak_rss_kb" not in line]
    if over is None and len(results) < len(paths):
        over = f"not checked: the reading process failed (exit {proc.returncode})"
    return results, over


def _json_lines(data: bytes) -> list[dict[str, Any]]:
    """The child's whole lines, up to the first that is not a JSON object (it was killed mid-line)."""
    found = []
    for line in data.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            break
        if not isinstance(value, dict):
            break
        found.append(value)
    return found


def _rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc); 0 when it cannot be read (it has just exited)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


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


def _book(source: Path, max_bytes: int) -> dict[str, Any]:
    """The book's JSON, or nothing when it is gone or unreadable (its file checks say what is unknown)."""
    try:
        data, _ = read_regular_file(source, max_bytes, "books.max_bytes", follow_symlinks=False)
        return parse_book(data)
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
    value = book.get("spine_width_in")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 < value < 10:
        return float(value)
    return None


def format_preflight(report: PreflightReport) -> str:
    """A table, a line per book (line, ISBN, errors, warnings, title), then each book's problems."""
    lines = [f"files of    {report.checkpoint}", f"{'line':>5}  {'ISBN':13}  {'errors':>6}  {'warnings':>8}  title"]
    for book in report.books:
        errors = sum(f.severity == "error" for f in book.findings)
        lines.append(f"{book.line:>5}  {book.isbn or '-':13}  {errors:>6}  {len(book.findings) - errors:>8}  "
                     f"{book.title[:60]}")
    for book in report.books:
        for f in book.findings:
            lines.append(f"  line {book.line} ({book.isbn or 'no ISBN'}) {f.severity}: {f.role}: {f.message} "
                         f"[{f.rule}]")
    lines.append("files clean" if report.clean else "files NOT CLEAN")
    return "\n".join(lines)


def current_checkpoints(state_dir: Path, imprints: Sequence[str]) -> Iterator[Path]:
    """The current checkpoint of each imprint, from the ledger."""
    with Ledger.read_only(state_dir) as ledger:
        for imprint in dict.fromkeys(imprints):
            record = ledger.current_checkpoint(imprint)
            if record is not None:
                yield record.path


def file_readiness(report: PreflightReport) -> dict[str, Any]:
    """What status and the --once summary show: rows, rows with a file error, and the three most common
    rules broken with the fix of each."""
    reasons: Counter[str] = Counter()
    failing = 0
    for book in report.books:
        errors = {(f.role, f.rule) for f in book.findings if f.severity == "error"}
        failing += bool(errors)
        reasons.update(f"{role} {rule}" for role, rule in sorted(errors))  # ties keep this order
    return {"rows": len(report.books), "with_file_errors": failing,
            "top_reasons": [{"reason": r, "rows": n, "fix": RULES[r.split()[1]].fix} for r, n in reasons.most_common(3)]}


def files_warning(entries: Sequence[Mapping[str, Any]]) -> str | None:
    """The --once summary's warning when rows' files have errors (None when none has), like its
    readiness line: how many, the top reasons and what fixes each."""
    rows, failing = sum(e["rows"] for e in entries), sum(e["with_file_errors"] for e in entries)
    if not failing:
        return None
    top = "; ".join(f"{r['reason']} ({r['rows']} rows: {r['fix']})" for e in entries for r in e["top_reasons"])
    return f"{failing} of {rows} rows have file problems (sidecar preflight lists them): {top}"


def format_file_readiness(entry: Mapping[str, Any]) -> list[str]:
    """status's lines for the files of the current checkpoint."""
    lines = [f"  files       {entry['rows'] - entry['with_file_errors']} of {entry['rows']} rows' files agree with them"]
    lines += [f"    file problem: {r['reason']} ({r['rows']} rows): {r['fix']}" for r in entry["top_reasons"]]
    return lines
