"""`sidecar --once` throughput against the floor, a no-fsync raw loop and the seed's copy-and-rename append.

The configuration is the one publishers run: the pipeline's real config tree (default, publisher, imprint,
the xynapse tranche) and LSI's code tables from ../shared/lsi (--example-configs: the bundled small configs,
no code tables).
The floor is what any tool must do: read every file, parse its JSON and write the same rows with the csv
module, one fsync. Prints books/s (median of --runs) for each, the ratios, and the peak RSS of a real
`sidecar --once` child at two batch sizes.
Usage: BENCH_TMP=/tmp python bench/once_throughput.py [--books 3000] [--runs 3] [--example-configs] [--no-seed]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the generated books the tests use too

from books import write_books  # noqa: E402

from sidecar.rows.book import parse_book
from sidecar.store.sources import read_source, scan  # noqa: E402
from sidecar.rows.columns import encode_header, encode_record  # noqa: E402
from sidecar.settings import load_settings  # noqa: E402
from sidecar.rows.convert import convert_book  # noqa: E402
from sidecar.engine.ingest import Ingestor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIDECAR_SHARED_LSI", ROOT.parent / "shared" / "lsi"))
REAL = {"pipeline_configs": SHARED / "pipeline-configs", "tranche": "xynapse_tranche_1",
        "acs_codes": SHARED / "ACS-codes-and-descriptions.csv"}
EXAMPLE = {"lsi_config": ROOT / "examples" / "pipeline-configs" / "default_lsi_config.json",
           "tranche": ROOT / "examples" / "pipeline-configs" / "tranches" / "harbor_light_spring.json"}
CONFIGS = dict(REAL)
ROWS: list[list[str]] = []  # the floor's rows, made once before it is timed


def settings(folder: Path, out: Path):
    return load_settings({"watch": [str(folder)], "checkpoint_dir": str(out), "config": None,
                          **{k: str(v) for k, v in CONFIGS.items()}}, {})


def floor(folder: Path, out: Path) -> None:
    """Read every file, parse its JSON, write the same rows with the csv module; one fsync."""
    out.mkdir(parents=True)
    with open(out / "floor.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        for path, row in zip(scan(folder, ()), ROWS):
            json.loads(path.read_bytes())
            writer.writerow(row)
        f.flush()
        os.fsync(f.fileno())


def product(folder: Path, out: Path) -> None:
    with Ingestor(settings(folder, out)) as ingestor:
        summary = ingestor.catch_up()
    assert summary.counts["appended"] == len(scan(folder, ()))


def process(folder: Path, out: Path) -> None:
    """The whole `sidecar --once` process: interpreter start, imports, configs and code tables, the run."""
    done = subprocess.run([sys.executable, "-m", "sidecar", "--once", "--watch", str(folder), "--checkpoint-dir",
                           str(out), "--log-level", "WARNING", *flags()], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def flags() -> list[str]:
    return [f"--{k.replace('_', '-')}={v}" for k, v in CONFIGS.items()]


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
    """A real `sidecar --once` child's own high-water mark (VmHWM: ru_maxrss would count this process's
    pages at fork)."""
    child = ("import sys; from pathlib import Path; from sidecar import cli; code = cli.main(sys.argv[1:]); "
             "print([l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM:')][0]); "
             "sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", child, "--once", "--watch", str(folder), "--checkpoint-dir", str(out),
                           "--log-level", "WARNING", *flags()],
                          capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr
    return int(done.stdout.split("VmHWM:")[1].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--books", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quotes", type=int, default=40, help="quotes a book: 40 ~ 33 KiB of JSON, 0 ~ 4 KiB")
    parser.add_argument("--rss-books", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--example-configs", action="store_true", help="the bundled configs, no code tables")
    parser.add_argument("--no-seed", action="store_true", help="skip (a), the seed's O(n^2) append (minutes)")
    args = parser.parse_args()
    if args.example_configs:
        CONFIGS.clear()
        CONFIGS.update(EXAMPLE)
    from loguru import logger

    logger.remove()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        work = Path(tmp)
        folder = work / "xynapse_traces_build" / "processed_json"  # the imprint's folder: its imprint file is read
        write_books(folder, args.books, args.quotes)
        sizes = [p.stat().st_size for p in folder.iterdir()]
        product(folder, work / "probe")
        csv = next((work / "probe").glob("cumulative_checkpoint_*.csv"))
        row_bytes = (csv.stat().st_size - len(encode_header(settings(folder, work).dialect))) / args.books
        shutil.rmtree(work / "probe")
        print(f"{args.books} books, median {statistics.median(sizes) / 1024:.1f} KiB of JSON each, "
              f"rows {row_bytes / 1024:.2f} KiB each; median of {args.runs} runs; configs: "
              f"{'the bundled examples' if args.example_configs else 'the real ones with LSI code tables'}")
        s = settings(folder, work)
        profile = s.profile_for(s.folders[0])
        ROWS[:] = [list(convert_book(parse_book(p.read_bytes()), profile).row) for p in scan(folder, ())]

        results = {
            "floor: read, parse JSON, csv.writer, one fsync": timed(floor, folder, work, args.runs),
            "sidecar --once, whole process": timed(process, folder, work, args.runs),
            "sidecar --once (ingest, fdatasync per group, ledger)": timed(product, folder, work, args.runs),
            "(b) raw convert + write loop, no fsync, no ledger": timed(raw_loop, folder, work, args.runs),
        }
        if not args.no_seed:
            results["(a) seed's copy-whole-file-then-rename append"] = timed(
                lambda f, o: raw_loop(f, o, seed_append=True), folder, work, args.runs)
        ours = results["sidecar --once (ingest, fdatasync per group, ledger)"]
        for name, seconds in results.items():
            print(f"  {name:55} {args.books / seconds:9.0f} books/s  {seconds:7.2f} s")
        seed = results.get("(a) seed's copy-whole-file-then-rename append")
        if seed:
            print(f"  sidecar vs (a): {seed / ours:.1f}x faster")
        print(f"  sidecar vs (b): {ours / results['(b) raw convert + write loop, no fsync, no ledger']:.2f}x the time")
        floor_s = results['floor: read, parse JSON, csv.writer, one fsync']
        print(f"  sidecar vs the floor: {ours / floor_s:.2f}x the time in process, "
              f"{results['sidecar --once, whole process'] / floor_s:.2f}x as a whole process")

        for count in args.rss_books:
            rss_folder = work / f"rss{count}" / "xynapse_traces_build" / "processed_json"
            write_books(rss_folder, count, args.quotes)
            print(f"  peak RSS of sidecar --once at {count:6} books: {peak_rss_mib(rss_folder, work / f'o{count}'):6.1f} MiB")
            shutil.rmtree(rss_folder)


if __name__ == "__main__":
    main()
