"""A soak: books at a steady rate through the pipeline simulator, random kills and rotations, for minutes.

Reports books, restarts, rotations, peak RSS of the service, p50/p99 close-to-durable latency and
invariant breaches (checked after every kill and at the end).
Usage: python bench/soak.py --minutes 60 [--rate 2]   (CI: --minutes 2)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the scenarios the test suite runs short

from scenarios import soak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rate", type=float, default=2.0, help="books started a second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = soak(Path(tmp), args.minutes, args.rate)
    for key, value in result.items():
        print(f"{key:16} {value:.1f}" if isinstance(value, float) else f"{key:16} {value}")


if __name__ == "__main__":
    main()
