"""argv -> a command. The only module that prints to the user or picks an exit code."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from typing import Iterator, Sequence

from loguru import logger

from . import __version__
from .config import Settings, load_settings
from .errors import CheckpointError, ConfigError, SidecarError
from .ingest import Ingestor
from .logs import setup_logging

EXIT_OK = 0  # every eligible book is in the checkpoint with its current content
EXIT_REJECTED = 1  # some books were rejected (see the log or `sidecar status`); the others are in
EXIT_USAGE = 2  # bad flags, settings or configuration files
EXIT_CHECKPOINT = 3  # the checkpoint, ledger or lock cannot be used (another instance, disk error...)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sidecar",
        description="Keep a crash-proof LSI ACS checkpoint CSV of the books a pipeline writes.",
        epilog="Exit codes: 0 all books in; 1 some books rejected; 2 usage or configuration error; "
               "3 checkpoint, ledger or lock error.",
    )
    parser.add_argument("--version", action="version", version=f"sidecar {__version__}")
    parser.add_argument("--config", metavar="FILE", help="settings file (default: ./config.yaml when present)")
    parser.add_argument("--once", action="store_true", help="catch up on every book present, then exit")
    parser.add_argument("--watch", metavar="DIR", action="append", help="folder of processed JSON (repeatable)")
    parser.add_argument("--imprint", metavar="NAME", help="imprint for the checkpoint name (default: from the folder)")
    parser.add_argument("--checkpoint-dir", metavar="DIR", help="where checkpoint CSVs go (default: data/)")
    parser.add_argument("--state-dir", metavar="DIR", help="where the ledger goes (default: CHECKPOINT_DIR/state)")
    parser.add_argument("--lsi-config", metavar="FILE", help="the pipeline's configs/default_lsi_config.json")
    parser.add_argument("--tranche", metavar="FILE", help="the pipeline's configs/tranches/<name>.json")
    parser.add_argument("--acs-codes", metavar="FILE", help="LSI's ACS-codes-and-descriptions.csv, for validation")
    parser.add_argument("--log-level", metavar="LEVEL", help="DEBUG, INFO, WARNING, ... (default: INFO)")
    parser.add_argument("--log-format", choices=("text", "json"), help="text for terminals, json for journald")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(vars(args))
        setup_logging(settings.log_level, settings.log_format)
        if not args.once:
            raise ConfigError("the long-running service is not available yet: use --once")
        return run_once(settings)
    except ConfigError as exc:
        print(f"sidecar: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CheckpointError as exc:
        print(f"sidecar: {exc}", file=sys.stderr)
        return EXIT_CHECKPOINT
    except SidecarError as exc:  # pragma: no cover - every subclass is handled above
        print(f"sidecar: {exc}", file=sys.stderr)
        return EXIT_CHECKPOINT


def run_once(settings: Settings) -> int:
    stop = threading.Event()
    progress = _progress_bar if sys.stderr.isatty() else None
    with _stop_on_signals(stop), Ingestor(settings) as ingestor:
        summary = ingestor.catch_up(progress, stop)
    if progress:
        print(file=sys.stderr)
    print(f"sidecar: {summary.line()}")
    if stop.is_set():
        logger.info("stopped by a signal before every book was seen; run again to finish")
    return EXIT_REJECTED if summary.counts["rejected"] else EXIT_OK


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT finish the book in hand and stop; the previous handlers come back after."""
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _progress_bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} books", end="", file=sys.stderr, flush=True)
