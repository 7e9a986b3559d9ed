"""service: the long-running process. Decides when the engine looks at a path.

Owns watching (watchdog events as hints), the one "is this file finished?" policy (readiness.py),
the worker and supervisor threads, systemd's notify protocol and the metrics file.
May import: errors, faults, inputs, settings, rows, store, engine.
"""
