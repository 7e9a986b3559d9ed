"""Every kind of failure the sidecar tells apart; cli.py maps each to an exit code."""

from __future__ import annotations


class SidecarError(Exception):
    """Base of every error the sidecar reports to a person without a traceback."""


class ConfigError(SidecarError):
    """A setting, flag or configuration file is wrong."""


class BookError(SidecarError):
    """A source file cannot become a row; the message says why and what to do."""


class CheckpointError(SidecarError):
    """The checkpoint, its ledger or its lock cannot be used safely."""


class DiskFull(CheckpointError):
    """The disk of the checkpoint or the ledger is full; nothing partial was kept. The service waits for space."""


class FolderError(ConfigError):
    """A watched folder cannot be listed (unreadable, or not a folder). The service waits for it."""


class LockHeld(CheckpointError):
    """Another sidecar already writes to this checkpoint folder."""


class InputError(SidecarError):
    """A file given to the sidecar cannot be read as a file of its kind; the message says why."""


class TableError(SidecarError):
    """A CSV file given to a tool cannot be read as an ACS table."""


class ServiceFailed(SidecarError):
    """The service's observer or worker thread died; systemd restarts it."""
