"""LSI's rules for the files a row names (the interior and cover PDFs), as data, and the checks that apply
them to what was read from each file. Pure: the facts come in as plain values (store/pdf_facts.py reads
them), problems go out; nothing here opens a file.

Lengths are PDF points (1/72 in) unless a name says inches. The rules themselves (Scope.FILE) are in lsi_rules.py, the one rule table;
docs/preflight.md lists them with their sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .columns import (CUSTOM_TRIM_HEIGHT_INCHES, CUSTOM_TRIM_WIDTH_INCHES, KEY, PAGES, RENDITION_BOOKTYPE, Problem,
                      Severity)
from .lsi_rules import FILE_COLUMNS as FILE_COLUMNS, RULES as RULES  # store/preflight.py takes them from here

POINTS = 72.0  # a PDF unit is 1/72 in
BLEED_IN = 0.125  # LSI: 1/8" on the three trim edges of an interior; the cover's bleed, all round
INTERIOR_TOLERANCE_IN = 1 / 72  # one point: a generator's rounding of mm trims (6.14 in vs 156 mm)
COVER_TOLERANCE_IN = 1 / 32  # spine widths are estimates of paper bulk; 0.1 in off is far outside this

INTERIOR, COVER = "interior", "cover"

@dataclass(frozen=True)
class Finding:
    """One problem of one file: the rule broken and what was found."""

    rule: str  # an id in RULES
    role: str  # INTERIOR or COVER
    message: str

    @property
    def severity(self) -> Severity:
        return RULES[self.rule].severity

    def problem(self) -> Problem:
        """As a row Problem, on the column that names the file."""
        return RULES[self.rule].at(FILE_COLUMNS[self.role], f"{self.role}: {self.message}")


_NUMBER = r"(\d+(?:\.\d+)?)"
_TRIM = re.compile(rf"{_NUMBER}\s*x\s*{_NUMBER}\s*in\b(?:\s*or\s*{_NUMBER}\s*x\s*{_NUMBER}\s*mm\b)?")
MM = 25.4


def trim_inches(book_type: str) -> tuple[float, float] | None:
    """The trim (width, height) in inches named in an LSI book type ('POD: 6 x 9 in or 229 x 152 mm ...')."""
    found = _TRIM.search(book_type)
    return (float(found.group(1)), float(found.group(2))) if found else None


def trim_sizes(book_type: str, cells: Mapping[str, str]) -> list[tuple[float, float]]:
    """Every trim (width, height) in inches a page may have for the row: the book type's inch reading and
    its mm reading (LSI writes the mm as height x width: '6 x 9 in or 229 x 152 mm'); for a Custom Trim
    Size book type, the row's Custom Trim Width / Height (inches). [] when none is known."""
    if "Custom Trim" in book_type:
        try:
            size = float(cells.get(CUSTOM_TRIM_WIDTH_INCHES, "")), float(cells.get(CUSTOM_TRIM_HEIGHT_INCHES, ""))
        except ValueError:
            return []
        return [size] if all(0 < v < 100 for v in size) else []
    found = _TRIM.search(book_type)
    if not found:
        return []
    sizes = [(float(found.group(1)), float(found.group(2)))]
    if found.group(3):
        sizes.append((float(found.group(4)) / MM, float(found.group(3)) / MM))
    return sizes


def is_perfect_bound(book_type: str) -> bool:
    return "Perfect Bound" in book_type


def inches(points: float) -> str:
    """A length in points shown in inches, to 3 decimals without trailing zeros (612 -> '8.5')."""
    return f"{points / POINTS:.3f}".rstrip("0").rstrip(".")


def page_count_problems(pages_in_pdf: int, pages_cell: str) -> list[Problem]:
    """The interior's page count against the row's Pages cell, and LSI's even-count rule. Problems on Pages."""
    return [RULES[f.rule].at(PAGES, f"{f.role}: {f.message}") for f in _page_count_findings(pages_in_pdf, pages_cell)]


