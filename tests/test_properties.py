"""Property-based tests: arbitrary books, file-system objects, names and settings never stop a run.

Hypothesis generates the inputs; the @example lines keep the ones that found defects (the corpus).
A deadline per example is a liveness bound (a value that stalls conversion for minutes fails it),
not a performance figure: those live in bench/.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sidecar import cli
from sidecar.errors import BookError, ConfigError
from sidecar.inputs import shown
from sidecar.rows.book import book_to_row
from sidecar.rows.columns import COLUMNS, MARKETS, Dialect
from sidecar.rows.lsi_rules import CELL_LIMIT
from sidecar.rows.configs import CONFIG_KEYS, level_of
from sidecar.rows.profile import build_profile
from sidecar.settings import load_settings
from sidecar.store.ledger import Ledger

from helpers import book, checkpoints

# Every key the converter reads.
BOOK_KEYS = [
    "title", "isbn13", "isbn_13", "isbn", "parent_isbn", "rendition_booktype", "publisher", "imprint", "author",
    *(f"contributor_{n}" for n in ("one", "two", "three")), *(f"contributor_{n}_role" for n in ("one", "two", "three")),
    "contributor_one_bio", "contributor_one_affiliations", "contributor_one_professional_position",
    "contributor_one_location", "contributor_one_location_type_code", "contributor_one_prior_work", "page_count",
    "publication_date", "street_date", "territorial_rights", "edition_number", "edition_description",
    "annotation_summary", "summary_long", "storefront_description_en", "back_cover_text", "returnability",
    "bisac_codes", "bisac_categories", "bisac_text", "responses", "language_code", "language",
    "publisher_reference_id", "keywords", "thema_subject_1", "thema_subject_2", "thema_subject_3", "thema",
    "thema_subjects", "thema_codes", "regional_subjects", "min_age", "max_age", "min_grade", "max_grade", "audience",
    "summary_short", "table_of_contents", "review_quotes", "illustration_count", "illustration_notes", "series_name",
    "series_number", "volume_number", *(k for m in MARKETS for k in m.book_keys),
    *(f"{m.code.lower()}_wholesale_discount" for m in MARKETS), "subtitle",
]
NUMBERISH = st.from_regex(r"\A[+-]?[0-9٠-٩０-９]{0,30}(\.[0-9]{0,5})?([eE][+-]?[0-9]{1,12})?%?\Z")
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)  # lone surrogates included
SCALARS = st.none() | st.booleans() | st.integers(min_value=-(10 ** 60), max_value=10 ** 60) | \
    st.floats(allow_nan=True, allow_infinity=True) | TEXT | NUMBERISH
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)
BOOKS = st.fixed_dictionaries({}, optional={key: JSON for key in BOOK_KEYS})
LIVENESS = settings(deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def real_profile(shared):
    """The configuration publishers run: the pipeline's real configs and LSI's code tables."""
    configs = shared / "pipeline-configs"
    return load_settings({"watch": ["/books/xynapse_traces_build/processed_json"], "checkpoint_dir": "/tmp/unused",
                          "lsi_config": str(configs / "default_lsi_config.json"),
                          "tranche": str(configs / "tranches" / "xynapse_tranche_1.json"),
                          "acs_codes": str(shared / "ACS-codes-and-descriptions.csv")}).profile


@LIVENESS
@given(data=BOOKS)
@example(data={"title": "x", "page_count": "1e100000000"})
@example(data={"title": "x", "page_count": float("inf"), "list_price_usd": "1e30"})
@example(data={"title": "Bad \ud800 title"})
@example(data={"title": "x", "isbn13": 9781000000026.0})
@example(data={"title": "x", "isbn13": "９７８１０００００００２６"})
@example(data={"title": "x", "table_of_contents": "y" * 200_000, "keywords": "a\x00b"})
@example(data={"title": "x", "min_age": "1e999", "max_age": -1, "edition_number": True})
def test_any_book_becomes_one_whole_row_or_one_reason(real_profile, data):
    raw = json.dumps(data, ensure_ascii=True, allow_nan=True).encode()
    try:
        made = book_to_row(raw, real_profile, strict=False, dialect=Dialect())
    except BookError as exc:
        assert str(exc)  # a reason a person can read
        return
    [cells] = list(csv.reader(io.StringIO(made.record.decode("utf-8"), newline="")))
    assert len(cells) == len(COLUMNS)
    for column, value in zip(COLUMNS, cells):
        assert len(value) <= CELL_LIMIT.size, column
        assert not any(c < " " and c not in "\t\n" for c in value), column
    assert made.conversion.isbn == "" or made.conversion.isbn.isascii() and made.conversion.isbn.isdigit()


# ----------------------------------------------------------------------------- whole runs on odd folders

NAME_BYTES = st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"/", b"_").replace(b"\0", b"_"))
CONTENT = st.one_of(
    BOOKS.map(lambda d: json.dumps(d, ensure_ascii=True, allow_nan=True).encode()),
    st.integers(1, 400).map(lambda n: json.dumps(book(n)).encode()),
    st.binary(max_size=200),
)
ENTRY = st.tuples(NAME_BYTES, st.sampled_from(["file", "file", "file", "symlink", "fifo", "folder"]), CONTENT)


@settings(max_examples=40, deadline=timedelta(seconds=30), suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(ENTRY, min_size=1, max_size=6, unique_by=lambda e: e[0]))
@example(entries=[(b"caf\xe9", "file", json.dumps(book(1)).encode()), (b"x", "fifo", b"")])
@example(entries=[(b"a", "file", json.dumps(book(1)).encode()), (b"b", "file", json.dumps(book(1)).encode())])
def test_once_on_any_folder_exits_0_or_1_and_accounts_for_every_file(entries):
    with tempfile.TemporaryDirectory() as tmp:
        folder, data = Path(tmp) / "in", Path(tmp) / "data"
        folder.mkdir()
        made = []
        for name, kind, content in entries:
            path = os.path.join(os.fsencode(folder), name + b".json")
            if kind == "file":
                with open(path, "wb") as f:
                    f.write(content)
            elif kind == "symlink":
                os.symlink(b"/etc/hostname", path)
            elif kind == "fifo":
                os.mkfifo(path)
            else:
                os.mkdir(path)
            made.append((Path(os.fsdecode(path)), kind))
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data)])
        assert code in (cli.EXIT_OK, cli.EXIT_REJECTED), err.getvalue()
        _every_file_is_one_row_or_one_rejection(made, data, err.getvalue())


def _every_file_is_one_row_or_one_rejection(made, data, log):
    if not checkpoints(data) and not (data / "state").exists():
        return
    with Ledger.read_only(data / "state") as ledger:
        rejected = {r.source for r in ledger.rejections()}
        rows = {r.source for c in ledger.checkpoints() for r in ledger.rows(c.id)}
    for path, kind in made:
        if kind == "folder" or path.name.startswith("."):
            continue  # not a book's file: never looked at
        try:
            path.name.encode()
        except UnicodeEncodeError:
            assert f"rejected {shown(path)}: its name is not valid UTF-8" in log
            continue
        assert (str(path) in rows) != (str(path) in rejected), path
    for checkpoint in checkpoints(data):
        text = checkpoint.read_bytes().decode("utf-8-sig")
        assert all(len(r) == len(COLUMNS) for r in csv.reader(io.StringIO(text, newline=""), strict=True))


# ----------------------------------------------------------------------------- settings

SETTING_KEYS = ["imprint", "poll_seconds", "rescan_seconds", "log_level", "log_format", "books", "checkpoint",
                "lsi", "batches", "exports", "metrics_file", "log_file"]
SECTIONS = {
    "books": ["ignore", "max_bytes", "strict", "on_rewrite"],
    "checkpoint": ["bom", "line_terminator", "rows_per_sync"],
    "lsi": ["pub_date_format", "language_code_case", "neutralise_formulas", "exchange_rates", "file_names",
            "market_price", "price_ending", "price_by_pages", "annotation_tags"],
    "batches": ["start_marker", "done_marker", "rotate"],
}
YAML_SCALARS = st.none() | st.booleans() | st.integers(-(10 ** 20), 10 ** 20) | \
    st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
SETTING_VALUE = st.recursive(YAML_SCALARS, lambda inner: st.lists(inner, max_size=3) |
                             st.dictionaries(st.sampled_from(["UK", "EU", "interior", "cover", "x"]), inner, max_size=3),
                             max_leaves=6)


def _section(name: str) -> st.SearchStrategy:
    if name in SECTIONS:
        return st.fixed_dictionaries({}, optional={k: SETTING_VALUE for k in SECTIONS[name]})
    return SETTING_VALUE


@LIVENESS
@given(raw=st.fixed_dictionaries({}, optional={k: _section(k) for k in SETTING_KEYS}))
@example(raw={"lsi": {"exchange_rates": {"UK": float("nan")}}})
@example(raw={"poll_seconds": float("nan")})
@example(raw={"lsi": {"price_by_pages": False, "price_ending": []}})
@example(raw={"lsi": {"file_names": {"interior": "{isbn:>999999999}"}}})
def test_any_settings_load_or_fail_with_a_configuration_error(raw):
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "c.yaml"
        config.write_text(yaml.safe_dump({**raw, "watch": [str(Path(tmp) / "in")]}, allow_unicode=True))
        try:
            loaded = load_settings({"config": str(config)}, environ={})
        except ConfigError as exc:
            assert str(exc)
            return
        assert all(rate > 0 for rate in loaded.profile.exchange_rates.values())
        assert loaded.poll_seconds is None or 0.1 <= loaded.poll_seconds <= 3600


# ----------------------------------------------------------------------------- the pipeline's config tree

LEVEL_VALUES = st.fixed_dictionaries({}, optional={key: JSON for key in [*CONFIG_KEYS, "trim_size", "series_info",
                                                                          "field_overrides", "blank_fields",
                                                                          "field_exclusions", "append_fields",
                                                                          "required_bisac_subject"]})
TERRITORY = st.fixed_dictionaries({}, optional={k: JSON for k in ("wholesale_discount_percent", "exchange_rate",
                                                                  "pricing_multiplier", "currency")})


@LIVENESS
@given(tranche=LEVEL_VALUES, book=LEVEL_VALUES,
       publisher=st.fixed_dictionaries({}, optional={"distribution_settings": LEVEL_VALUES, "territorial_configs":
                                                     st.dictionaries(st.sampled_from([m.code for m in MARKETS]),
                                                                     TERRITORY, max_size=4)}),
       imprint=st.fixed_dictionaries({}, optional={"lsi_specific_settings": LEVEL_VALUES, "imprint": JSON,
                                                   "default_book_settings": LEVEL_VALUES}))
@example(tranche={"default_price": "1e999", "trim_size": "6x9"}, book={"us_list_price": float("nan")},
         publisher={"territorial_configs": {"UK": {"pricing_multiplier": "inf"}}}, imprint={"imprint": 7})
def test_any_config_tree_gives_a_profile_whose_rows_are_whole(real_profile, tranche, book, publisher, imprint):
    """Whatever the pipeline's files hold, a value is taken or refused with its file and key; never a crash."""
    levels = [level_of(name, Path(f"/configs/{name}.json"), data)
              for name, data in (("publisher", publisher), ("imprint", imprint), ("tranche", tranche))]
    profile = build_profile(levels, {}, codes=real_profile.codes, imprint="xynapse_traces",
                            books={"9781608883936": level_of("book", Path("/configs/books/x.json"), book)})
    assert all(problem.startswith("'") and " in /configs/" in problem for problem in profile.config_problems)
    made = book_to_row(json.dumps({"title": "T", "isbn13": "9781608883936", "page_count": 100}).encode(), profile,
                       strict=False, dialect=Dialect())
    [cells] = list(csv.reader(io.StringIO(made.record.decode("utf-8"), newline="")))
    assert len(cells) == len(COLUMNS)
    assert all(len(value) <= CELL_LIMIT.size for column, value in zip(COLUMNS, cells))
