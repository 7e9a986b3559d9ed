"""`sidecar --once` against the floor, on real-shaped and generated books, and an empty `--once`.

The configuration is the one publishers run: the pipeline's real config tree (default, publisher, imprint,
the xynapse tranche) and LSI's code tables from ../shared/lsi (--example-configs: the bundled small configs,
no code tables). Two corpora: copies of the pipeline's real processed JSON (217 KB, distinct ISBNs and
titles) and generated books (~32 KiB). The floor is what any tool must do: read every file, parse its JSON
and write the same rows with the csv module, one fsync. Each round runs the floor, a whole `python -m
sidecar --once` child, the Ingestor in this process and a no-fsync raw loop in turn; it prints medians,
min-max and the ratios to the floor (of the medians, and round by round), in wall and in CPU time. Then
an empty `--once` with the bundled config.yaml beside `python -c pass`, the seed's append (unless
--no-seed) and the peak RSS of a real `sidecar --once` child and of its largest worker at each --rss-books.
Usage: BENCH_TMP=/tmp python bench/once_throughput.py [--books 3000] [--real-books 1000] [--runs 5] [--no-seed]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the generated books the tests use too

from books import isbn13, write_books  # noqa: E402

from sidecar.logs import TEXT_FORMAT  # noqa: E402
from sidecar.rows.book import parse_book  # noqa: E402
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
REAL_BOOK = SHARED / "examples" / "AI_Governance_Freedom_vs_Constraint.json"
FLOOR = "floor: read, parse JSON, csv.writer, one fsync"
WHOLE = "sidecar --once, whole process"
IN_PROCESS = "sidecar --once, in process (Ingestor)"
# The children run as an installed sidecar does, from compiled modules: with PYTHONDONTWRITEBYTECODE set
# (as in some shells and CI), every child would compile every module again (about 0.2 s here).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
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
                           str(out), "--log-level", "WARNING", *flags()], capture_output=True, text=True, env=CHILD_ENV)
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


def peak_rss_mib(folder: Path, out: Path) -> tuple[float, float]:
    """A real `sidecar --once` child's own high-water mark (VmHWM: ru_maxrss would count this process's
    pages at fork), and the largest of its worker processes' (their ru_maxrss, shared pages included)."""
    child = ("import resource, sys; from pathlib import Path; from sidecar import cli; code = cli.main(sys.argv[1:]); "
             "print([l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM:')][0]); "
             "print('workers', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", child, "--once", "--watch", str(folder), "--checkpoint-dir", str(out),
                           "--log-level", "WARNING", *flags()],
                          capture_output=True, text=True, env=CHILD_ENV)
    assert done.returncode in (0, 1), done.stderr
    return (int(done.stdout.split("VmHWM:")[1].split()[0]) / 1024, int(done.stdout.split("workers")[1].split()[0]) / 1024)


def real_books(folder: Path, count: int) -> None:
    """count copies of the pipeline's one real processed JSON (217 KB), each with its own ISBN and title,
    written as the pipeline writes it (indent 4, UTF-8 as is: the copy of the original is byte-identical)."""
    folder.mkdir(parents=True, exist_ok=True)
    original = json.loads(REAL_BOOK.read_bytes())
    for n in range(count):
        isbn = isbn13(60_880_000 + n)  # 978-1-6088-...: the original's group, a valid check digit
        title = f"{original['title']} {n + 1}"
        book = {**original, "title": title, "storefront_title_en": title, "isbn13": isbn, "isbn_13": isbn,
                "isbn": isbn}
        (folder / f"book_{n:06}.json").write_text(json.dumps(book, indent=4, ensure_ascii=False), encoding="utf-8")


def cpu_seconds() -> float:
    """User and system time of this process and of its children that have ended (a shared machine's other
    load slows a run's wall time far more than its CPU time)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def rounds(variants: dict, folder: Path, work: Path, runs: int) -> dict[str, list[tuple[float, float]]]:
    """Every variant once a round, in turn, for runs rounds: the floor and sidecar see the same machine.
    Each run gives (wall seconds, CPU seconds)."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for i in range(runs + 1):  # round 0 warms up (page cache, compiled modules) and is not counted
        for name, fn in variants.items():
            out = work / f"out{i}"
            start, cpu = time.perf_counter(), cpu_seconds()
            fn(folder, out)
            if i:
                times[name].append((time.perf_counter() - start, cpu_seconds() - cpu))
            shutil.rmtree(out, ignore_errors=True)
    return times


def spread(times: list[float]) -> str:
    return f"{statistics.median(times):6.2f} s ({min(times):.2f}-{max(times):.2f})"


def report(times: dict[str, list[tuple[float, float]]], books: int) -> None:
    for kind, index in (("wall", 0), ("CPU", 1)):
        floor_times = [t[index] for t in times[FLOOR]]
        for name, both in times.items():
            seconds = [t[index] for t in both]
            line = f"  {kind:4} {name:55} {books / statistics.median(seconds):7.0f} books/s {spread(seconds)}"
            if name != FLOOR:
                paired = [s / f for s, f in zip(seconds, floor_times)]
                line += (f"  {statistics.median(seconds) / statistics.median(floor_times):5.2f}x the floor "
                         f"(round by round {min(paired):.2f}-{max(paired):.2f}x)")
            print(line)


