"""What preflight needs from a PDF, read with pypdf in a child process: `python -m sidecar.store.pdf_facts FILE...`
prints one JSON object per file on one line.

Only what the rules need is read: the trailer and page tree, each page's boxes, the font dictionaries
its resources name (never a content stream or an image), the Info dictionary and the output intents.
pypdf's own limits cap any stream it must decode. The parent (store/pdf_files.py) bounds the child's
time and memory and kills it when it goes over, so a hostile file costs one problem and nothing else.

Shape of a readable file's facts: {"page_count": N, "geometry_pages": pages walked (at most MAX_PAGES),
"geometry": [{"first": page, "count": pages, "media": [x0, y0, x1, y1], "trim": box or null,
"bleed": box or null}, ...] (pages grouped by their boxes and by side, odd or even; boxes as printed, in
points of 1/72 in: [min x, min y, max x, max y] whichever corners the file gives, turned by the page's
/Rotate and scaled by its /UserUnit, see _boxes), "fonts_not_embedded": up to FONTS_LISTED names,
"fonts_not_embedded_count": N, "pdfx": text or null}.
An unreadable one: {"unreadable": reason}, with "rule": "file-readable" when the file is whole (encrypted).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import warnings
from typing import Any

MAX_PAGES = 3000  # beyond any LSI book type's page range; pages past it are counted, not walked
MAX_GROUPS = 64  # distinct page geometries kept (a real book has one or two)
FONTS_LISTED = 10
MAX_FONT_DEPTH = 4  # form XObjects inside form XObjects: deeper ones are not looked into
XOBJECT_HEAD = 4096  # bytes of an XObject's dictionary read to tell a form from an image
EOF_WINDOW = 1024  # pypdf's own: %%EOF must be within the last KiB


def read_facts(path: str) -> dict[str, Any]:
    """The facts of one file; never raises for a bad PDF (its reason is the fact)."""
    from pypdf import PdfReader

    try:
        with open(path, "rb") as f:
            if f.read(5) != b"%PDF-":  # first: a saved error page is no PDF, whatever its end
                return {"unreadable": "not a PDF: it does not start with %PDF-"}
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - EOF_WINDOW))
            if b"%%EOF" not in f.read():
                return {"unreadable": "not a whole PDF: no %%EOF at its end (cut short, or still being written)"}
            f.seek(0)
            reader = PdfReader(f, strict=False)
            if reader.is_encrypted:  # the trailer names /Encrypt, whatever the algorithm (RC4, AES): no page is read
                return {"unreadable": "encrypted: LSI's premedia cannot open it (PDF/X-1a allows no encryption); "
                                      "export it without security", "rule": "file-readable"}  # whole, not settling
            return _facts(reader)
    except Exception as exc:  # noqa: BLE001 - in this child any failure is the file's: pypdf's errors and limits
        return {"unreadable": f"not a readable PDF ({type(exc).__name__}: {str(exc)[:200]})"}


def _facts(reader: Any) -> dict[str, Any]:
    pages = len(reader.pages)
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    resources: list[Any] = []
    walked = min(pages, MAX_PAGES)
    for n in range(walked):
        page = reader.pages[n]
        media, trim, bleed = _boxes(page)
        key = (tuple(media), trim and tuple(trim), bleed and tuple(bleed), n % 2)
        group = groups.get(key)
        if group is None and len(groups) < MAX_GROUPS:
            group = groups[key] = {"first": n + 1, "count": 0, "media": media, "trim": trim, "bleed": bleed}
        if group is not None:
            group["count"] += 1
        resources.append(page.get("/Resources"))
    missing = list(_fonts_not_embedded(reader, resources))
    return {"page_count": pages, "geometry_pages": walked, "geometry": list(groups.values()),
            "fonts_not_embedded": missing[:FONTS_LISTED], "fonts_not_embedded_count": len(missing),
            "pdfx": _pdfx(reader)}


def _boxes(page: Any) -> tuple[list[float], list[float] | None, list[float] | None]:
    """A page's MediaBox, TrimBox and BleedBox (None when absent) as printed, in points: each box as
    [min x, min y, max x, max y] (a box may be given by either pair of opposite corners), turned by the
    page's /Rotate (a multiple of 90, clockwise) about its MediaBox, and scaled by its /UserUnit."""
    media = _corners(page.mediabox)
    x0, y0, x1, y1 = media
    turn = {90: lambda x, y: (y, x0 + x1 - x), 180: lambda x, y: (x0 + x1 - x, y0 + y1 - y),
            270: lambda x, y: (y0 + y1 - y, x)}.get(int(_number(page.get("/Rotate"), 0)) % 360)
    unit = _number(page.get("/UserUnit"), 1)
    unit = unit if unit > 0 else 1

    def printed(box: list[float]) -> list[float]:
        if turn is not None:
            (ax, ay), (bx, by) = turn(box[0], box[1]), turn(box[2], box[3])
            box = [min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)]
        return [round(v * unit, 3) for v in box]

    trim, bleed = (printed(_corners(page[name])) if name in page else None for name in ("/TrimBox", "/BleedBox"))
    return printed(media), trim, bleed


