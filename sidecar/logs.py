"""Logging through loguru: readable on a terminal, JSON lines for journald, stdlib (watchdog) routed in."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from loguru import logger

from .errors import ConfigError

TEXT_FORMAT = "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> {message}"


class InterceptHandler(logging.Handler):
    """Sends records of stdlib loggers (watchdog's among them) to loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, f"{record.name}: {record.getMessage()}")


def setup_logging(level: str = "INFO", fmt: str = "text", file: Path | None = None) -> None:
    logger.remove()
    if file is not None:  # one process writes it; under systemd prefer the journal
        try:
            logger.add(file, level=level, serialize=fmt == "json", format=TEXT_FORMAT, colorize=False,
                       backtrace=False, diagnose=False)
        except OSError as exc:
            raise ConfigError(f"log_file {file} cannot be written: {exc.strerror or exc}") from None
    # diagnose=False: variable values in tracebacks can leak book content and paths into shared logs.
    if fmt == "json":
        logger.add(sys.stderr, level=level, serialize=True, backtrace=False, diagnose=False)
    else:
        # On a terminal each line first clears what a progress bar left on it.
        prefix = "\r\x1b[K" if sys.stderr.isatty() else ""
        logger.add(sys.stderr, level=level, format=prefix + TEXT_FORMAT, backtrace=False, diagnose=False)
    logging.basicConfig(handlers=[InterceptHandler()], level=logging.INFO, force=True)
