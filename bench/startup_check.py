"""Start-up's proof of a checkpoint (every recorded row read back against its sha256) against its size.

For each size a checkpoint of that many ~3.5 KiB rows and its ledger are built (as bench/append_cost.py
builds them), then, in the same process, timed: the proof (store.checkpoint.first_changed_row over the
ledger's rows) and a baseline that only reads the file and hashes it whole. Each is run --runs times
with a warm page cache (the usual case: the service restarts on the same machine); medians are printed.

Usage: BENCH_TMP=/tmp python bench/startup_check.py [--sizes 1000 10000 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from append_cost import build, sample_row  # noqa: E402

from sidecar.rows.columns import Dialect, encode_header  # noqa: E402
from sidecar.store.checkpoint import first_changed_row  # noqa: E402
from sidecar.store.ledger import Ledger  # noqa: E402


def measure(rows: int, runs: int, row: bytes) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        folder = Path(tmp)
        path = build(folder, rows, row)
        header_len = len(encode_header(Dialect()))
        proof, baseline = [], []
        with Ledger.read_only(folder / "state") as ledger:
            for _ in range(runs):
                start = time.perf_counter()
                assert first_changed_row(path, ledger.rows(1), header_len) is None
                proof.append(time.perf_counter() - start)
                start = time.perf_counter()
                with open(path, "rb") as f:
                    hashlib.file_digest(f, "sha256")
                baseline.append(time.perf_counter() - start)
        size = path.stat().st_size
    return {"rows": rows, "mib": size / 2**20, "proof_s": statistics.median(proof),
            "read_and_hash_s": statistics.median(baseline)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    row = sample_row()
    print(f"{'rows':>9} {'MiB':>8} {'proof s':>9} {'read+hash s':>12} {'ratio':>6}")
    for rows in args.sizes:
        m = measure(rows, args.runs, row)
        print(f"{m['rows']:>9,} {m['mib']:>8.1f} {m['proof_s']:>9.3f} {m['read_and_hash_s']:>12.3f} "
              f"{m['proof_s'] / m['read_and_hash_s']:>6.2f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
