"""argv -> a command. The only module that parses argv, prints to the user or picks an exit code."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from loguru import logger

from . import __version__
from .engine.batches import write_request
from .engine.ingest import Ingestor
from .engine.outcome import Outcome
from .errors import CheckpointError, ConfigError, LockHeld, ServiceFailed, SidecarError
from .exits import (EXIT_CHECKPOINT, EXIT_CODES, EXIT_INTERNAL, EXIT_NOT_READY, EXIT_OK, EXIT_REJECTED,
                    EXIT_SERVICE_FAILED, EXIT_STOPPED, EXIT_USAGE, STOPPED)
from .logs import setup_logging
from .settings import LOG_LEVELS, Settings, load_settings
from .store.ledger import Ledger

if TYPE_CHECKING:
    from .store.preflight import PreflightReport

# A command imports its tool when it runs: `--once` and the service need none of them (start-up time).


def _settings_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """Flags every command takes; a subcommand's copies must not overwrite values given before it."""
    add = parser.add_argument
    add("--config", metavar="FILE", default=default, help="settings file (default: ./config.yaml when present)")
    add("--watch", metavar="DIR", action="append", default=default, help="folder of processed JSON (repeatable)")
    add("--imprint", metavar="NAME", default=default, help="imprint for the checkpoint name (default: from the folder)")
    add("--checkpoint-dir", metavar="DIR", default=default, help="where checkpoint CSVs go (default: data/)")
    add("--state-dir", metavar="DIR", default=default, help="where the ledger goes (default: CHECKPOINT_DIR/state)")
    add("--pipeline-configs", metavar="DIR", default=default,
        help="the pipeline's configs/ folder: default, publisher, imprint, tranche and books/<isbn>.json levels")
    add("--publisher", metavar="NAME", default=default, help="the publisher file in publishers/ (default: by name)")
    add("--lsi-config", metavar="FILE", default=default, help="the global LSI defaults file (wins over the tree's)")
    add("--tranche", metavar="FILE|NAME", default=default,
        help="the tranche: a file, or a name in the tree's tranches/ (wins over nothing: it is the tranche level)")
    add("--acs-codes", metavar="FILE", default=default, help="LSI's ACS-codes-and-descriptions.csv, for validation")
    add("--log-level", metavar="LEVEL", default=default, help="DEBUG, INFO, WARNING, ... (default: INFO)")
    add("--log-format", choices=("text", "json"), default=default, help="text for terminals, json for journald")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sidecar",
        description="Keep a crash-proof LSI ACS checkpoint CSV of the books a pipeline writes. "
                    "Without --once it runs as a service: it catches up, then watches.",
        epilog="Exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()) + ".",
    )
    parser.add_argument("--version", action="version", version=f"sidecar {__version__}")
    _settings_flags(parser, None)
    parser.add_argument("--once", action="store_true", help="catch up on every book present, then exit")
    parser.add_argument("--require-ready", action="store_true",
                        help=f"with --once: exit {EXIT_NOT_READY} when a row in the checkpoint is not LSI-ready (and none was rejected)")
    parser.add_argument("--poll", dest="poll_seconds", metavar="SECONDS",
                        help="poll the folders instead of inotify (NFS, SMB, bind mounts)")
    parser.add_argument("--rescan", dest="rescan_seconds", metavar="SECONDS",
                        help="full rescan interval of the service (default: 60)")
    parser.add_argument("--metrics-file", metavar="FILE", help="Prometheus textfile the service keeps up to date")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str, json_output: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        _settings_flags(sub, argparse.SUPPRESS)
        if json_output:
            sub.add_argument("--json", action="store_true", help="machine-readable output")
        return sub

    command("status", "what is in the checkpoint, rejected or still missing (read-only)")
    command("list", "the checkpoints, newest first (read-only)")
    recover = command("recover", "which books are not in a checkpoint yet, which were rejected and why")
    recover.add_argument("--resume-list", metavar="FILE", help="write ISBN,Title of every book already done")
    verify = command("verify", "check a checkpoint: header, dialect, whole records, duplicates, LSI rules, ledger")
    verify.add_argument("checkpoint", metavar="CHECKPOINT")
    _file_flags(verify, command("preflight", "check that the interior and cover PDFs each row names agree with the row"))
    compare = command("compare", "compare two ACS files book by book (by ISBN, else title)")
    compare.add_argument("checkpoint", metavar="CHECKPOINT")
    compare.add_argument("other", metavar="OTHER_CSV")
    export = command("export", "write a submission CSV (with a profile) or a review workbook (--format xlsx) "
                     "from a checkpoint", json_output=False)
    export.add_argument("checkpoint", metavar="CHECKPOINT")
    export.add_argument("--profile", help="an export profile: 'submission', 'full' or one in config.yaml "
                                          "(required for csv; for xlsx it chooses the columns, default full)")
    export.add_argument("--format", choices=("csv", "xlsx"), default="csv",
                        help="csv: the file to upload; xlsx: a workbook for people, every cell as text")
    export.add_argument("--output", metavar="FILE", help="default: <checkpoint>_<profile>.csv or <checkpoint>.xlsx")
    for name, what in (("rotate", "start a new checkpoint now (the running service does it, or this command)"),
                       ("finalize", "mark the checkpoint complete with a manifest; the next book starts a new one")):
        sub = command(name, what, json_output=False)
        if name == "rotate":
            sub.add_argument("--batch-id", metavar="ID", help="recorded with the new checkpoint")
    batch = command("batch", "write the batch LSI file of a folder in one go (no checkpoint, no ledger)",
                    json_output=False)
    batch.add_argument("folder", metavar="DIR")
    batch.add_argument("--output", metavar="FILE", required=True)
    return parser


