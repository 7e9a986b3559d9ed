"""lsi-sidecar: a crash-proof Lightning Source ACS checkpoint beside a book pipeline.

The data flows one way, and so do imports (tests/test_layout.py checks it):

    errors, faults, inputs          every error type; fault injection; the guarded read of any input file
    rows                            book + profile -> ACS row (pure)
    settings                        flags > environment > config.yaml -> one frozen Settings
    store                           checkpoint file, ledger, locks, manifests, source files
    engine                          exactly-once ingest and the batch lifecycle
    service   |  tools              the daemon; the read-only and export commands (never the engine)
    logs, cli                       logging set-up; argv -> command -> exit code
"""

__version__ = "0.1.0"

