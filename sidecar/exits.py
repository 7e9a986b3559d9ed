"""The exit codes of `sidecar`: cli.py returns them, its --help lists them, the unit files and tests name them."""

from __future__ import annotations

EXIT_OK = 0  # every eligible book is in the checkpoint with its current content
EXIT_REJECTED = 1  # some books were rejected (see the log or `sidecar status`); the others are in
EXIT_USAGE = 2  # bad flags, settings or configuration files
EXIT_CHECKPOINT = 3  # the checkpoint, ledger or lock cannot be used (another instance, disk error, torn file...)
EXIT_SERVICE_FAILED = 4  # the service's observer or worker thread died (systemd restarts it)
EXIT_INTERNAL = 5  # an error the sidecar did not foresee (a bug): one line on stderr, the traceback at DEBUG
EXIT_NOT_READY = 6  # --once --require-ready: every book is in, but some rows are not LSI-ready
EXIT_STOPPED = 7  # --once or a tool stopped by SIGTERM or SIGINT (Ctrl-C) before it was done: run it again

STOPPED = "stopped by a signal before it was done; run it again"  # what EXIT_STOPPED prints when no pass is under way

# Each code's meaning in one phrase, for --help (the README's table says more).
EXIT_CODES = {
    EXIT_OK: "all books in",
    EXIT_REJECTED: "some books rejected",
    EXIT_USAGE: "usage or configuration error",
    EXIT_CHECKPOINT: "checkpoint, ledger or lock error",
    EXIT_SERVICE_FAILED: "the service's observer or worker died",
    EXIT_INTERNAL: "internal error",
    EXIT_NOT_READY: "(--once --require-ready) rows not LSI-ready",
    EXIT_STOPPED: "stopped by a signal before it was done",
}