def _file_flags(verify: argparse.ArgumentParser, preflight: argparse.ArgumentParser) -> None:
    verify.add_argument("--files", metavar="DIR", help="also check the interior and cover PDFs each row names "
                                                       "(the folder they are uploaded from)")
    preflight.add_argument("checkpoint", metavar="CHECKPOINT", nargs="?",
                           help="default: the current checkpoint of each watched imprint")
    preflight.add_argument("--files", metavar="DIR", help="the folder the PDFs are uploaded from, named as the "
                                                          "row's Interior / Cover cells say")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logger.remove()  # nothing reaches stderr before the configured logging, a traceback least of all
    try:
        flags = vars(args)
        if args.command is None and not args.once:
            return _serve(flags)
        if args.command == "batch":
            flags = {**flags, "watch": [args.folder]}
        settings = load_settings(flags, need_watch=args.command not in ("verify", "compare", "export", "list") and
                                 not (args.command == "preflight" and args.checkpoint))
        setup_logging(settings.log_level, settings.log_format, settings.log_file)
        if args.command is not None:
            return COMMANDS[args.command](settings, args)
        return run_once(settings, args.require_ready)
    except KeyboardInterrupt:  # Ctrl-C before the command handles signals itself (--once does, for its pass)
        print(f"sidecar: {STOPPED}", file=sys.stderr)
        return EXIT_STOPPED
    except BrokenPipeError:  # the reader of our output went away (`sidecar status | head -1`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush stays quiet
        return EXIT_OK
    except SidecarError as exc:
        print(f"sidecar: {exc}", file=sys.stderr)
        return _exit_code(exc)
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, its own exit code, the traceback at DEBUG
        logger.opt(exception=True).debug("internal error")
        print(f"sidecar: internal error ({type(exc).__name__}: {str(exc)[:300]}); run with --log-level DEBUG "
              "for the traceback and report it", file=sys.stderr)
        return EXIT_INTERNAL


def _out(text: str) -> None:
    """A command's output on stdout. A reader that went away (`sidecar verify X | head -1`) is not an error,
    and does not change the command's exit code: the rest of the output goes nowhere."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush stays quiet


def _serve(flags: dict[str, Any]) -> int:
    """The service: a configuration that does not load is waited for, not an exit 2 (see serve())."""
    from .service.daemon import serve

    level = str(flags.get("log_level") or os.environ.get("SIDECAR_LOG_LEVEL") or "INFO").upper()
    log_format = flags.get("log_format") or os.environ.get("SIDECAR_LOG_FORMAT")
    # Until the configuration loads: the flags' logging, so that what the service waits for is seen.
    setup_logging(level if level in LOG_LEVELS else "INFO", log_format if log_format == "json" else "text")

    def load() -> Settings:
        settings = load_settings(flags)
        setup_logging(settings.log_level, settings.log_format, settings.log_file)
        return settings

    serve(load)
    return EXIT_OK


def _exit_code(exc: SidecarError) -> int:
    if isinstance(exc, ConfigError):
        return EXIT_USAGE
    if isinstance(exc, ServiceFailed):
        return EXIT_SERVICE_FAILED
    return EXIT_CHECKPOINT  # CheckpointError, LockHeld, TableError: the files cannot be used as they are


def run_once(settings: Settings, require_ready: bool = False) -> int:
    _refuse_missing_folders(settings)
    stop = threading.Event()
    progress = _progress_bar if sys.stderr.isatty() else None
    with _stop_on_signals(stop), Ingestor(settings) as ingestor:
        summary = ingestor.count_readiness(ingestor.catch_up(progress, stop))
    if progress:
        print(file=sys.stderr)
    if summary.not_ready:
        logger.warning(summary.readiness())
    _out(f"sidecar: {summary.line()}")
    files = None
    if settings.files is not None:  # the summary of the files, as status gives it, and loud when some have errors
        from .store.preflight import file_readiness, files_agree, files_warning

        entries = [file_readiness(r) for r in _preflight(settings, summary.checkpoints)]
        if entries:
            _out(f"sidecar: files: {files_agree(entries)}")
        files = files_warning(entries)
    if files:
        logger.warning(files)
    if stop.is_set():
        logger.warning("stopped by a signal before every book was seen; run again to finish")
        return EXIT_STOPPED
    if summary.counts[Outcome.REJECTED]:
        return EXIT_REJECTED
    return EXIT_NOT_READY if require_ready and (summary.not_ready or files) else EXIT_OK


def _refuse_missing_folders(settings: Settings) -> None:
    """A run that catches up once: a watched folder that does not exist is a mistyped path, not "nothing to
    do" (the service waits for one instead). Raises ConfigError."""
    for folder in settings.folders:
        if not os.path.lexists(folder.path):
            raise ConfigError(f"the watched folder {folder.path} does not exist; check the path (--watch, "
                              "SIDECAR_WATCH or 'watch:' in the config file)")