def corpus(name: str, folder: Path, work: Path, count: int, runs: int, variants: dict) -> dict[str, list]:
    sizes = [p.stat().st_size for p in folder.iterdir()]
    product(folder, work / "probe")
    csv_file = next((work / "probe").glob("cumulative_checkpoint_*.csv"))
    row_bytes = (csv_file.stat().st_size - len(encode_header(settings(folder, work).dialect))) / count
    shutil.rmtree(work / "probe")
    s = settings(folder, work)
    profile = s.profile_for(s.folders[0])
    ROWS[:] = [list(convert_book(parse_book(p.read_bytes()), profile).row) for p in scan(folder, ())]
    print(f"{name}: {count} books, median {statistics.median(sizes) / 1024:.1f} KiB of JSON each, rows "
          f"{row_bytes / 1024:.2f} KiB each; {runs} rounds, medians (min-max)")
    times = rounds(variants, folder, work, runs)
    report(times, count)
    return times


def empty_once(work: Path, runs: int) -> None:
    """A bare `sidecar --once` with the bundled config.yaml on an empty folder, beside a bare interpreter,
    alternately: the first run in a new checkpoint folder (it creates the ledger) and a second one in the
    same folder (it opens it)."""
    empty = work / "empty" / "harbor_light_build" / "processed_json"
    empty.mkdir(parents=True)
    once = [sys.executable, "-m", "sidecar", "--once", "--config", str(ROOT / "config.yaml"), "--watch", str(empty)]
    names = ("python -c pass", "sidecar --once, empty folder, new ledger", "sidecar --once, empty folder, its ledger")
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for i in range(runs + 1):  # round 0 warms up and is not counted
        out = work / f"empty_out{i}"
        for name, command in zip(names, ([sys.executable, "-c", "pass"], once, once)):
            start, cpu = time.perf_counter(), cpu_seconds()
            done = subprocess.run(command + ["--checkpoint-dir", str(out)] if command is once else command,
                                  capture_output=True, text=True, env=CHILD_ENV)
            if i:
                times[name].append((time.perf_counter() - start, cpu_seconds() - cpu))
            assert done.returncode == 0, done.stderr
        shutil.rmtree(out, ignore_errors=True)
    print(f"empty folder, bundled config.yaml: {runs} rounds, medians (min-max)")
    for name, both in times.items():
        print(f"  {name:55} wall {spread([t[0] for t in both])}   CPU {spread([t[1] for t in both])}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--books", type=int, default=3000, help="generated books (0: none)")
    parser.add_argument("--real-books", type=int, default=1000, help="copies of the real book (0: none)")
    parser.add_argument("--runs", type=int, default=5)
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
    # In process as in the child: WARNING and above, a line a book with the real tree, written out.
    logger.add(open(os.devnull, "w"), level="WARNING", format=TEXT_FORMAT, backtrace=False, diagnose=False)
    print(f"configs: {'the bundled examples' if args.example_configs else 'the real ones with LSI code tables'}; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    variants = {FLOOR: floor, WHOLE: process, IN_PROCESS: product,
                "(b) raw convert + write loop, no fsync, no ledger": raw_loop}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        work = Path(tmp)
        os.chdir(work)  # no ./config.yaml of wherever it was started from joins the settings
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")  # compiled once, by the warm-up round
        empty_once(work, args.runs)
        if args.real_books:
            folder = work / "real" / "xynapse_traces_build" / "processed_json"  # the imprint's folder
            real_books(folder, args.real_books)
            corpus("real-shaped (copies of the real book)", folder, work, args.real_books, args.runs, variants)
            shutil.rmtree(folder)
        if args.books:
            folder = work / "xynapse_traces_build" / "processed_json"  # the imprint's folder: its imprint file is read
            write_books(folder, args.books, args.quotes)
            times = corpus("generated", folder, work, args.books, args.runs, variants)
            if not args.no_seed:
                seed = statistics.median(t[0] for t in rounds({"(a)": lambda f, o: raw_loop(f, o, seed_append=True)},
                                                              folder, work, args.runs)["(a)"])
                ours = statistics.median(t[0] for t in times[IN_PROCESS])
                print(f"  (a) seed's copy-whole-file-then-rename append: {args.books / seed:.0f} books/s {seed:.2f} s; "
                      f"sidecar {seed / ours:.1f}x faster")
            shutil.rmtree(folder)

        for count in args.rss_books:
            for kind in [k for k, n in (("real", args.real_books), ("generated", args.books)) if n]:
                rss_folder = work / f"rss{count}{kind}" / "xynapse_traces_build" / "processed_json"
                real_books(rss_folder, count) if kind == "real" else write_books(rss_folder, count, args.quotes)
                own, worker = peak_rss_mib(rss_folder, work / f'o{count}{kind}')
                print(f"  peak RSS of sidecar --once at {count:6} {kind} books: {own:6.1f} MiB, "
                      f"its largest worker {worker:6.1f} MiB")
                shutil.rmtree(rss_folder.parent.parent)


if __name__ == "__main__":
    main()
