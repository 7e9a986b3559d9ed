"""An optional Prometheus textfile (node_exporter's textfile collector), replaced atomically."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..store.atomic import atomic_write

if TYPE_CHECKING:
    from ..engine.ingest import Ingestor

_written: dict[Path, str] = {}


def render(ingestor: Ingestor, queue_depth: int) -> str:
    lines = [
        "# HELP lsi_sidecar_books_total Books handled since the service started, by outcome.",
        "# TYPE lsi_sidecar_books_total counter",
        *(f'lsi_sidecar_books_total{{outcome="{o}"}} {ingestor.totals[o]}' for o in ("appended", "replaced", "rejected")),
        "# HELP lsi_sidecar_last_append_timestamp_seconds When the last row was made durable (0: none yet).",
        "# TYPE lsi_sidecar_last_append_timestamp_seconds gauge",
        f"lsi_sidecar_last_append_timestamp_seconds {ingestor.last_append_ns / 1e9:.3f}",
        "# HELP lsi_sidecar_queue_depth Paths waiting for the worker.",
        "# TYPE lsi_sidecar_queue_depth gauge",
        f"lsi_sidecar_queue_depth {queue_depth}",
    ]
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, ingestor: Ingestor, queue_depth: int) -> None:
    """Write only when something changed; readers never see a half-written file."""
    text = render(ingestor, queue_depth)
    if _written.get(path) == text:
        return
    atomic_write(path, text.encode(), durable=False)
    _written[path] = text