def _page_count_findings(pages: int, pages_cell: str) -> list[Finding]:
    found = []
    if pages_cell.strip() != str(pages):
        said = f"says {pages_cell}" if pages_cell.strip() else "is blank"
        found.append(Finding("page-count", INTERIOR, f"{pages} pages in the PDF, the row's Pages {said}"))
    if pages % 2:
        found.append(Finding(KEY[PAGES], INTERIOR,
                             f"{pages} pages, an odd number; LSI's final page count is even"))
    return found


def file_findings(role: str, facts: Mapping[str, Any], cells: Mapping[str, str],
                  spine_in: float | None) -> list[Finding]:
    """The rules on one file's facts (see store/pdf_facts.py for their shape) against the row's cells.

    spine_in: the book's spine_width_in (its JSON), for the cover's width; None when unknown.
    """
    if facts.get("unreadable"):
        return [Finding(facts.get("rule", "file-readable"), role, facts["unreadable"])]
    book_type = cells.get(RENDITION_BOOKTYPE, "")
    found = _font_and_pdfx_findings(role, facts)
    if role == INTERIOR:
        found[:0] = [*_page_count_findings(facts["page_count"], cells.get(PAGES, "")),
                     *_interior_geometry(facts, book_type, cells)]
    else:
        found[:0] = _cover_findings(facts, book_type, cells, spine_in)
    return found


def _font_and_pdfx_findings(role: str, facts: Mapping[str, Any]) -> list[Finding]:
    found = []
    missing, count = facts.get("fonts_not_embedded", []), facts.get("fonts_not_embedded_count", 0)
    if count:
        more = f" and {count - len(missing)} more" if count > len(missing) else ""
        found.append(Finding("fonts-embedded", role, f"{count} font{'s' if count > 1 else ''} not embedded: "
                             f"{', '.join(missing)}{more}"))
    if not str(facts.get("pdfx") or "").startswith("PDF/X-1"):
        what = f"declares {facts['pdfx']}" if facts.get("pdfx") else "declares no PDF/X version"
        found.append(Finding("pdf-x1a", role, f"not PDF/X-1a ({what}); LSI asks for PDF/X-1a:2001"))
    return found


def _edges(outer: Sequence[float], inner: Sequence[float]) -> tuple[float, float, float, float]:
    """How far outer reaches beyond inner on each edge: left, bottom, right, top."""
    return inner[0] - outer[0], inner[1] - outer[1], outer[2] - inner[2], outer[3] - inner[3]


def _interior_geometry(facts: Mapping[str, Any], book_type: str, cells: Mapping[str, str]) -> list[Finding]:
    """Trim size and bleed, per group of pages that share their boxes and side (see pdf_facts)."""
    sizes = trim_sizes(book_type, cells)
    if not sizes:
        custom = f"the row's {CUSTOM_TRIM_WIDTH_INCHES} and {CUSTOM_TRIM_HEIGHT_INCHES} are not both sizes"
        return [Finding("interior-not-checked", INTERIOR, "trim and bleed not checked: " + (
            custom if "Custom Trim" in book_type else f"the book type '{book_type}' names no trim in inches"))]
    trims = [(w * POINTS, h * POINTS) for w, h in sizes]
    tol, bleed = INTERIOR_TOLERANCE_IN * POINTS, BLEED_IN * POINTS
    wrong_size, bind, bad_bleed = _Tally(), _Tally(), _Tally()
    for group in facts["geometry"]:
        box = group["trim"] or group["media"]
        w, h = box[2] - box[0], box[3] - box[1]
        if group["trim"] is None and any(_near((w, h), (tw + bleed, th + 2 * bleed), tol) for tw, th in trims):
            continue  # no TrimBox, and the page is the trim plus 1/8 in on three edges: LSI's bleed size
        if not any(_near((w, h), size, tol) for size in trims):
            wrong_size.add(group, f"{inches(w)} x {inches(h)} in ({'TrimBox' if group['trim'] else 'MediaBox, no TrimBox'})")
            continue
        if group["trim"] is None:
            continue
        left, bottom, right, top = _edges(group["bleed"] or group["media"], group["trim"])
        recto = group["first"] % 2 == 1  # page 1 is a right-hand page: its bind side is its left edge
        bind_side, outside = (left, right) if recto else (right, left)
        if bind_side > tol:
            bind.add(group, f"{inches(bind_side)} in on the {'left' if recto else 'right'} (bind) edge")
        edges = (top, bottom, outside)
        if not (all(abs(e) <= tol for e in edges) or all(abs(e - bleed) <= tol for e in edges)):
            bad_bleed.add(group, f"top {inches(top)}, bottom {inches(bottom)}, outside {inches(outside)} in")
    pages = facts["geometry_pages"]
    return [
        *wrong_size.findings("interior-trim", pages, "are", "the trim of the book type is "
                             + " or ".join(f"{inches(w)} x {inches(h)} in" for w, h in trims)),
        *bind.findings("interior-bind-bleed", pages, "have bleed of", "LSI accepts no bleed on the bind side"),
        *bad_bleed.findings("interior-bleed", pages, "have bleed of",
                            "LSI wants none, or 0.125 in on the top, bottom and outside edges"),
    ]


