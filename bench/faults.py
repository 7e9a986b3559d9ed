"""The fault scenarios in their long form, with figures: python bench/faults.py [--kills 200]."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the scenarios the test suite runs short

import scenarios  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--books", type=int, default=600)
    parser.add_argument("--poll", type=float, default=0.5)
    args = parser.parse_args()
    runs = [
        lambda w: scenarios.kill_storm(w, kills=args.kills, books=args.books, rate=10),
        lambda w: scenarios.kill_storm(w, kills=args.kills // 4, books=args.books // 4, rate=10, poll=args.poll),
        lambda w: scenarios.failing_disk(w, "fsync-eio", books=200),
        lambda w: scenarios.failing_disk(w, "write-eio", books=200),
        scenarios.second_instance,
    ]
    if os.geteuid() == 0:
        runs.insert(2, lambda w: scenarios.full_disk(w, books=200, size_kib=256))
    print(f"{'scenario':36} {'kills':>5} {'restarts':>8} {'books':>5} {'malformed':>9} {'breaches':>8} {'seconds':>7}  exit codes")
    for run in runs:
        with tempfile.TemporaryDirectory() as tmp:
            f = run(Path(tmp))
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(f.exit_codes.items(), key=lambda kv: str(kv[0])))
        print(f"{f.scenario:36} {f.kills:5} {f.restarts:8} {f.books:5} {f.malformed:9} {f.breaches:8} "
              f"{f.seconds:7.1f}  {codes}")
        for note in f.notes:
            print(f"  {note}")


if __name__ == "__main__":
    main()
