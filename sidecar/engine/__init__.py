"""engine: exactly once, one path at a time.

Owns the append / replace / repair protocol (appender.py), the ingest rules (ingest.py) and the batch
lifecycle: rotate, finalize, marker files and the requests of `sidecar rotate|finalize` (batches.py).
Both `--once` and the service drive it; it never decides when.
May import: errors, faults, inputs, settings, rows, store.
"""
