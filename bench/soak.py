"""A soak: books at a steady rate through the pipeline simulator, random kills and rotations, for minutes.

Reports books, restarts, rotations, peak RSS of the service, p50/p99 close-to-durable latency and
invariant breaches (checked after every kill and at the end).
Usage: python bench/soak.py --minutes 60 [--rate 2]   (CI: --minutes 2)
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sidecar.exits import EXIT_OK

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the invariants the test suite checks too

from invariants import check_invariants  # noqa: E402
from scenarios import Service, log_latencies, settle  # noqa: E402
from simulate import Written, simulate  # noqa: E402


def peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def soak(work: Path, minutes: float, rate: float, seed: int = 11) -> dict[str, float]:
    rng = random.Random(seed)
    folder, data = work / "processed_json", work / "data"
    service = Service(work, folder, data)
    written = Written()
    stop = threading.Event()
    books = int(minutes * 60 * rate)
    writer = threading.Thread(target=simulate, kwargs=dict(folder=folder, books=books, rate=rate, in_flight=3,
                                                           malformed=0.03, siblings=0.3, seed=seed,
                                                           written=written, stop=stop))
    kills = rotations = peak = 0
    end = time.monotonic() + minutes * 60
    writer.start()
    service.start()
    try:
        while time.monotonic() < end:
            time.sleep(rng.uniform(2, 8))  # random instants are the point here
            if service.alive():
                peak = max(peak, peak_rss_kib(service.proc.pid))
            if rng.random() < 0.7:
                if service.alive():
                    service.kill()
                    kills += 1
                check_invariants(folder, data, complete=False)
                service.start()
            else:
                subprocess.run([sys.executable, "-m", "sidecar", "rotate", "--watch", str(folder),
                                "--checkpoint-dir", str(data)], cwd=work, capture_output=True, timeout=60)
                rotations += 1
        stop.set()
        writer.join()
        rows = settle(folder, data, written, service)
        peak = max(peak, peak_rss_kib(service.proc.pid))
        assert service.stop() == EXIT_OK
    finally:
        stop.set()
        service.close()
    latencies = log_latencies(work / "service.log", written)
    return {"minutes": minutes, "books": len(written.books), "malformed": len(written.malformed), "rows": len(rows),
            "checkpoints": len(list(data.glob("cumulative_checkpoint_*.csv"))), "kills": kills,
            "restarts": service.starts - 1, "rotations": rotations, "peak_rss_mib": peak / 1024,
            "latency_p50_ms": statistics.median(latencies),
            "latency_p99_ms": statistics.quantiles(latencies, n=100)[98], "breaches": 0}


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
