"""Fault scenarios: the service runs while the pipeline simulator writes, and the machine misbehaves.

Each scenario returns its figures and raises invariants.Breach when anything was lost, doubled, torn
or modified. The test suite runs them short; `python bench/faults.py` runs them long and prints figures,
and `python bench/soak.py` runs the soak.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sidecar.exits import EXIT_CHECKPOINT, EXIT_OK

from invariants import check_invariants
from simulate import Written, simulate


@dataclass
class Figures:
    scenario: str
    kills: int = 0
    restarts: int = 0
    books: int = 0
    malformed: int = 0
    breaches: int = 0  # a breach raises; a scenario that returns has none
    seconds: float = 0.0
    exit_codes: Counter[int | None] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


class Service:
    """A `sidecar` service child, started again whenever it exits, like systemd's Restart=."""

    def __init__(self, work: Path, folder: Path, data: Path, extra: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, "-m", "sidecar", "--watch", str(folder), "--checkpoint-dir", str(data),
                     "--rescan", "2", "--log-format", "json", *(extra or [])]
        self.work, self.env = work, {**os.environ, **(env or {})}
        self.log = open(work / "service.log", "a")
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, env: dict[str, str] | None = None) -> None:
        self.log.flush()
        self.log_offset = (self.work / "service.log").stat().st_size  # where this start's lines begin
        self.proc = subprocess.Popen(self.args, cwd=self.work, env={**self.env, **(env or {})},
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait()

    def stop(self) -> int:
        """SIGTERM once the latest start has caught up (as systemd would: it sent READY=1 then)."""
        assert self.proc is not None
        deadline = time.monotonic() + 60
        while "caught up:" not in (self.work / "service.log").read_bytes()[self.log_offset:].decode() and self.alive():
            if time.monotonic() > deadline:
                raise AssertionError("the service never caught up")
            time.sleep(0.02)
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def close(self) -> None:
        if self.alive():
            self.kill()
        self.log.close()


def _writer(folder: Path, books: int, rate: float, seed: int, written: Written) -> threading.Thread:
    thread = threading.Thread(target=simulate, kwargs=dict(folder=folder, books=books, rate=rate, in_flight=3,
                                                           malformed=0.05, siblings=0.3, seed=seed,
                                                           written=written))
    thread.start()
    return thread


def settle(folder: Path, data: Path, written: Written, service: Service, timeout: float = 120,
           state_dir: Path | None = None) -> list[list[str]]:
    """Wait until the running service has every book the simulator finished, then check everything."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check_invariants(folder, data, complete=True, malformed=written.malformed,
                                    originals=written.books, state_dir=state_dir)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            if not service.alive():
                service.start()
            time.sleep(0.2)


def _complete(folder: Path, data: Path, written: Written, service: Service, writer: threading.Thread) -> None:
    """The simulated batch ends; the service must then hold every book, and stop cleanly."""
    writer.join()
    settle(folder, data, written, service)
    assert service.stop() == EXIT_OK


def _finish(figures: Figures, service: Service, written: Written, start: float) -> Figures:
    figures.restarts = service.starts - 1
    figures.books, figures.malformed = len(written.books), len(written.malformed)
    figures.seconds = time.monotonic() - start
    return figures


def kill_storm(work: Path, kills: int, books: int, rate: float = 20, poll: float | None = None,
               seed: int = 1) -> Figures:
    """SIGKILL the service at random instants while books arrive; restart it at once, as systemd would."""
    rng = random.Random(seed)
    folder, data = work / "processed_json", work / "data"
    figures = Figures("kill -9 storm" + (f", polling every {poll:g} s" if poll else ""))
    service = Service(work, folder, data, ["--poll", str(poll)] if poll else [])
    written = Written()
    start = time.monotonic()
    writer = _writer(folder, books, rate, seed, written)
    try:
        service.start()
        while figures.kills < kills:
            time.sleep(rng.uniform(0.05, 0.6))  # a random instant is the point here
            if service.alive():
                code = service.kill()
                figures.exit_codes[code] += 1
                figures.kills += 1
            check_invariants(folder, data, complete=False)
            service.start()
        _complete(folder, data, written, service, writer)
    finally:
        service.close()
    return _finish(figures, service, written, start)


def failing_disk(work: Path, point: str, books: int = 60, rate: float = 30, seed: int = 2) -> Figures:
    """An I/O error at a write or fsync of the checkpoint: the service must stop (exit 3), not carry on;
    a restart completes the work."""
    folder, data = work / "processed_json", work / "data"
    figures = Figures(f"EIO at {point}")
    service = Service(work, folder, data)
    written = Written()
    start = time.monotonic()
    writer = _writer(folder, books, rate, seed, written)
    try:
        # The first start commits a group before its error; after an error there is always unrecorded
        # work, so each restart meets the error at its first write or fsync.
        for nth in (2, 1, 1):
            service.start(env={"SIDECAR_FAULT": f"{point}:{nth}"})
            assert service.proc is not None
            try:
                code = service.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"the service did not stop after the I/O error at {point}") from None
            figures.exit_codes[code] += 1
            if code != EXIT_CHECKPOINT:
                raise AssertionError(f"the service went on after an I/O error (exit {code})")
            check_invariants(folder, data, complete=False)
        service.start()
        _complete(folder, data, written, service, writer)
    finally:
        service.close()
    return _finish(figures, service, written, start)


def full_disk(work: Path, books: int = 60, size_kib: int = 96, seed: int = 3) -> Figures:
    """The checkpoint folder on a small tmpfs that fills up mid-run: the service waits, alive, with nothing
    torn; once the tmpfs is remounted 1,000x larger it brings every book in without a restart."""
    folder, data = work / "processed_json", work / "data"
    data.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(data)], check=True)
    figures = Figures(f"full disk ({size_kib} KiB tmpfs)")
    state = work / "state"  # the ledger stays on a disk with room: this scenario fills the checkpoint's
    service = Service(work, folder, data, ["--state-dir", str(state)])
    written = Written()
    start = time.monotonic()
    try:
        writer = _writer(folder, books, 30, seed, written)
        service.start()
        writer.join()
        deadline = time.monotonic() + 60
        log = work / "service.log"
        while "No space left on device; retrying until it passes" not in log.read_text():
            if not service.alive() or time.monotonic() > deadline:
                raise AssertionError(f"the service did not wait on the full disk: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        full_since = time.monotonic()
        while time.monotonic() < full_since + 5:  # a few retries while still full: alive, nothing torn
            if not service.alive():
                raise AssertionError(f"the service exited {service.proc.returncode if service.proc else None} "
                                     "on a full disk instead of waiting")
            check_invariants(folder, data, complete=False, state_dir=state)
            time.sleep(0.5)
        figures.notes.append("waited on ENOSPC, alive, nothing torn")
        subprocess.run(["mount", "-o", f"remount,size={size_kib * 1000}k", str(data)], check=True)
        rows = settle(folder, data, written, service, state_dir=state)
        figures.notes.append(f"{len(rows)} rows after space came back, {service.starts - 1} restarts")
        assert service.stop() == EXIT_OK
        figures.exit_codes[EXIT_OK] += 1
    finally:
        service.close()
        subprocess.run(["umount", str(data)], check=False)
    return _finish(figures, service, written, start)


def second_instance(work: Path) -> Figures:
    folder, data = work / "processed_json", work / "data"
    folder.mkdir(parents=True)
    figures = Figures("second instance")
    service = Service(work, folder, data)
    try:
        service.start()
        deadline = time.monotonic() + 20
        while "watching " not in (work / "service.log").read_text():
            if time.monotonic() > deadline or not service.alive():
                raise AssertionError("the first instance did not start")
            time.sleep(0.02)
        second = subprocess.run(service.args, cwd=work, capture_output=True, text=True, timeout=30)
        figures.exit_codes[second.returncode] += 1
        if second.returncode != EXIT_CHECKPOINT or f"is in use by another sidecar ({{\"pid\": {service.proc.pid}" not in second.stderr:
            raise AssertionError(f"the second instance was not refused as expected: {second.stderr}")
        figures.notes.append(second.stderr.strip())
        assert service.stop() == EXIT_OK
    finally:
        service.close()
    return figures


def log_latencies(log: Path, written: Written) -> list[float]:
    """Close-to-durable latencies (ms) from the service's JSON log and the simulator's close times."""
    latencies = []
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record["message"].startswith(("appended ISBN ", "replaced ISBN ")):
            closed = written.closed_at.get(record["isbn"])
            at = datetime.fromisoformat(record["time"]).timestamp()
            if closed is not None and at >= closed:
                latencies.append((at - closed) * 1000)
    return latencies


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
