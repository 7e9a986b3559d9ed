"""A column's name is written once, in sidecar/rows/columns.py: code names it by its constant.

A string literal anywhere else in the package that equals a column name (ignoring case and spacing), or comes
within two edits of one of ten characters or more, is a name written twice, or a typo such as
cells.get("Series name") that returns None and keeps a rule from ever firing. There is no allow-list.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sidecar.rows.columns import COLUMNS

PACKAGE = Path(__file__).resolve().parents[1] / "sidecar"
TABLE = PACKAGE / "rows" / "columns.py"
NEAR = 10  # names this long or longer are also matched within two edits
EDITS = 2


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, stopping early once it is over limit (then limit + 1)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


_EXACT = {_plain(name): name for name in COLUMNS}
_LONG = [(_plain(name), name) for name in COLUMNS if len(name) >= NEAR]


def column_named_by(text: str) -> str | None:
    """The column a string literal spells (or nearly spells), or None."""
    plain = _plain(text)
    if plain in _EXACT:
        return _EXACT[plain]
    return next((name for key, name in _LONG if _distance(plain, key, EDITS) <= EDITS), None)


def literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal; an f-string with placeholders counts as one literal, which is
    never a column's name, so its constant parts are not literals of their own."""
    tree = ast.parse(source)
    parts = {id(value) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
             if any(isinstance(v, ast.FormattedValue) for v in node.values) for value in node.values}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts]


def column_literals(source: str) -> list[str]:
    return [f"line {line}: {text!r} is {column!r}" for line, text in sorted(literals(source))
            if (column := column_named_by(text)) is not None]


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if p != TABLE),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_but_the_column_table_spells_a_column_name(path):
    found = column_literals(path.read_text())
    assert not found, f"{path.relative_to(PACKAGE)}: use the constant from rows/columns.py:\n" + "\n".join(found)


@pytest.mark.parametrize(("source", "column"), [
    ('cells.get("Series name")', "Series Name"),  # case
    ('cells["ISBN  or SKU"]', "ISBN or SKU"),  # spacing
    ('row.get("Annotation/Summary")', "Annotation / Summary"),
    ('row.get("Rendition / Booktype")', "Rendition /Booktype"),
    ('book.get("series_name")', "Series Name"),  # one edit
    ('c.pick("Contributer One Rolle", key)', "Contributor One Role"),  # two edits
    ('x = "title"', "Title"),
    ('f"{x}" if y else "Pub  date"', "Pub Date"),
])
def test_the_scan_catches_a_column_name_misspelt_or_written_out(source, column):
    found = column_literals(source)
    assert len(found) == 1 and found[0].endswith(f"is {column!r}")


@pytest.mark.parametrize("source", [
    'x = "Titles of the books"',  # not a column, more than two edits from one
    'y = "Pagesss"',  # a short name is matched exactly only
    'z = f"{n} pages"',  # part of an f-string
    'w = "contributor_one_bio_text"',  # more than two edits
])
def test_the_scan_leaves_other_text_alone(source):
    assert column_literals(source) == []


def test_the_scan_finds_a_typo_planted_in_a_module_of_the_package():
    source = (PACKAGE / "rows" / "validate.py").read_text()
    assert column_literals(source) == []
    planted = source + '\n\ndef _series(cells):\n    return cells.get("Series name")\n'
    line = planted.splitlines().index('    return cells.get("Series name")') + 1
    assert column_literals(planted) == [f"line {line}: 'Series name' is 'Series Name'"]
