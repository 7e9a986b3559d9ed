"""The ledger's tables, and the one migration that brings a ledger of an earlier version to this one.

A ledger's version is SQLite's user_version. Version 0 is every ledger made before versions were kept
(with or without rows.row_sha256 and rows.lsi_errors); version 1 adds what each row was made under
(rows.digest), why a row could not be converted again (rows.stale), the settings a rejection was made
under (rejections.digest), keys ISBN-10 rows by their ISBN-13, and drops the per-imprint digest that
version 0 kept instead. A later change adds its columns to ADDED and its steps to a new version.
"""

from __future__ import annotations

import sqlite3

from ..errors import CheckpointError
from ..rows.isbn import identity

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY,
    imprint TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    header_len INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    closed_ns INTEGER,              -- NULL for the imprint's current checkpoint
    pending_rewrite TEXT,           -- a replacement copy that is committed but not yet renamed in
    finalized_ns INTEGER,           -- set by finalize: the batch is complete, a manifest lies beside it
    batch_id TEXT                   -- from a batch-start marker, when it named one
);
CREATE TABLE IF NOT EXISTS rows (
    checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id),
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    stat TEXT NOT NULL,
    checked_ns INTEGER NOT NULL,
    isbn TEXT NOT NULL,             -- the book's identity: its ISBN-13 when it gave a valid ISBN-10 or -13
    title TEXT NOT NULL,
    appended_ns INTEGER NOT NULL,
    row_sha256 TEXT,                -- of the row's bytes as written: start-up and verify find hand edits
    lsi_errors TEXT,                -- its LSI problems, as lsi_rules.encode_problems writes them ('[]': none)
    digest TEXT,                    -- of the settings the row was converted under (NULL: before version 1)
    stale TEXT,                     -- why the row could not be converted under the settings in force
    PRIMARY KEY (checkpoint_id, offset)
);
CREATE INDEX IF NOT EXISTS rows_by_source ON rows(source);
CREATE INDEX IF NOT EXISTS rows_by_isbn ON rows(checkpoint_id, isbn);
CREATE TABLE IF NOT EXISTS rejections (
    source TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    stat TEXT NOT NULL,
    checked_ns INTEGER NOT NULL,
    reason TEXT NOT NULL,
    digest TEXT                     -- of the settings the file was rejected under
);
CREATE TABLE IF NOT EXISTS markers (
    path TEXT PRIMARY KEY,          -- a batch marker file in a watched folder
    stat TEXT NOT NULL              -- the version of it already acted on
);
"""

# Columns that ledgers of earlier versions may lack, in the order they were added (a fresh ledger has them all).
ADDED = (("rows", "row_sha256"), ("rows", "lsi_errors"), ("rows", "digest"), ("rows", "stale"),
         ("rejections", "digest"))


def migrate(db: sqlite3.Connection, path: object) -> None:
    """Create the tables of a new ledger, or bring an earlier one to SCHEMA_VERSION in one transaction.

    Raises CheckpointError for a ledger of a newer version, and sqlite3.Error when it cannot be read or
    written."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise CheckpointError(f"the ledger {path} is of version {version}, made by a newer sidecar than this one "
                              f"(version {SCHEMA_VERSION}); run that version, or move the state folder aside")
    if version == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        _create(db)
        for table, column in ADDED:
            if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        # Version 0 keyed a book by its digits: an ISBN-10 row becomes its ISBN-13 identity.
        for rowid, isbn in db.execute("SELECT rowid, isbn FROM rows WHERE length(isbn) = 10").fetchall():
            if identity(isbn) != isbn:
                db.execute("UPDATE rows SET isbn = ? WHERE rowid = ?", (identity(isbn), rowid))
        db.execute("DROP TABLE IF EXISTS configurations")  # version 0's per-imprint digest: now per row
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _create(db: sqlite3.Connection) -> None:
    """SCHEMA's statements one by one (executescript would commit the open transaction first)."""
    for statement in SCHEMA.split(";"):
        lines = [line.split("--")[0] for line in statement.splitlines()]
        if "".join(lines).strip():
            db.execute("\n".join(lines))
