"""argv -> a command. The only module that prints to the user or picks an exit code."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from typing import Any, Iterator, Sequence

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
EXIT_SERVICE_FAILED = 4  # the service's observer or writer thread died (systemd restarts it)


def _settings_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """Flags every command takes; a subcommand's copies must not overwrite values given before it."""
    add = parser.add_argument
    add("--config", metavar="FILE", default=default, help="settings file (default: ./config.yaml when present)")
    add("--watch", metavar="DIR", action="append", default=default, help="folder of processed JSON (repeatable)")
    add("--imprint", metavar="NAME", default=default, help="imprint for the checkpoint name (default: from the folder)")
    add("--checkpoint-dir", metavar="DIR", default=default, help="where checkpoint CSVs go (default: data/)")
    add("--state-dir", metavar="DIR", default=default, help="where the ledger goes (default: CHECKPOINT_DIR/state)")
    add("--lsi-config", metavar="FILE", default=default, help="the pipeline's configs/default_lsi_config.json")
    add("--tranche", metavar="FILE", default=default, help="the pipeline's configs/tranches/<name>.json")
    add("--acs-codes", metavar="FILE", default=default, help="LSI's ACS-codes-and-descriptions.csv, for validation")
    add("--log-level", metavar="LEVEL", default=default, help="DEBUG, INFO, WARNING, ... (default: INFO)")
    add("--log-format", choices=("text", "json"), default=default, help="text for terminals, json for journald")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sidecar",
        description="Keep a crash-proof LSI ACS checkpoint CSV of the books a pipeline writes. "
                    "Without --once it runs as a service: it catches up, then watches.",
        epilog="Exit codes: 0 all books in; 1 some books rejected; 2 usage or configuration error; "
               "3 checkpoint, ledger or lock error; 4 the service's observer or writer died.",
    )
    parser.add_argument("--version", action="version", version=f"sidecar {__version__}")
    _settings_flags(parser, None)
    parser.add_argument("--once", action="store_true", help="catch up on every book present, then exit")
    parser.add_argument("--poll", dest="poll_seconds", metavar="SECONDS",
                        help="poll the folders instead of inotify (NFS, SMB, bind mounts)")
    parser.add_argument("--rescan", dest="rescan_seconds", metavar="SECONDS",
                        help="full rescan interval of the service (default: 60)")
    parser.add_argument("--metrics-file", metavar="FILE", help="Prometheus textfile the service keeps up to date")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    status = commands.add_parser("status", help="what is in the checkpoint, rejected or still missing (read-only)")
    _settings_flags(status, argparse.SUPPRESS)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(vars(args))
        setup_logging(settings.log_level, settings.log_format)
        if args.command == "status":
            return show_status(settings, args.json)
        if args.once:
            return run_once(settings)
        from .service import Service

        return Service(settings).run()
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


def show_status(settings: Settings, as_json: bool) -> int:
    from .status import collect_status, format_status

    status = collect_status(settings)
    print(json.dumps(status, indent=2) if as_json else format_status(status))
    return EXIT_OK


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
