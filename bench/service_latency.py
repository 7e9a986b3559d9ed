"""Latency from a writer's close to the row being durable, per writer style, and the service's idle CPU.

A real `sidecar` service runs as a child with JSON logs; its "appended" line is written after the row's
fdatasync and ledger commit, so its timestamp minus the writer's close time is the close-to-durable
latency. Books are written at a steady rate by each of the pipeline's three writer styles.

Usage: python bench/service_latency.py [--books 1000] [--rate 50] [--poll 0.5] [--idle 60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the generated books the tests use too

from books import make_book, write_books  # noqa: E402


def in_place(path: Path, data: str) -> float:
    with open(path, "w") as f:  # the pipeline's stage 1 and stage 3 writes
        f.write(data)
    return time.time()


def tmp_rename(path: Path, data: str) -> float:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(data)
    os.replace(tmp, path)
    return time.time()


def rename_in(path: Path, data: str) -> float:
    other = path.parent.parent / "staging"
    other.mkdir(exist_ok=True)
    (other / path.name).write_text(data)
    os.rename(other / path.name, path)
    return time.time()


STYLES = {"in-place write": in_place, "temp file + rename": tmp_rename, "rename from another folder": rename_in}


class Service:
    def __init__(self, work: Path, folder: Path, poll: float | None) -> None:
        args = [sys.executable, "-m", "sidecar", "--watch", str(folder), "--checkpoint-dir", str(work / "data"),
                "--log-format", "json", *(["--poll", str(poll)] if poll else [])]
        self.proc = subprocess.Popen(args, cwd=work, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.appended: dict[str, float] = {}
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.ready.wait(60), "the service did not start"

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if not line.startswith("{"):
                print(line, end="", file=sys.stderr)  # not a log record: show it
                continue
            record = json.loads(line)
            if record["message"].startswith("watching "):
                self.ready.set()
            elif record["message"].startswith("appended ISBN "):
                self.appended[record["isbn"]] = datetime.fromisoformat(record["time"]).timestamp()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def measure(work: Path, poll: float | None, style: str, books: int, rate: float) -> list[float]:
    folder = work / "processed_json"
    folder.mkdir(parents=True)
    rng = random.Random(3)
    payloads = []
    for n in range(books):
        book = make_book(n, rng)
        payloads.append((book["isbn13"], json.dumps(book, indent=4)))
    service = Service(work, folder, poll)
    closed: dict[str, float] = {}
    start = time.monotonic()
    for n, (isbn, data) in enumerate(payloads):
        time.sleep(max(0.0, start + n / rate - time.monotonic()))  # a steady rate, like a pipeline
        closed[isbn] = STYLES[style](folder / f"book_{n:05}.json", data)
    deadline = time.monotonic() + 120
    while len(service.appended) < books and time.monotonic() < deadline:
        time.sleep(0.05)
    service.stop()
    assert len(service.appended) == books, f"{len(service.appended)} of {books} rows"
    return [(service.appended[isbn] - closed[isbn]) * 1000 for isbn in closed]


def idle_cpu(work: Path, poll: float | None, seconds: float, books: int) -> float:
    folder = work / "processed_json"
    write_books(folder, books)
    service = Service(work, folder, poll)
    time.sleep(2)  # let the catch-up end
    before, start = service.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    used = service.cpu_seconds() - before
    elapsed = time.monotonic() - start
    service.stop()
    return 100 * used / elapsed


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50, help="books a second")
    parser.add_argument("--poll", type=float, default=0.5, help="interval of the polling mode")
    parser.add_argument("--idle", type=float, default=60, help="seconds of idle CPU measurement")
    parser.add_argument("--idle-books", type=int, default=1000, help="books in the folder while idle")
    parser.add_argument("--idle-only", action="store_true", help="skip the latency runs")
    args = parser.parse_args()
    for mode, poll in (("inotify", None), (f"polling every {args.poll:g} s", args.poll)):
        print(f"{mode}: close-to-durable latency over {args.books} books at {args.rate:g} books/s")
        for style in [] if args.idle_only else STYLES:
            with tempfile.TemporaryDirectory() as tmp:
                ms = measure(Path(tmp), poll, style, args.books, args.rate)
            print(f"  {style:28} p50 {percentile(ms, 50):8.1f} ms   p99 {percentile(ms, 99):8.1f} ms"
                  f"   max {max(ms):8.1f} ms")
        with tempfile.TemporaryDirectory() as tmp:
            cpu = idle_cpu(Path(tmp), poll, args.idle, args.idle_books)
        print(f"  idle CPU over {args.idle:g} s with {args.idle_books} books in the folder: {cpu:.2f} %")


if __name__ == "__main__":
    main()
