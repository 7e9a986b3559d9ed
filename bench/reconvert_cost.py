"""Re-conversion after a settings change: time and bytes written to convert every row of a checkpoint again.

For each size a folder of generated books is checkpointed under settings A (lsi.pub_date_format: iso),
then the settings become B (m/d/yy), which changes one cell of every row, and `sidecar --once` runs
again in a child process: that run (the pass) is timed, beside the first run that made the rows, and its write_bytes (from /proc/self/io, read by the child
as it exits: the bytes it caused to be written to storage) are reported against the checkpoint's size.
With --before REF the same runs are made with the code of that git commit (extracted with git archive)
in the same run of this script, up to --before-max rows (its cost is quadratic).

Usage: BENCH_TMP=/tmp python bench/reconvert_cost.py [--rows 1000 2000 10000] [--before 30fd3b7] [--before-max 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the generated books the tests use too

from books import write_books  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys
from sidecar import cli
assert cli.__file__.startswith(sys.argv[2]), cli.__file__
code = cli.main(sys.argv[3:])
io = dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())
open(sys.argv[1], "w").write(json.dumps({"code": code, "write_bytes": int(io["write_bytes"])}))
"""


def run(code_root: Path, config: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root)}  # (run outside any tree: `python -c` imports from its cwd)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", CHILD, str(out), str(code_root), "--once", "--config", str(config), "--log-level",
                    "ERROR"], env=env, check=True, stdout=subprocess.DEVNULL, cwd=out.parent)
    seconds = time.perf_counter() - start
    result = json.loads(out.read_text())
    assert result["code"] == 0, result
    return {"seconds": seconds, "write_bytes": result["write_bytes"]}


def measure(code_root: Path, rows: int, tmp: Path) -> dict:
    work = tmp / f"{code_root.name}-{rows}"
    folder, data, config = work / "in", work / "data", work / "config.yaml"
    write_books(folder, rows, quotes=0)

    def settings(date_format: str) -> None:
        config.write_text(json.dumps({"watch": [str(folder)], "checkpoint_dir": str(data),
                                      "lsi": {"pub_date_format": date_format}}))

    settings("iso")
    first = run(code_root, config, work / "build.json")
    size = sum(p.stat().st_size for p in data.glob("cumulative_checkpoint_*.csv"))
    settings("m/d/yy")
    figures = run(code_root, config, work / "pass.json")
    return {"rows": rows, "checkpoint_bytes": size, **figures, "first_seconds": first["seconds"],
            "written_per_checkpoint": figures["write_bytes"] / size}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 2000, 10000])
    parser.add_argument("--before", help="a git commit whose code is measured too (e.g. 30fd3b7)")
    parser.add_argument("--before-max", type=int, default=2000, help="largest size measured with --before")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp_name:
        tmp = Path(tmp_name)
        variants = [("this tree", ROOT)]
        if args.before:
            before = tmp / "before"
            before.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
            variants.append((args.before, before))
        print(f"{'code':>10} {'rows':>7} {'checkpoint MiB':>15} {'first run s':>12} {'pass s':>8} {'written MiB':>12} "
              f"{'written/size':>13}")
        for name, root in variants:
            for rows in args.rows:
                if root is not ROOT and rows > args.before_max:
                    continue
                r = measure(root, rows, tmp)
                print(f"{name:>10} {rows:>7,} {r['checkpoint_bytes'] / 2**20:>15.1f} {r['first_seconds']:>12.2f} "
                      f"{r['seconds']:>8.2f} "
                      f"{r['write_bytes'] / 2**20:>12.1f} {r['written_per_checkpoint']:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
