"""LSI's official ACS code tables (ACS-codes-and-descriptions.csv): seven blocks side by side."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..errors import ConfigError
from ..inputs import read_config_text


@dataclass(frozen=True)
class AcsCodes:
    book_types: dict[str, tuple[int, int]] = field(default_factory=dict)  # description -> page bounds
    roles: dict[str, str] = field(default_factory=dict)  # code -> description
    bisac: dict[str, str] = field(default_factory=dict)  # code -> name
    languages: dict[str, str] = field(default_factory=dict)  # upper-case code -> name
    thema: dict[str, str] = field(default_factory=dict)
    audiences: dict[str, str] = field(default_factory=dict)
    location_types: dict[str, str] = field(default_factory=dict)
    sha256: str = ""  # of the table's text: what the settings digest takes for its content (rows/digest.py)

    @cached_property  # looked up for every BISAC cell of every row
    def bisac_names(self) -> frozenset[str]:
        return frozenset(self.bisac.values())


# Column of each block's code in the sheet (description follows it); book types start at column 0.
_BLOCKS = {"roles": 5, "bisac": 8, "languages": 11, "thema": 14, "audiences": 17, "location_types": 20}


def parse_acs_codes(text: str) -> AcsCodes:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if len(rows) < 3 or not rows[0] or rows[0][0] != "Book Types":
        raise ConfigError("not LSI's ACS-codes-and-descriptions.csv (its first cell should be 'Book Types')")
    codes = AcsCodes(sha256=hashlib.sha256(text.encode()).hexdigest())
    body = [row + [""] * (23 - len(row)) for row in rows[2:]]
    for row in body:
        if row[0].strip():
            try:
                bounds = (int(row[2]), int(row[3]))
            except ValueError:
                bounds = (-99999, 99999)
            codes.book_types[row[0].strip()] = bounds
    # Block by block, a column pair at a time, in C loops: every process with the tables reads their 20,000 codes.
    columns = list(zip(*body))
    for name, col in _BLOCKS.items():
        keys = map(str.strip, columns[col])
        table = dict(zip(map(str.upper, keys) if name == "languages" else keys, map(str.strip, columns[col + 1])))
        table.pop("", None)  # a block's rows below its last code
        getattr(codes, name).update(table)
    return codes


def load_acs_codes(path: Path) -> AcsCodes:
    text = read_config_text(path, "the ACS code tables")
    try:
        return parse_acs_codes(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
