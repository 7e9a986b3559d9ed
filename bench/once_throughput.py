"""`sidecar --once` throughput against the seed's copy-and-rename append and a no-fsync raw loop.

Prints books/s (median of --runs) for each, the ratios, and the peak RSS of a real `sidecar --once`
child at two batch sizes. Usage: python bench/once_throughput.py [--books 3000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from books import write_books  # noqa: E402

from sidecar.rows.book import parse_book
from sidecar.store.sources import read_source, scan  # noqa: E402
from sidecar.rows.columns import encode_header, encode_record  # noqa: E402
from sidecar.settings import load_settings  # noqa: E402
from sidecar.rows.convert import convert_book  # noqa: E402
from sidecar.engine.ingest import Ingestor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRANCHE = ROOT / "examples" / "pipeline-configs" / "tranches" / "harbor_light_spring.json"
LSI_CONFIG = ROOT / "examples" / "pipeline-configs" / "default_lsi_config.json"


def settings(folder: Path, out: Path):
    return load_settings({"watch": [str(folder)], "checkpoint_dir": str(out), "lsi_config": str(LSI_CONFIG),
                          "tranche": str(TRANCHE), "config": None}, {})


def product(folder: Path, out: Path) -> None:
    with Ingestor(settings(folder, out)) as ingestor:
        summary = ingestor.catch_up()
    assert summary.counts["appended"] == len(scan(folder, ()))


def raw_loop(folder: Path, out: Path, seed_append: bool = False) -> None:
    """Convert every book and append its row: plain O_APPEND writes, or the seed's copy-and-rename."""
    s = settings(folder, out)
    profile = s.profile_for(s.folders[0])
    out.mkdir(parents=True)
    path = out / "checkpoint.csv"
    path.write_bytes(encode_header(s.dialect))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    for book_path in scan(folder, s.ignore):
        row = encode_record(convert_book(parse_book(read_source(book_path, s.max_bytes).data), profile).row, s.dialect)
        if seed_append:
            # The seed's LSICheckpointManager: a temp file in the same folder gets the whole existing file
            # (read as text) and the new row, then is renamed over the checkpoint; no fsync.
            fd_tmp, tmp = tempfile.mkstemp(dir=out, suffix=".csv")
            with os.fdopen(fd_tmp, "w", encoding="utf-8-sig", newline="") as f:
                f.write(path.read_text(encoding="utf-8-sig"))
                f.write(row.decode())
            Path(tmp).replace(path)
        else:
            os.write(fd, row)
    os.close(fd)


def timed(fn, folder: Path, work: Path, runs: int) -> float:
    times = []
    for i in range(runs):
        out = work / f"out{i}"
        start = time.perf_counter()
        fn(folder, out)
        times.append(time.perf_counter() - start)
        shutil.rmtree(out)
    return statistics.median(times)


def peak_rss_mib(folder: Path, out: Path) -> float:
    proc = subprocess.Popen([sys.executable, "-m", "sidecar", "--once", "--watch", str(folder),
                             "--checkpoint-dir", str(out), "--log-level", "WARNING"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) in (0, 1)
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--books", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quotes", type=int, default=40, help="quotes a book: 40 ~ 33 KiB of JSON, 0 ~ 4 KiB")
    parser.add_argument("--rss-books", type=int, nargs="*", default=[1000, 10000])
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        work = Path(tmp)
        folder = work / "books"
        write_books(folder, args.books, args.quotes)
        sizes = [p.stat().st_size for p in folder.iterdir()]
        product(folder, work / "probe")
        csv = next((work / "probe").glob("cumulative_checkpoint_*.csv"))
        row_bytes = (csv.stat().st_size - len(encode_header(settings(folder, work).dialect))) / args.books
        shutil.rmtree(work / "probe")
        print(f"{args.books} books, median {statistics.median(sizes) / 1024:.1f} KiB of JSON each, "
              f"rows {row_bytes / 1024:.2f} KiB each; median of {args.runs} runs")

        results = {
            "sidecar --once (ingest, fdatasync per group, ledger)": timed(product, folder, work, args.runs),
            "(b) raw convert + write loop, no fsync, no ledger": timed(raw_loop, folder, work, args.runs),
            "(a) seed's copy-whole-file-then-rename append": timed(
                lambda f, o: raw_loop(f, o, seed_append=True), folder, work, args.runs),
        }
        ours = results["sidecar --once (ingest, fdatasync per group, ledger)"]
        for name, seconds in results.items():
            print(f"  {name:55} {args.books / seconds:9.0f} books/s  {seconds:7.2f} s")
        print(f"  sidecar vs (a): {results['(a) seed' + chr(39) + 's copy-whole-file-then-rename append'] / ours:.1f}x faster")
        print(f"  sidecar vs (b): {ours / results['(b) raw convert + write loop, no fsync, no ledger']:.2f}x the time")

        for count in args.rss_books:
            rss_folder = work / f"rss{count}"
            write_books(rss_folder, count, args.quotes)
            print(f"  peak RSS of sidecar --once at {count:6} books: {peak_rss_mib(rss_folder, work / f'o{count}'):6.1f} MiB")
            shutil.rmtree(rss_folder)


if __name__ == "__main__":
    main()
