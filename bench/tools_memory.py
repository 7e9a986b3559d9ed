"""Peak memory and time of the read-only tools against checkpoint size: they must stream.

For each size a checkpoint of that many ~3.5 KiB rows and its ledger are built (as bench/append_cost.py
builds them); then each tool runs in a child process of its own, which reports its peak RSS and time:
verify (with the ledger), compare (the file with itself), export --profile submission, status and
recover (an empty watched folder: every row's source is gone); peak RSS is the child's own high-water
mark (VmHWM), not ru_maxrss, which counts the parent's pages at fork. The review workbook is timed up to
100,000 rows (119 cells a row make a million-row workbook a many-minute job, whatever the writer).

Usage: BENCH_TMP=/tmp python bench/tools_memory.py [--sizes 10000 100000 1000000] [--tools verify status ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from append_cost import build, sample_row  # noqa: E402


def child(argv: list[str]) -> None:
    from sidecar import cli

    start = time.perf_counter()
    code = cli.main(argv)
    print(json.dumps({"code": code, "seconds": time.perf_counter() - start, "rss_mib": peak_rss_mib()}),
          file=sys.stderr)


def peak_rss_mib() -> float:
    """This process's own peak (VmHWM); ru_maxrss would also count the parent's pages it had at fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(argv: list[str], cwd: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", *argv], cwd=cwd, capture_output=True, text=True)
    return json.loads(done.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--tools", nargs="+", help="only these (by the first word of their name)")
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    row = sample_row()
    print(f"{'rows':>9} {'tool':<26} {'seconds':>8} {'peak RSS MiB':>13}")
    for rows in args.sizes:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            folder = Path(tmp)
            checkpoint = build(folder, rows, row)
            (folder / "books").mkdir()
            flags = ["--state-dir", str(folder / "state"), "--checkpoint-dir", str(folder), "--log-level", "ERROR"]
            watch = ["--watch", str(folder / "books"), "--imprint", "bench"]
            tools = {
                "verify": ["verify", *flags, str(checkpoint)],
                "compare (itself)": ["compare", *flags, str(checkpoint), str(checkpoint)],
                "export submission": ["export", *flags, str(checkpoint), "--profile", "submission",
                                      "--output", str(folder / "out.csv")],
                "status": ["status", *flags, *watch],
                "recover": ["recover", *flags, *watch],
            }
            if rows <= 100_000:
                tools["export xlsx"] = ["export", *flags, str(checkpoint), "--format", "xlsx",
                                        "--output", str(folder / "out.xlsx")]
            for name, argv in tools.items():
                if args.tools and name.split()[0] not in args.tools:
                    continue
                m = run(argv, folder)
                print(f"{rows:>9,} {name:<26} {m['seconds']:>8.1f} {m['rss_mib']:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