def show_status(settings: Settings, args: argparse.Namespace) -> int:
    from .tools.status import collect_status, format_status

    status = collect_status(settings)
    _out(json.dumps(status, indent=2) if args.json else format_status(status))
    return EXIT_OK


def show_list(settings: Settings, args: argparse.Namespace) -> int:
    from .tools.status import format_list, list_checkpoints

    entries = list_checkpoints(settings)
    _out(json.dumps([e.json() for e in entries], indent=2) if args.json else format_list(entries))
    return EXIT_OK


def recover(settings: Settings, args: argparse.Namespace) -> int:
    """Status, narrowed to what a person needs after a crash; optionally the resume list."""
    from .tools.status import collect_status, format_recovery, recovery, write_resume_list

    status = collect_status(settings, with_done=bool(args.resume_list))
    if args.resume_list:
        done = write_resume_list(status, Path(args.resume_list))
        logger.info(f"wrote {done} books already done to {args.resume_list}")
    recovered = recovery(status)
    _out(json.dumps(recovered, indent=2) if args.json else format_recovery(recovered))
    missing = any(e["waiting"] or e["rejected"] or e["stale"] for e in recovered.values())
    return EXIT_REJECTED if missing else EXIT_OK


def verify(settings: Settings, args: argparse.Namespace) -> int:
    from .tools.preflight import format_preflight
    from .tools.verify import format_report, verify_checkpoint

    report = verify_checkpoint(Path(args.checkpoint).resolve(), settings.profile.context, [settings.state_dir])
    files = _preflight(settings, [report.path]) if settings.files else []
    clean = report.clean and all(f.clean for f in files)  # the rows' own checks and their files'
    if args.json:
        _out(json.dumps({**vars(report), "path": str(report.path), "clean": clean,
                         **({"files": files[0].json()} if files else {})}, indent=2))
    else:
        _out("\n".join([format_report(report), *map(format_preflight, files)]))
    return EXIT_OK if clean else EXIT_REJECTED


def preflight(settings: Settings, args: argparse.Namespace) -> int:
    """The files of a checkpoint's rows (or of each imprint's current checkpoint) against the rows."""
    from .store.preflight import current_checkpoints
    from .tools.preflight import format_preflight

    checkpoints = ([Path(args.checkpoint).resolve()] if args.checkpoint
                   else list(current_checkpoints(settings.state_dir, [f.imprint for f in settings.folders])))
    if not checkpoints:
        raise ConfigError("no current checkpoint to check; give CHECKPOINT")
    reports = _preflight(settings, checkpoints)
    if args.json:
        _out(json.dumps([r.json() for r in reports] if len(reports) > 1 else reports[0].json(), indent=2))
    else:
        _out("\n".join(map(format_preflight, reports)))
    return EXIT_OK if all(r.clean for r in reports) else EXIT_REJECTED


def _preflight(settings: Settings, checkpoints: Sequence[Path]) -> list[PreflightReport]:
    from .store.preflight import preflight_with

    return [preflight_with(settings, c) for c in checkpoints]


def compare(settings: Settings, args: argparse.Namespace) -> int:
    from .tools.compare import compare_files, comparison_json, format_comparison

    left, right = Path(args.checkpoint), Path(args.other)
    result = compare_files(left, right)
    _out(json.dumps(comparison_json(result), indent=2) if args.json else format_comparison(left, right, result))
    return EXIT_OK if result.same else EXIT_REJECTED


