"""`sidecar preflight` and status: the pre-flight of the files rows name (store/preflight.py), as text."""

from __future__ import annotations

from ..rows.columns import Severity
from ..store.preflight import FileReadiness, PreflightReport, files_agree


def format_preflight(report: PreflightReport) -> str:
    """A table, a line per book (line, ISBN, errors, warnings, title), then each book's problems."""
    lines = [f"files of    {report.checkpoint}", f"{'line':>5}  {'ISBN':13}  {'errors':>6}  {'warnings':>8}  title"]
    for book in report.books:
        errors = sum(f.severity == Severity.ERROR for f in book.findings)
        lines.append(f"{book.line:>5}  {book.isbn or '-':13}  {errors:>6}  {len(book.findings) - errors:>8}  "
                     f"{book.title[:60]}")
    for book in report.books:
        for f in book.findings:
            lines.append(f"  line {book.line} ({book.isbn or 'no ISBN'}) {f.severity}: {f.role}: {f.message} "
                         f"[{f.rule}]")
    lines.append("files clean" if report.clean else "files NOT CLEAN")
    return "\n".join(lines)


def format_file_readiness(entry: FileReadiness) -> list[str]:
    """status's lines for the files of the current checkpoint."""
    lines = [f"  files       {files_agree([entry])}"]
    lines += [f"    file problem: {r['reason']} ({r['rows']} rows): {r['fix']}" for r in entry["top_reasons"]]
    return lines
