"""Per-row append cost against checkpoint size: the sidecar's append vs the seed's copy-and-rename.

For each size a child process builds a checkpoint of that many ~3.5 KiB rows (and, for the sidecar,
its ledger), then times single-row appends: the sidecar's (one write, fdatasync, ledger commit) and the
seed's (the whole file read as text, written to a temp file with the row, renamed over). Peak RSS is
the child's. Writes docs/append_cost.png.

Usage: python bench/append_cost.py [--sizes 100 1000 10000 100000 1000000] [--appends 200]
Needs matplotlib for the plot (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]


def sample_row() -> bytes:
    import random

    from books import make_book

    from sidecar.rows.columns import Dialect, encode_record
    from sidecar.settings import load_settings
    from sidecar.rows.convert import convert_book

    settings = load_settings({"config": str(ROOT / "config.yaml"), "watch": None}, {})
    row = convert_book(make_book(1, random.Random(1)), settings.profile_for(settings.folders[0])).row
    return encode_record(row, Dialect())


def build(folder: Path, rows: int, row: bytes) -> Path:
    """A checkpoint of `rows` rows and its ledger, made directly (the product's own code would take hours
    for a million, which is the point of the other curve). Every row is the same, so is its hash."""
    from sidecar.rows.columns import Dialect, encode_header

    header = encode_header(Dialect())
    path = folder / "cumulative_checkpoint_20260101_0000_bench.csv"
    with open(path, "wb") as f:
        f.write(header)
        chunk = row * 1000
        for _ in range(rows // 1000):
            f.write(chunk)
        f.write(row * (rows % 1000))
    state = folder / "state"
    state.mkdir()
    from sidecar.store.ledger import SCHEMA, ledger_path

    db = sqlite3.connect(ledger_path(state))

    db.executescript(SCHEMA)
    db.execute("INSERT INTO checkpoints (id, imprint, path, header_len, created_ns) VALUES (1, 'bench', ?, ?, 0)",
               (str(path), len(header)))
    db.executemany(f"INSERT INTO rows VALUES (1, ?, ?, ?, 'sha', 'stat', 0, ?, 'title', 0, '{hashlib.sha256(row).hexdigest()}', '[]')",
                   ((len(header) + i * len(row), len(row), f"/books/{i}.json", f"isbn{i}") for i in range(rows)))
    db.commit()
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return path


def child(kind: str, rows: int, appends: int) -> dict[str, float]:
    from sidecar.engine.appender import CheckpointAppender, StagedRow
    from sidecar.rows.columns import Dialect
    from sidecar.store.ledger import Ledger

    row = sample_row()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        folder = Path(tmp)
        path = build(folder, rows, row)
        times = []
        if kind == "sidecar":
            ledger = Ledger(folder / "state")
            appender = CheckpointAppender(ledger, folder, "bench", Dialect())
            for i in range(appends):
                appender.stage(StagedRow.of(row, f"/new/{i}.json", "sha", "stat", 0, f"new{i}", "t"))
                start = time.perf_counter()
                appender.commit()
                times.append(time.perf_counter() - start)
            appender.close()
            ledger.close()
        else:
            for _ in range(appends):
                start = time.perf_counter()
                fd, tmp_name = tempfile.mkstemp(dir=folder, suffix=".csv")
                with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
                    f.write(path.read_text(encoding="utf-8-sig"))
                    f.write(row.decode())
                Path(tmp_name).replace(path)
                times.append(time.perf_counter() - start)
    return {"median_ms": statistics.median(times) * 1000,
            "p99_ms": (statistics.quantiles(times, n=100)[98] if len(times) > 1 else times[0]) * 1000,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "row_bytes": len(row)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--appends", type=int, default=200)
    parser.add_argument("--seed-appends", type=int, default=3)
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "append_cost.png")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "ROWS", "APPENDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), int(args.child[2]))))
        return
    results: dict[str, dict[int, dict[str, float]]] = {"sidecar": {}, "seed": {}}
    print(f"{'rows':>9}  {'sidecar median':>14} {'p99':>8} {'RSS':>8}   {'seed median':>12} {'RSS':>9}")
    for size in args.sizes:
        for kind, appends in (("sidecar", args.appends), ("seed", args.seed_appends)):
            out = subprocess.run([sys.executable, __file__, "--child", kind, str(size), str(appends)],
                                 capture_output=True, text=True, check=True).stdout
            results[kind][size] = json.loads(out)
        s, c = results["sidecar"][size], results["seed"][size]
        print(f"{size:9,}  {s['median_ms']:11.3f} ms {s['p99_ms']:5.2f} ms {s['rss_mib']:5.0f} MiB"
              f"   {c['median_ms']:9.1f} ms {c['rss_mib']:6.0f} MiB")
    first, last = args.sizes[0], args.sizes[-1]
    ratio = results["sidecar"][last]["median_ms"] / results["sidecar"][first]["median_ms"]
    print(f"sidecar: median append at {last:,} rows is {ratio:.2f}x the one at {first:,} rows "
          f"(row {results['sidecar'][first]['row_bytes']} bytes)")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install -e '.[bench]')")
        return
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for kind, label in (("sidecar", "sidecar: write + fdatasync + ledger commit"),
                        ("seed", "seed: copy whole file + rename")):
        sizes = sorted(results[kind])
        ax.plot(sizes, [results[kind][n]["median_ms"] for n in sizes], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows already in the checkpoint (~3.5 KiB each)")
    ax.set_ylabel("cost of appending one row (ms, median)")
    ax.set_title("Per-row append cost against checkpoint size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.plot)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