def _corners(box: Any) -> list[float]:
    box = _resolved(box)
    (ax, ay, bx, by) = (float(_resolved(v)) for v in box[:4])
    return [min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)]


def _number(value: Any, default: float) -> float:
    """A page's numeric entry; a missing or malformed one is the spec's default."""
    try:
        number = float(_resolved(value))
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _fonts_not_embedded(reader: Any, pages: list[Any]) -> dict[str, None]:
    """Names of fonts without an embedded font program, in the pages' resources and the form XObjects they
    name, MAX_FONT_DEPTH forms deep. Walked level by level (the pages, then the forms they name, ...), each
    object once by its indirect reference, so a form named many times, on many pages, is looked into once,
    and at its shallowest depth."""
    missing: dict[str, None] = {}
    seen: set[tuple[int, int]] = set()
    level = pages
    for depth in range(MAX_FONT_DEPTH + 1):
        forms: list[Any] = []
        for resources in level:
            key = _key(resources)
            resources = _resolved(resources)
            if not hasattr(resources, "get") or key in seen:
                continue
            if key is not None:
                seen.add(key)
            for font in (_resolved(resources.get("/Font")) or {}).values():
                font = _resolved(font)
                if hasattr(font, "get") and not _embedded(font):
                    missing[str(font.get("/BaseFont", "(unnamed)")).lstrip("/")] = None
            if depth == MAX_FONT_DEPTH:
                continue
            for xobject in (_resolved(resources.get("/XObject")) or {}).values():
                key = _key(xobject)
                if key in seen:
                    continue
                if key is not None:
                    seen.add(key)
                if _is_form(reader, xobject):
                    forms.append(_resolved(xobject).get("/Resources"))
        level = forms
    return missing


def _key(value: Any) -> tuple[int, int] | None:
    """The indirect reference of an object (given as the reference, or resolved), None for a direct one."""
    ref = value if hasattr(value, "idnum") else getattr(value, "indirect_reference", None)
    return (ref.idnum, ref.generation) if ref is not None else None


def _is_form(reader: Any, xobject: Any) -> bool:
    """Whether an XObject is a form, from the first bytes of its dictionary: resolving it would read its
    stream, and an image's can be many MB. (A stream is never inside an object stream, so an indirect
    XObject always has a file offset.)"""
    idnum = getattr(xobject, "idnum", None)
    if idnum is None:
        return hasattr(xobject, "get") and xobject.get("/Subtype") == "/Form"
    offset = reader.xref.get(xobject.generation, {}).get(idnum)
    if not isinstance(offset, int):
        return False
    stream = reader.stream
    here = stream.tell()
    try:
        stream.seek(offset)
        head = stream.read(XOBJECT_HEAD).split(b"stream", 1)[0]
    finally:
        stream.seek(here)
    return re.search(rb"/Subtype\s*/Form\b", head) is not None


def _embedded(font: Any) -> bool:
    subtype = font.get("/Subtype")
    if subtype == "/Type3":
        return True  # its glyphs are drawn by the PDF itself
    if subtype == "/Type0":
        descendants = _resolved(font.get("/DescendantFonts")) or []
        font = _resolved(descendants[0]) if len(descendants) else {}
    descriptor = _resolved(font.get("/FontDescriptor")) if hasattr(font, "get") else None
    if not descriptor:
        return False
    return any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def _resolved(value: Any) -> Any:
    return value.get_object() if hasattr(value, "get_object") else value


def _pdfx(reader: Any) -> str | None:
    """The PDF/X version the file declares (Info's GTS_PDFXVersion), if any."""
    info = _resolved(reader.trailer.get("/Info"))
    version = info.get("/GTS_PDFXVersion") if hasattr(info, "get") else None
    return str(version)[:60] if version is not None else None


def main(paths: list[str]) -> int:
    logging.disable(logging.CRITICAL)  # pypdf logs every repair it makes; the facts say what matters
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(5000)
    for path in paths:
        print(json.dumps(read_facts(path)), flush=True)
    print(json.dumps({"peak_rss_kb": status_kib("VmHWM")}), flush=True)
    return 0


def status_kib(field: str, pid: int | str = "self") -> int:
    """A size in KiB from /proc/<pid>/status (VmRSS: resident now, VmHWM: the peak); 0 when it cannot be
    read (not Linux, or the process has just exited). VmHWM is this process's own peak, where ru_maxrss may
    keep the parent's pages it had at fork."""
    prefix = f"{field}:".encode()
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(prefix):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
