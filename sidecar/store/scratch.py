"""A throwaway SQLite database in a temp file: what a tool must remember per row, in flat memory.

verify remembers each ISBN's first line and compare each book's digest; for a million rows a Python
dict of them would cost hundreds of MB, a table on disk a few MB of cache.
"""

from __future__ import annotations

import sqlite3
import tempfile
from typing import Any, Iterable, Iterator


class Scratch:
    """One throwaway database: its tables made from schema, one transaction never committed (nothing is synced),
    its file deleted by close(). Every method raises sqlite3.Error on a bad statement or a full disk."""

    def __init__(self, schema: str) -> None:
        """A new temp database with schema's tables. Raises OSError when no temp file can be made."""
        self._file = tempfile.NamedTemporaryFile(prefix="sidecar-scratch-", suffix=".sqlite3")
        self.db = sqlite3.connect(self._file.name, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-8000")  # 8 MB, whatever the number of rows
        self.db.executescript(schema)
        self.db.execute("BEGIN")

    def execute(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Cursor:
        """Run one statement with its ? arguments."""
        return self.db.execute(sql, tuple(args))

    def rows(self, sql: str, args: Iterable[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """A query's rows, fetched as they are used."""
        yield from self.db.execute(sql, tuple(args))

    def close(self) -> None:
        """Close the database and delete its file."""
        self.db.close()
        self._file.close()

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
