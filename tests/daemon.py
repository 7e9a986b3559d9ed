"""A real `sidecar` service in a child process, with a fake systemd NOTIFY_SOCKET to hear it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from helpers import checkpoints, read_rows


class Daemon:
    def __init__(self, tmp: Path, folder: Path, poll: float | None = None, extra: list[str] | None = None,
                 env: dict[str, str] | None = None, prefix: list[str] | None = None) -> None:
        self.tmp, self.folder, self.data = tmp, folder, tmp / "data"
        self.args = ["--watch", str(folder), "--checkpoint-dir", str(self.data), "--rescan", "30",
                     *(["--poll", str(poll)] if poll else []), *(extra or [])]
        self.env = env or {}
        self.prefix = prefix or []  # e.g. setpriv, to run it without root's power over permissions
        self.proc: subprocess.Popen[str] | None = None
        self.messages: list[tuple[float, str]] = []

    def start(self, wait_ready: bool = True) -> Daemon:
        self.socket_path = self.tmp / f"notify-{time.monotonic_ns()}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.socket_path))
        self.messages = []
        self.log = open(self.tmp / "daemon.log", "a")
        env = {**os.environ, "NOTIFY_SOCKET": str(self.socket_path), **self.env}
        self.proc = subprocess.Popen([*self.prefix, sys.executable, "-m", "sidecar", *self.args], cwd=self.tmp, env=env,
                                     stdout=self.log, stderr=self.log, text=True)
        if wait_ready:
            self.wait_for_message("READY=1")
        return self

    def receive(self, timeout: float) -> str | None:
        self.sock.settimeout(timeout)
        try:
            message = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        self.messages.append((time.monotonic(), message))
        return message

    def wait_for_message(self, wanted: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not any(wanted in m for _, m in self.messages):
            assert self.proc is not None and self.proc.poll() is None, f"daemon exited: {self.logs()}"
            assert time.monotonic() < deadline, f"no {wanted!r} within {timeout} s: {self.logs()}"
            self.receive(0.1)

    def wait_for_rows(self, check, timeout: float = 20) -> list[list[str]]:
        """Wait until check(rows) holds for the checkpoint's rows."""
        deadline = time.monotonic() + timeout
        while True:
            rows = read_rows(checkpoints(self.data)[0]) if checkpoints(self.data) else []
            if check(rows):
                return rows
            assert self.proc is not None and self.proc.poll() is None, f"daemon exited: {self.logs()}"
            assert time.monotonic() < deadline, f"condition not met within {timeout} s: {self.logs()}"
            time.sleep(0.01)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 10) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        while self.receive(0.05) is not None:
            pass
        self.close()
        return code

    def stop(self) -> int:
        self.signal(signal.SIGTERM)
        return self.wait()

    def close(self) -> None:
        self.sock.close()
        self.socket_path.unlink(missing_ok=True)
        self.log.close()

    def logs(self) -> str:
        return (self.tmp / "daemon.log").read_text()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