class _Tally:
    """Pages that break one rule: how many, the first, and what the first group found."""

    def __init__(self) -> None:
        self.pages, self.first, self.what = 0, 0, ""

    def add(self, group: Mapping[str, Any], what: str) -> None:
        if not self.pages or group["first"] < self.first:
            self.first, self.what = group["first"], what
        self.pages += group["count"]

    def findings(self, rule: str, of: int, verb: str, rule_text: str) -> list[Finding]:
        if not self.pages:
            return []
        return [Finding(rule, INTERIOR, f"{self.pages} of {of} pages {verb} {self.what} (first: page {self.first}); "
                                        f"{rule_text}")]


def _near(size: Sequence[float], want: Sequence[float], tol: float) -> bool:
    return abs(size[0] - want[0]) <= tol and abs(size[1] - want[1]) <= tol


def _cover_findings(facts: Mapping[str, Any], book_type: str, cells: Mapping[str, str],
                    spine_in: float | None) -> list[Finding]:
    found = []
    if facts["page_count"] != 1:
        found.append(Finding("cover-one-page", COVER, f"{facts['page_count']} pages; LSI wants the whole cover "
                                                      "(back, spine, front) on one page"))
    sizes = trim_sizes(book_type, cells)
    if not facts["geometry"]:
        return found  # no page to measure
    if not is_perfect_bound(book_type) or not sizes:
        why = "is not perfect bound" if sizes else "names no trim (in inches, or the row's custom trim)"
        return [*found, Finding("cover-not-checked", COVER, f"size not checked: the book type '{book_type}' {why}")]
    trim = sizes[0]
    if spine_in is None:
        return [*found, Finding("cover-not-checked", COVER, "size not checked: the book's spine_width_in is unknown")]
    group = facts["geometry"][0]
    box, bleed = (group["trim"], 0.0) if group["trim"] else (group["media"], 2 * BLEED_IN)
    w, h = box[2] - box[0], box[3] - box[1]
    want_w, want_h = (2 * trim[0] + spine_in + bleed) * POINTS, (trim[1] + bleed) * POINTS
    if not _near((w, h), (want_w, want_h), COVER_TOLERANCE_IN * POINTS):
        formula = f"2 x {trim[0]:g} in trim + {spine_in:.3f} in spine" + (" + 2 x 0.125 in bleed" if bleed else "")
        found.append(Finding("cover-size", COVER, f"{inches(w)} x {inches(h)} in "
                             f"({'TrimBox' if group['trim'] else 'MediaBox, no TrimBox'}), expected "
                             f"{inches(want_w)} x {inches(want_h)} in: {formula} (tolerance 1/32 in)"))
    return found
