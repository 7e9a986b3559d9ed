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


def _loguru_without_asyncio() -> None:
    """loguru imports asyncio (a third or more of its import time) only to look up the running event loop
    of a coroutine sink, which the sidecar never adds. Its 20-line helper module is given here with the
    same two functions, importing asyncio when one is called: `sidecar --once` then starts without it."""
    import sys
    import types

    if "loguru" in sys.modules or "asyncio" in sys.modules:
        return
    helper = types.ModuleType("loguru._asyncio_loop")

    def get_running_loop():  # type: ignore[no-untyped-def]
        import asyncio

        return asyncio.get_running_loop()

    def get_task_loop(task):  # type: ignore[no-untyped-def]
        return task.get_loop()

    helper.get_running_loop, helper.get_task_loop = get_running_loop, get_task_loop  # type: ignore[attr-defined]
    sys.modules[helper.__name__] = helper


_loguru_without_asyncio()
