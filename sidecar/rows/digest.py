"""The digest of everything a row is made from besides the book itself. Pure.

It is taken from the values conversion receives (book_to_row's profile, strict and dialect, and
RULESET_VERSION), walked field by field, not from a list of settings kept by hand: every config level's
values, the code tables' content, the templates and rates are in it because they are in the Profile. A
value of a type the walk does not know is an error, so that a new kind of setting cannot be left out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Mapping

from .codes import AcsCodes
from .columns import Dialect
from .lsi_rules import RULESET_VERSION
from .profile import Profile


def conversion_digest(profile: Profile, strict: bool, dialect: Dialect) -> str:
    """sha256 of the rule set's version and the plain form of every input of conversion but the book.

    Raises TypeError when a setting holds a value of a kind plain() does not know."""
    canonical = {"ruleset": RULESET_VERSION, "profile": plain(profile), "strict": strict, "dialect": plain(dialect)}
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


def plain(value: Any) -> Any:
    """A JSON form of a setting: dataclasses by their compared fields (not caches or derived callables),
    mappings as ordered pairs, Decimals and paths as tagged text. Raises TypeError for anything else."""
    if isinstance(value, AcsCodes) and value.sha256:  # the tables' text stands for their 13,000 entries
        return {"AcsCodes": value.sha256}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {type(value).__name__: {f.name: plain(getattr(value, f.name))
                                       for f in dataclasses.fields(value) if f.compare}}
    if isinstance(value, Mapping):
        return [[plain(k), plain(v)] for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (frozenset, set)):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, PurePath):
        return {"path": str(value)}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"a setting of type {type(value).__name__} has no plain form for the settings digest")
