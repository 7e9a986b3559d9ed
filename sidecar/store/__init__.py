"""store: the files the sidecar keeps and reads, and how bytes reach them safely.

Owns the checkpoint file (durable appends, cuts, replacement copies) and its name (names.py: made and
recognised there only), the ledger (the only code that knows its path and schema, read-only queries
included), folder locks, manifests, atomic_write, the pipeline's source files (found and read once, never
changed) and reading any ACS CSV or workbook back (workbook.py: within limits).
May import: errors, faults, inputs, settings, rows.
"""
