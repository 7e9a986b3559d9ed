"""systemd's notify protocol (sd_notify): datagrams to $NOTIFY_SOCKET; a no-op outside systemd."""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "")
        self.sock: socket.socket | None = None
        if address:
            self.address = "\0" + address[1:] if address.startswith("@") else address
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        # systemd wants a ping at least every WATCHDOG_USEC; half of it leaves room for a slow tick.
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and pid in ("", str(os.getpid())) else None

    def send(self, message: str) -> None:
        if self.sock is not None:
            try:
                self.sock.sendto(message.encode(), self.address)
            except OSError:
                pass  # systemd gone or not listening: nothing to tell

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
