"""The pure parts of a row's identity and of its settings digest: rows/isbn.py and rows/digest.py."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest

from sidecar.rows import isbn
from sidecar.rows.columns import Dialect
from sidecar.rows.configs import TreeChoice
from sidecar.rows.digest import conversion_digest, plain
from sidecar.rows.profile import Profile, load_profiles

from test_config_tree import ISBN, synthetic_tree


@pytest.mark.parametrize("given, cell, key", [
    ("9780306406157", "9780306406157", "9780306406157"),
    ("978-0-306-40615-7", "9780306406157", "9780306406157"),
    ("0306406152", "0306406152", "9780306406157"),
    ("0-8044-2957-x", "080442957X", "9780804429573"),
    ("080442957X", "080442957X", "9780804429573"),
    ("0306406153", "0306406153", "0306406153"),  # a wrong check digit: no ISBN-13 to key it by
    ("ISBN 978 0 306 40615 7", "9780306406157", "9780306406157"),
    (9780306406157, "9780306406157", "9780306406157"),
    ("12345", "12345", "12345"),
])
def test_the_cell_keeps_what_the_book_gave_and_the_key_is_the_isbn_13(given, cell, key):
    assert isbn.cleaned(given) == cell
    assert isbn.identity(isbn.cleaned(given)) == key


def test_an_isbn_that_lsi_cannot_take_says_why():
    assert isbn.problem("9780306406157") is None
    assert isbn.problem("0306406152") == "is an ISBN-10; LSI takes the ISBN-13 9780306406157"
    assert isbn.problem("080442957X") == "is an ISBN-10; LSI takes the ISBN-13 9780804429573"
    assert isbn.problem("12345") == "has 5 digits, expected 13"
    assert isbn.problem("12345X") == "has 6 characters, expected 13"
    assert isbn.problem("") == "has no digits"


@pytest.mark.parametrize("value", [1.5, True, [], {}, None, "9" * 65, "９７８"])
def test_an_isbn_of_the_wrong_kind_is_refused(value):
    with pytest.raises(ValueError):
        isbn.cleaned(value)


def test_the_digest_walks_every_compared_field_of_the_profile():
    walked = plain(Profile())["Profile"]
    assert set(walked) == {f.name for f in dataclasses.fields(Profile) if f.compare}
    assert "cache" not in walked and "rules" not in walked


def test_a_setting_of_a_kind_the_walk_does_not_know_is_an_error_not_left_out():
    with pytest.raises(TypeError, match="a setting of type object has no plain form"):
        conversion_digest(dataclasses.replace(Profile(), imprint=object()), False, Dialect())  # type: ignore[arg-type]


def test_the_digest_changes_with_strict_the_dialect_and_every_value():
    base = conversion_digest(Profile(), False, Dialect())
    assert base == conversion_digest(Profile(), False, Dialect())
    others = [conversion_digest(Profile(), True, Dialect()),
              conversion_digest(Profile(), False, Dialect(bom=False)),
              conversion_digest(Profile(exchange_rates={"UK": Decimal("0.78")}), False, Dialect()),
              conversion_digest(Profile(exchange_rates={"UK": Decimal("0.780")}), False, Dialect())]
    assert len({base, *others}) == 5


@pytest.mark.parametrize("level", ["default", "publisher", "imprint", "tranche", "book"])
def test_the_digest_changes_with_the_content_of_every_config_file(tmp_path, level):
    """Conversion is a pure function of the book and the Profile, so a file's content is in the digest as
    far as it reaches the Profile: here each level is the one that gives the column."""
    shapes = {  # where each level's file keeps an edition description
        "default": lambda v: {"defaults": {"edition_description": v}},
        "publisher": lambda v: {"default_settings": {"edition_description": v}},
        "imprint": lambda v: {"default_book_settings": {"edition_description": v}},
        "tranche": lambda v: {"edition_description": v},
        "book": lambda v: {"edition_description": v},
    }
    levels: dict[str, dict] = {name: {} for name in shapes}
    levels[level] = shapes[level]("First Edition")
    root = synthetic_tree(tmp_path, **levels)

    def digest() -> str:
        profile = load_profiles(TreeChoice(root=root, publisher="acme", tranche="spring"), None, {}, "test",
                                ["harbor_light"])["harbor_light"]
        return conversion_digest(profile, False, Dialect())

    before = digest()
    path = {"default": "default_lsi_config.json", "publisher": "publishers/acme.json",
            "imprint": "imprints/harbor_light.json", "tranche": "tranches/spring.json",
            "book": f"books/{ISBN}.json"}[level]
    (root / path).write_text(json.dumps(shapes[level]("Second Edition")))
    assert digest() != before
