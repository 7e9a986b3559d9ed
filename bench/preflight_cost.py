"""Cost of `sidecar preflight` per book: a 300-page interior and its cover, as the tool reads them.

The interior is built with pypdf: every page a 6 x 9 in page with TrimBox and BleedBox, a content stream
of text (about 3 KiB), a shared embedded font and, with --image-kib, an image of that many random
(incompressible) KiB of its own, so that the file is as large as real interiors with pictures are.
The check reads only boxes, fonts and the Info dictionary, so its cost follows the page count, not the
file's size. Printed, for --books rows that name these files (a checkpoint's rows share reading
children, FILES_PER_CHILD files each): the wall time per book of check_rows(), reading children
included (median and fastest of --runs); the peak RSS of one reading child given those books' files
(its own VmHWM); the peak RSS of a fresh process that imports the sidecar and runs the checks (the
caller's side: the tool, or status).

Usage: BENCH_TMP=/tmp python bench/preflight_cost.py [--pages 300] [--image-kib 0 300] [--books 1 16] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import (DecodedStreamObject, DictionaryObject, NameObject, NumberObject,
                           RectangleObject, StreamObject)

from sidecar.store.pdf_facts import status_kib
from sidecar.store.pdf_files import FILES_PER_CHILD
from sidecar.store.preflight import Places, RowFiles, check_rows

BOOK_TYPE = "POD: 6 x 9 in or 229 x 152 mm Perfect Bound WHITE"
SPINE = 0.6762  # about 300 pages of white paper


def _font(writer: PdfWriter) -> object:
    program = StreamObject()
    program.set_data(os.urandom(40_000))  # a font program's size
    descriptor = DictionaryObject({NameObject("/Type"): NameObject("/FontDescriptor"),
                                   NameObject("/FontName"): NameObject("/Caslon"),
                                   NameObject("/FontFile2"): writer._add_object(program)})
    return writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/TrueType"),
        NameObject("/BaseFont"): NameObject("/Caslon"), NameObject("/FontDescriptor"): writer._add_object(descriptor)}))


def _image(writer: PdfWriter, kib: int) -> object:
    image = DecodedStreamObject()
    side = int((kib * 1024 / 3) ** 0.5)
    image.set_data(os.urandom(side * side * 3))
    image.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                  NameObject("/Width"): NumberObject(side), NameObject("/Height"): NumberObject(side),
                  NameObject("/ColorSpace"): NameObject("/DeviceRGB"), NameObject("/BitsPerComponent"): NumberObject(8)})
    return writer._add_object(image)


def build_interior(path: Path, pages: int, image_kib: int) -> None:
    writer = PdfWriter()
    font = _font(writer)
    for n in range(pages):
        page = writer.add_blank_page(6 * 72 + 9, 9 * 72 + 18)
        left = 0 if n % 2 == 0 else 9
        page.trimbox = RectangleObject([left, 9, left + 432, 657])
        page.bleedbox = RectangleObject([0, 0, 441, 666])
        content = DecodedStreamObject()
        content.set_data(b"BT /F1 10 Tf 72 600 Td " + b"(The quick brown fox jumps over the lazy dog.) Tj T* " * 60 + b"ET")
        resources = {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        if image_kib:
            resources[NameObject("/XObject")] = DictionaryObject({NameObject("/Im1"): _image(writer, image_kib)})
        page[NameObject("/Resources")] = DictionaryObject(resources)
        page[NameObject("/Contents")] = writer._add_object(content)
    writer.add_metadata({"/GTS_PDFXVersion": "PDF/X-1a:2001"})
    writer.compress_identical_objects()
    with open(path, "wb") as f:
        writer.write(f)


def build_cover(path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page((12 + SPINE + 0.25) * 72, 9.25 * 72)
    writer.add_metadata({"/GTS_PDFXVersion": "PDF/X-1a:2001"})
    writer.write(path)


def child_peak_mib(interior: Path, cover: Path, books: int) -> float:
    """The peak RSS of one reading child given the files of books rows (as many as one child reads)."""
    paths = [str(interior), str(cover)] * min(books, FILES_PER_CHILD // 2)
    done = subprocess.run([sys.executable, "-m", "sidecar.store.pdf_facts", *paths],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])["peak_rss_kb"] / 1024


def own_peak_mib() -> float:
    return status_kib("VmHWM") / 1024


def timed(folder: Path, pages: int, runs: int, books: int) -> None:
    """In a fresh process: check books rows (all naming the same files) runs times; print the time per
    book of each run and this process's peak RSS."""
    cells = {"ISBN or SKU": "9781608883936", "Title": "Bench", "Pages": str(pages),
             "Rendition /Booktype": BOOK_TYPE, "Interior Path / Filename": "interior.pdf",
             "Cover Path / Filename": "cover.pdf"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        rows = [RowFiles(n + 2, cells, {"spine_width_in": SPINE}, None, "") for n in range(books)]
        checks = check_rows(rows, Places(files=folder))
        times.append((time.perf_counter() - start) / books)
        assert not any(c.findings for c in checks), checks[0].findings
    print(json.dumps({"times": times, "peak_mib": own_peak_mib()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--image-kib", type=int, nargs="+", default=[0, 300])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--books", type=int, nargs="+", default=[1, 16],
                        help="rows checked together (a checkpoint's rows share reading processes)")
    parser.add_argument("--timed", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.timed:
        timed(Path(args.timed), args.pages, args.runs, args.books[0])
        return
    print(f"{'pages':>5} {'image KiB/page':>14} {'file MB':>8} {'books':>5} {'median s/book':>13} {'min s/book':>10} "
          f"{'child peak MiB':>15} {'caller peak MiB':>16}")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        folder = Path(tmp)
        build_cover(folder / "cover.pdf")
        for kib in args.image_kib:
            build_interior(folder / "interior.pdf", args.pages, kib)
            size = (folder / "interior.pdf").stat().st_size / 1e6
            for books in args.books:
                peak = child_peak_mib(folder / "interior.pdf", folder / "cover.pdf", books)
                done = subprocess.run([sys.executable, __file__, "--timed", str(folder), "--pages", str(args.pages),
                                       "--runs", str(args.runs), "--books", str(books)],
                                      capture_output=True, text=True, check=True)
                caller = json.loads(done.stdout.splitlines()[-1])
                times = caller["times"]
                print(f"{args.pages:>5} {kib:>14} {size:>8.1f} {books:>5} {statistics.median(times):>13.3f} "
                      f"{min(times):>10.3f} {peak:>15.1f} {caller['peak_mib']:>16.1f}")


if __name__ == "__main__":
    main()