def export(settings: Settings, args: argparse.Namespace) -> int:
    from .rows.columns import COLUMNS
    from .store.names import export_name, review_name
    from .tools.export import export_checkpoint, export_profile, known_checkpoints, refuse_checkpoint_output
    from .tools.verify import verify_checkpoint

    checkpoint = Path(args.checkpoint)
    if args.format == "xlsx":
        from .store.preflight import preflight_with
        from .tools.review import write_review

        output = Path(args.output) if args.output else review_name(checkpoint)
        refuse_checkpoint_output(output, checkpoint, known_checkpoints(settings.state_dir))
        columns = export_profile(args.profile, settings.exports).columns if args.profile else COLUMNS
        files = preflight_with(settings, checkpoint).by_line() if settings.files is not None else None
        rows, not_ready, cut = write_review(checkpoint, output, columns, settings.profile.context,
                                            [settings.state_dir], files)
        _out(f"sidecar: {rows} rows ({not_ready} not LSI-ready) in the review workbook {output}" +
             (f"; {cut} cell{'s were' if cut > 1 else ' was'} cut to the 32,767 characters a spreadsheet cell "
              "holds (filled and explained in the workbook)" if cut else ""))
        return EXIT_OK
    if not args.profile:
        raise ConfigError("a CSV export needs --profile (submission, full, or one under 'exports:' in config.yaml)")
    output = Path(args.output) if args.output else export_name(checkpoint, args.profile)
    rows, dropped = export_checkpoint(checkpoint, export_profile(args.profile, settings.exports), output,
                                      known_checkpoints(settings.state_dir))
    for column, n in dropped.items():
        logger.warning(f"export profile '{args.profile}' leaves out '{column}', which {n} row(s) set: those values are "
                       "not in the export (add the column to the profile's columns to send them)")
    left_out = f"; {sum(dropped.values())} value(s) in {len(dropped)} column(s) left out" if dropped else ""
    # The rows LSI would refuse, as verify counts them.
    not_ready = verify_checkpoint(checkpoint.resolve(), settings.profile.context, [settings.state_dir]).not_ready
    if not_ready:
        logger.warning(f"{not_ready} of {rows} rows exported are not LSI-ready: sidecar verify {checkpoint} says why")
    _out(f"sidecar: {rows} rows ({not_ready} not LSI-ready) exported to {output}{left_out}")
    return EXIT_OK



def batch(settings: Settings, args: argparse.Namespace) -> int:
    from .tools.batch import write_batch

    _refuse_missing_folders(settings)
    [folder] = settings.folders
    rows, rejected = write_batch(settings, folder, Path(args.output))
    _out(f"sidecar: {rows} rows, {rejected} rejected; batch file: {args.output}")
    return EXIT_REJECTED if rejected else EXIT_OK


def rotate(settings: Settings, args: argparse.Namespace) -> int:
    return _lifecycle(settings, "rotate", getattr(args, "batch_id", None))


def finalize(settings: Settings, args: argparse.Namespace) -> int:
    return _lifecycle(settings, "finalize", None)


def _lifecycle(settings: Settings, action: str, batch_id: str | None) -> int:
    """Rotate or finalize: here when no service runs, else by the service, which holds the lock."""
    imprints = sorted({f.imprint for f in settings.folders})
    try:
        ingestor = Ingestor(settings)
    except LockHeld:
        request = write_request(settings.state_dir, action, imprints, batch_id)
        logger.info(f"asked the running service to {action} {', '.join(imprints)}")
        deadline = time.monotonic() + 30
        while request.exists():
            if time.monotonic() > deadline:
                raise CheckpointError(f"the running service did not take the request within 30 s; it stays in "
                                      f"{request} and is done when the service next starts") from None
            time.sleep(0.05)
    else:
        with ingestor:
            for imprint in imprints:
                ingestor.finalize(imprint) if action == "finalize" else ingestor.rotate(imprint, batch_id)
    with Ledger.read_only(settings.state_dir) as ledger:
        for imprint in imprints:
            current = ledger.current_checkpoint(imprint)
            _out(f"sidecar: {imprint}: " + (f"current checkpoint {current.path}" if current
                                            else "no open checkpoint; the next book starts one"))
    return EXIT_OK


COMMANDS = {"rotate": rotate, "finalize": finalize, "status": show_status, "list": show_list, "recover": recover,
            "verify": verify, "preflight": preflight, "compare": compare, "export": export, "batch": batch}


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
    filled = 30 * done // total
    print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} books", end="", file=sys.stderr, flush=True)
