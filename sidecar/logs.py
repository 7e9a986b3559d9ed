"""Logging through loguru: readable on a terminal, priorities and small JSON objects for journald.

Under journald (JOURNAL_STREAM names this process's stderr) every line starts with its syslog priority
as `<N>`, which journald turns into the entry's PRIORITY, so `journalctl -p warning` shows rejections.
`--log-format json` writes one small object a line: time, level, message and the record's fields
(`isbn`, `source`, `checkpoint`, `reason`, `problems` where the message has them). Records of stdlib
loggers (watchdog's) are routed in.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

from loguru import logger

from .errors import ConfigError

TEXT_FORMAT = "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> {message}"
# syslog priorities of loguru's levels (sd-daemon(3): "<4>" before a line on stderr is a warning)
PRIORITIES = {"TRACE": 7, "DEBUG": 7, "INFO": 6, "SUCCESS": 5, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class InterceptHandler(logging.Handler):
    """Sends records of stdlib loggers (watchdog's among them) to loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, f"{record.name}: {record.getMessage()}")


def under_journald() -> bool:
    """stderr is connected to journald (systemd sets JOURNAL_STREAM to its device and inode)."""
    try:
        device, inode = (int(part) for part in os.environ.get("JOURNAL_STREAM", "").split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def json_fields(record: Any) -> dict[str, Any]:
    """The documented JSON object of one record."""
    return {"time": record["time"].isoformat(), "level": record["level"].name,
            "message": record["message"], **{k: v for k, v in record["extra"].items() if not k.startswith("_")}}


def _formatter(json_format: bool, priority: bool) -> Callable[[Any], str]:
    def format(record: Any) -> str:
        if json_format:
            line = json.dumps(json_fields(record), ensure_ascii=False, default=str)
        else:  # the journal keeps the time itself
            line = f"{record['level'].name: <7} {record['message']}"
        if priority:
            line = f"<{PRIORITIES.get(record['level'].name, 6)}>{line}"
        record["extra"]["_line"] = line  # the line is data, never parsed for loguru's colour tags
        return "{extra[_line]}\n{exception}"
    return format


def setup_logging(level: str = "INFO", fmt: str = "text", file: Path | None = None) -> None:
    logger.remove()
    json_format = fmt == "json"
    # diagnose=False: variable values in tracebacks can leak book content and paths into shared logs.
    if file is not None:  # one process writes it; under systemd prefer the journal
        try:
            logger.add(file, level=level, format=_formatter(True, False) if json_format else TEXT_FORMAT,
                       colorize=False, backtrace=False, diagnose=False)
        except OSError as exc:
            raise ConfigError(f"log_file {file} cannot be written: {exc.strerror or exc}") from None
    journald = under_journald()
    if json_format or journald:
        logger.add(sys.stderr, level=level, format=_formatter(json_format, journald), colorize=False,
                   backtrace=False, diagnose=False)
    else:
        # On a terminal each line first clears what a progress bar left on it.
        prefix = "\r\x1b[K" if sys.stderr.isatty() else ""
        logger.add(sys.stderr, level=level, format=prefix + TEXT_FORMAT, backtrace=False, diagnose=False)
    logging.basicConfig(handlers=[InterceptHandler()], level=logging.INFO, force=True)
