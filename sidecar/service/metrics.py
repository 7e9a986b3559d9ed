"""An optional Prometheus textfile (node_exporter's textfile collector), replaced atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ..engine.outcome import TOTALLED
from ..store.atomic import atomic_write

_written: dict[Path, str] = {}


def render(totals: Mapping[str, int], last_append_ns: int, queue_depth: int, waiting: int,
           file_errors: int | None = None) -> str:
    lines = [
        "# HELP lsi_sidecar_books_total Books handled since the service (re)started, by outcome.",
        "# TYPE lsi_sidecar_books_total counter",
        *(f'lsi_sidecar_books_total{{outcome="{o}"}} {totals.get(o, 0)}' for o in TOTALLED),
        "# HELP lsi_sidecar_last_append_timestamp_seconds When the last row was made durable (0: none yet).",
        "# TYPE lsi_sidecar_last_append_timestamp_seconds gauge",
        f"lsi_sidecar_last_append_timestamp_seconds {last_append_ns / 1e9:.3f}",
        "# HELP lsi_sidecar_queue_depth Paths waiting for the worker.",
        "# TYPE lsi_sidecar_queue_depth gauge",
        f"lsi_sidecar_queue_depth {queue_depth}",
        "# HELP lsi_sidecar_waiting Faults the service waits for (a full disk, a folder it cannot list...); see the log.",
        "# TYPE lsi_sidecar_waiting gauge",
        f"lsi_sidecar_waiting {waiting}",
    ]
    if file_errors is not None:  # files set, and checked once at least
        lines += ["# HELP lsi_sidecar_rows_with_file_errors Rows of the current checkpoints whose files LSI would refuse.",
                  "# TYPE lsi_sidecar_rows_with_file_errors gauge",
                  f"lsi_sidecar_rows_with_file_errors {file_errors}"]
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, totals: Mapping[str, int], last_append_ns: int, queue_depth: int, waiting: int,
                  file_errors: int | None = None) -> None:
    """Write only when something changed; readers never see a half-written file. Raises OSError."""
    text = render(totals, last_append_ns, queue_depth, waiting, file_errors)
    if _written.get(path) == text:
        return
    atomic_write(path, text.encode(), durable=False)
    _written[path] = text
