"""The pipeline's whole config tree: six levels, checked values, prices, and rows written again when it changes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from helpers import cell, checkpoints, read_rows, write_book
from sidecar import cli
from sidecar.errors import ConfigError
from sidecar.rows.columns import COLUMNS, MARKETS
from sidecar.rows.configs import TreeChoice
from sidecar.rows.convert import convert_book
from sidecar.rows.profile import load_profiles

REAL_BOOK = "AI_Governance_Freedom_vs_Constraint.json"
ISBN = "9781608883936"


def real_tree(shared: Path, tmp_path: Path, books: dict[str, object] | None = None) -> Path:
    """The pipeline's real configs/ (linked, never copied), plus books/<isbn>.json files of the test's own."""
    root = tmp_path / "configs"
    root.mkdir()
    for name in ("default_lsi_config.json", "publishers", "imprints", "tranches"):
        (root / name).symlink_to(shared / "pipeline-configs" / name)
    for isbn, data in (books or {}).items():
        (root / "books").mkdir(exist_ok=True)
        (root / "books" / f"{isbn}.json").write_text(json.dumps(data))
    return root


def once(tmp_path: Path, imprint: str, *flags: str) -> tuple[int, list[list[str]]]:
    folder = tmp_path / "output" / f"{imprint}_build" / "processed_json"
    code = cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(tmp_path / "data"), *flags])
    return code, read_rows(checkpoints(tmp_path / "data")[-1])


def test_the_real_book_with_the_real_tree_and_a_book_config_is_lsi_ready_but_for_the_tranche_s_exclusion(
        shared, tmp_path, capsys):
    tree = real_tree(shared, tmp_path, {ISBN: {"us_list_price": 24.95}})
    folder = tmp_path / "output" / "xynapse_traces_build" / "processed_json"
    folder.mkdir(parents=True)
    (folder / REAL_BOOK).write_bytes((shared / "examples" / REAL_BOOK).read_bytes())
    codes = str(shared / "ACS-codes-and-descriptions.csv")
    code, [row] = once(tmp_path, "xynapse_traces", "--pipeline-configs", str(tree), "--tranche", "xynapse_tranche_1",
                       "--acs-codes", codes)
    assert code == cli.EXIT_OK
    tranche = tree / "tranches" / "xynapse_tranche_1.json"
    expected = {
        "Lightning Source Account #": "6024045",
        "Metadata Contact Dictionary": "",  # the imprint's "Xynapse Editorial Team", excluded by the tranche
        "Rendition /Booktype": "POD: 6 x 9 in or 229 x 152 mm Perfect Bound WHITE",  # tranche
        "Returnable": "Yes-Destroy",  # the tranche's "Yes - Destroy", read as LSI's spelling with a warning
        "LSI Special Category  (please consult LSI before using": "ACAD",  # imprint
        "LSI FlexField1 (please consult LSI before using)": "Academic",  # imprint
        "US Suggested List Price": "24.95",  # books/9781608883936.json
        "UK Suggested List Price": "19.71",  # 24.95 x the publisher's UK pricing_multiplier 0.79
        "EU Suggested List Price (mode 2)": "21.21",  # x 0.85
        "AU Suggested List Price (mode 2)": "33.68",  # x 1.35
        "CA Suggested List Price (mode 2)": "31.19",  # x 1.25
        "GC Suggested List Price (mode 2)": "24.95",
        "US-Ingram-Only* Suggested List Price (mode 2)": "",  # the tranche's blank_fields
    }
    assert {c: cell(row, c) for c in expected} == expected
    assert all(cell(row, p) and cell(row, d) for m, p, d, *_ in MARKETS if m not in ("US-Ingram-Only",))
    out, err = capsys.readouterr()
    assert (f"INFO    configuration for xynapse_traces: default {tree / 'default_lsi_config.json'}; publisher "
            f"{tree / 'publishers' / 'nimble_books.json'}; imprint {tree / 'imprints' / 'xynapse_traces.json'}; "
            f"tranche {tranche}; 1 in books/\n") in err
    assert f"WARNING config: 'returnability' in {tranche}: 'Yes - Destroy' for Returnable is read as 'Yes-Destroy' " \
           "(LSI's spelling)" in err
    checkpoint = checkpoints(tmp_path / "data")[0]
    assert cli.main(["verify", "--acs-codes", codes, "--state-dir", str(tmp_path / "data" / "state"),
                     str(checkpoint)]) == cli.EXIT_REJECTED
    report = capsys.readouterr().out.splitlines()
    start = report.index("LSI checks  2 error(s), 4 warning(s); LSI-ready 0 of 1 rows")
    assert report[start + 1:] == [  # only what the tranche forces is an error
        f"  line 2 ({ISBN}) error: Metadata Contact Dictionary: blank because 'field_exclusions' in {tranche} "
        "excludes it, and LSI rejects the whole file when it is blank [excluded]",
        f"  line 2 ({ISBN}) warning: Returnable: 'returnability' in {tranche} gives 'Yes - Destroy': read as "
        "'Yes-Destroy', LSI's spelling [spelling]",
        f"  line 2 ({ISBN}) error: Metadata Contact Dictionary: blank, and LSI rejects the whole file when it is "
        "[required]",
        f"  line 2 ({ISBN}) warning: LSI Special Category  (please consult LSI before using: set to 'ACAD': used only "
        "by prior arrangement with LSI [by-arrangement]",
        f"  line 2 ({ISBN}) warning: LSI FlexField1 (please consult LSI before using): set to 'Academic': used only "
        "by prior arrangement with LSI [by-arrangement]",
        f"  line 2 ({ISBN}) warning: Short Description: 964 bytes, LSI publishes no limit; the pipeline's is 350 "
        "[length]",
        "NOT CLEAN"]


def test_a_flat_tranche_s_default_price_gives_every_market_a_price(shared, tmp_path):
    tree = real_tree(shared, tmp_path)
    book = {"title": "Codebreakers", "isbn13": "9781608880010", "author": "A. Writer", "page_count": 300,
            "imprint": "The Nimble Ultra"}
    folder = tmp_path / "output" / "nimble_ultra_build" / "processed_json"
    write_book(folder, "codebreakers.json", book)
    code, [row] = once(tmp_path, "nimble_ultra", "--pipeline-configs", str(tree), "--tranche", "nimble_ultra_tranche_1")
    assert code == cli.EXIT_OK
    assert cell(row, "US Suggested List Price") == "29.99"  # the tranche's "default_price": "29.99"
    assert cell(row, "UK Suggested List Price") == "23.69"  # 29.99 x 0.79
    assert cell(row, "AU Suggested List Price (mode 2)") == "40.49"  # 29.99 x 1.35
    assert all(cell(row, p) for m, p, *_ in MARKETS if m not in ("US-Ingram-Only", "US-Ingram-GAP", "SIBI-EDUC-US"))
    assert cell(row, "Carton Pack Quantity") == "16"
    assert cell(row, "Returnable") == ""  # the tranche's bare "Yes" may be either Yes option: never the level below's


def synthetic_tree(tmp_path: Path, **levels: dict) -> Path:
    """A configs/ folder with one file per level given: default, publisher, imprint, tranche, book."""
    root = tmp_path / "configs"
    files = {"default": "default_lsi_config.json", "publisher": "publishers/acme.json",
             "imprint": "imprints/harbor_light.json", "tranche": "tranches/spring.json",
             "book": f"books/{ISBN}.json"}
    for level, data in levels.items():
        path = root / files[level]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    return root


def profile_of(root: Path, lsi: dict | None = None, tranche: str | None = "spring", codes: Path | None = None):
    return load_profiles(TreeChoice(root=root, publisher="acme", tranche=tranche), codes, lsi or {}, "test",
                         ["harbor_light"])["harbor_light"]


def row_of(book: dict, profile) -> dict[str, str]:
    return dict(zip(COLUMNS, convert_book(book, profile).row))


BOOK = {"title": "A Book", "isbn13": ISBN, "author": "Ann Author", "page_count": 222}


@pytest.mark.parametrize("top", ["default", "publisher", "imprint", "tranche", "book"])
def test_each_level_beats_the_ones_below_it(tmp_path, top):
    shapes = {  # where each level's file keeps an edition description
        "default": lambda v: {"defaults": {"edition_description": v}},
        "publisher": lambda v: {"default_settings": {"edition_description": v}},
        "imprint": lambda v: {"default_book_settings": {"edition_description": v}},
        "tranche": lambda v: {"edition_description": v},
        "book": lambda v: {"edition_description": v},
    }
    order = list(shapes)
    given = {level: shapes[level](f"from the {level}") for level in order[: order.index(top) + 1]}
    root = synthetic_tree(tmp_path, **given)
    assert row_of(BOOK, profile_of(root, tranche="spring" if "tranche" in given else None))[
        "Edition Description"] == f"from the {top}"
    assert row_of({**BOOK, "edition_description": "the book's own"}, profile_of(
        root, tranche="spring" if "tranche" in given else None))["Edition Description"] == "the book's own"


def test_a_config_value_lsi_would_refuse_blanks_the_cell_with_an_error_naming_file_and_key(tmp_path):
    root = synthetic_tree(
        tmp_path, publisher={"lightning_source_account": "6024045", "distribution_settings": {
            "cover_submission_method": "FTP"}},
        imprint={"distribution_settings": {"lightning_source_account": "ACME-01", "cover_submission_method": "Pigeon"}},
        tranche={"returnability": "Yes - Destroy", "carton_pack_quantity": "a dozen"})
    profile = profile_of(root)
    conversion = convert_book(BOOK, profile)
    row = dict(zip(COLUMNS, conversion.row))
    assert row["Lightning Source Account #"] == ""  # never the publisher's 6024045 in its place
    assert row["Cover/Jacket Submission Method"] == ""
    assert row["Returnable"] == "Yes-Destroy" and row["Carton Pack Quantity"] == ""
    imprint, tranche = root / "imprints" / "harbor_light.json", root / "tranches" / "spring.json"
    assert list(profile.config_problems) == [
        f"'distribution_settings.lightning_source_account' in {imprint}: 'ACME-01' for Lightning Source Account #: "
        "not a Lightning Source account number (digits only); the cell is left blank",
        f"'distribution_settings.cover_submission_method' in {imprint}: 'Pigeon' for Cover/Jacket Submission Method: "
        "not a submission method LSI knows (FTP or Email); the cell is left blank",
        f"'returnability' in {tranche}: 'Yes - Destroy' for Returnable is read as 'Yes-Destroy' (LSI's spelling)",
        f"'carton_pack_quantity' in {tranche}: 'a dozen' for Carton Pack Quantity: not a whole number; "
        "the cell is left blank",
    ]
    never = "(a lower level's value is not used in its place)"
    assert [(p.rule, p.column, p.message) for p in conversion.problems] == [
        ("unusable", "Lightning Source Account #", f"'distribution_settings.lightning_source_account' in {imprint} "
         f"gives 'ACME-01': not a Lightning Source account number (digits only); the cell is left blank {never}"),
        ("unusable", "Cover/Jacket Submission Method", f"'distribution_settings.cover_submission_method' in "
         f"{imprint} gives 'Pigeon': not a submission method LSI knows (FTP or Email); the cell is left blank {never}"),
        ("spelling", "Returnable", f"'returnability' in {tranche} gives 'Yes - Destroy': read as 'Yes-Destroy', "
         "LSI's spelling"),
        ("unusable", "Carton Pack Quantity", f"'carton_pack_quantity' in {tranche} gives 'a dozen': not a whole "
         f"number; the cell is left blank {never}"),
    ]
    fixed = row_of(BOOK, profile_of(synthetic_tree(
        tmp_path, imprint={"distribution_settings": {"lightning_source_account": "7654321"}})))
    assert fixed["Lightning Source Account #"] == "7654321"


def test_a_book_type_lsi_does_not_have_is_blank_with_the_code_tables_never_the_level_below_s(shared, tmp_path):
    root = synthetic_tree(tmp_path, publisher={"distribution_settings": {
        "rendition_booktype": "POD: 6 x 9 in or 229 x 152 mm Perfect Bound WHITE"}},
        imprint={"distribution_settings": {"rendition_booktype": "POD: Standard B&W 7 x 10 in"}})
    profile = profile_of(root, tranche=None, codes=shared / "ACS-codes-and-descriptions.csv")
    assert row_of(BOOK, profile)["Rendition /Booktype"] == ""
    assert "'POD: Standard B&W 7 x 10 in' for Rendition /Booktype: not one of LSI's book types" in \
        profile.config_problems[0]


def test_preferences_never_fill_a_row(tmp_path):
    root = synthetic_tree(tmp_path, imprint={
        "metadata_defaults": {"bisac_category_preferences": ["COM000000"], "thema_subject_preferences": ["UB"]},
        "wizard_configuration": {"price_point": 39.99, "page_count": 350},
        "pricing_defaults": {"price_point": 22.99}})
    row = row_of({k: v for k, v in BOOK.items() if k != "page_count"}, profile_of(root, tranche=None))
    assert (row["US Suggested List Price"], row["Pages"], row["BISAC Category"], row["Thema Subject 1"]) == \
        ("", "", "", "")


@pytest.mark.parametrize(("lsi", "uk", "eu"), [
    ({}, "19.71", "21.21"),  # pricing_multiplier: 24.95 x 0.79, x 0.85
    ({"price_ending": ".99"}, "19.99", "21.99"),  # the next price ending in .99
    ({"market_price": "rate"}, "19.46", "22.70"),  # exchange_rate: x 0.78, x 0.91
    ({"market_price": "rate_x_multiplier", "price_ending": 0.95}, "15.95", "19.95"),  # x 0.6162 = 15.37...
    ({"exchange_rates": {"UK": 0.8}}, "19.96", "21.21"),  # config.yaml's rate wins over the tree
])
def test_market_prices_follow_the_publisher_s_territorial_configs(tmp_path, lsi, uk, eu):
    territories = {"UK": {"exchange_rate": 0.78, "pricing_multiplier": 0.79, "currency": "GBP"},
                   "EU": {"exchange_rate": 0.91, "pricing_multiplier": 0.85, "currency": "EUR"},
                   "GC": {"pricing_multiplier": 1.0, "currency": "USD"}}
    root = synthetic_tree(tmp_path, publisher={"territorial_configs": territories}, tranche={"default_price": "24.95"})
    row = row_of(BOOK, profile_of(root, lsi))
    assert (row["US Suggested List Price"], row["UK Suggested List Price"], row["EU Suggested List Price (mode 2)"],
            row["GC Suggested List Price (mode 2)"]) == ("24.95", uk, eu, "24.95")


def test_page_count_bands_price_a_book_unless_it_or_its_book_config_has_a_price(tmp_path):
    bands = [{"pages": 150, "price": 14.99}, {"pages": 300, "price": 19.99}, {"price": 24.99}]
    root = synthetic_tree(tmp_path, tranche={"default_price": "9.99"})
    profile = profile_of(root, {"price_by_pages": {"harbor_light": bands}})
    us = "US Suggested List Price"
    assert [row_of({**BOOK, "page_count": n}, profile)[us] for n in (100, 150, 222, 301)] == \
        ["14.99", "14.99", "19.99", "24.99"]
    assert row_of({**BOOK, "list_price_usd": 12}, profile)[us] == "12.00"
    assert row_of(BOOK, profile_of(root, {"price_by_pages": {"other_imprint": bands}}))[us] == "9.99"
    root = synthetic_tree(tmp_path, tranche={"default_price": "9.99"}, book={"us_list_price": 31})
    assert row_of(BOOK, profile_of(root, {"price_by_pages": bands}))[us] == "31.00"


@pytest.mark.parametrize(("lsi", "message"), [
    ({"price_ending": "99"}, "lsi.price_ending in test: '99' is not cents such as .99 or .95"),
    ({"price_by_pages": [{"pages": 300, "price": 19.99}, {"pages": 150, "price": 14.99}]},
     "lsi.price_by_pages[1] in test: bands go from the fewest pages up; only the last omits pages"),
    ({"price_by_pages": [{"pages": 100, "price": "free"}]}, "lsi.price_by_pages[0] in test: not a price"),
    ({"price_by_pages": [{"up_to": 100, "price": 9}]}, "lsi.price_by_pages[0] in test: {'up_to': 100, 'price': 9} "
                                                       "is not {pages: N, price: P}"),
    ({"annotation_tags": ["p", "script"]}, "lsi.annotation_tags in test: ['p', 'script'] is not a list of formatting "
                                           "tags (p, br, b, strong, i, em, u, sub, sup, ul, ol, li, cite, dl, dt, dd)"),
])
def test_a_bad_pricing_or_tag_setting_is_an_error_naming_the_key(tmp_path, lsi, message):
    with pytest.raises(ConfigError) as raised:
        profile_of(synthetic_tree(tmp_path, tranche={}), lsi)
    assert str(raised.value) == message


def test_a_tranche_name_needs_the_tree_and_the_tree_must_be_a_folder(tmp_path, capsys):
    args = ["--once", "--watch", str(tmp_path / "in"), "--checkpoint-dir", str(tmp_path / "data")]
    assert cli.main([*args, "--tranche", "spring"]) == cli.EXIT_USAGE
    assert "tranche 'spring' is a name: set pipeline_configs to find it in tranches/" in capsys.readouterr().err
    assert cli.main([*args, "--pipeline-configs", str(tmp_path / "nowhere")]) == cli.EXIT_USAGE
    assert f"pipeline_configs {tmp_path / 'nowhere'} is not a folder" in capsys.readouterr().err


def test_a_changed_configuration_writes_the_current_checkpoint_s_rows_again(tmp_path, capsys):
    root = synthetic_tree(tmp_path, tranche={"edition_description": "First Edition"})
    folder = tmp_path / "output" / "harbor_light_build" / "processed_json"
    write_book(folder, "a.json", BOOK)
    write_book(folder, "b.json", {**BOOK, "isbn13": "9781608880010", "title": "B"})
    flags = ("--pipeline-configs", str(root), "--tranche", "spring")
    assert once(tmp_path, "harbor_light", *flags)[0] == cli.EXIT_OK
    assert once(tmp_path, "harbor_light", *flags)[0] == cli.EXIT_OK
    capsys.readouterr()
    (root / "tranches" / "spring.json").write_text(json.dumps({"edition_description": "Second Edition"}))
    code, rows = once(tmp_path, "harbor_light", *flags)
    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK and out.startswith("sidecar: 0 appended, 2 replaced, 0 unchanged, 0 rejected")
    assert "the configuration for harbor_light changed: its books are converted again" in err
    assert [cell(r, "Edition Description") for r in rows] == ["Second Edition", "Second Edition"]
    assert once(tmp_path, "harbor_light", *flags)[0] == cli.EXIT_OK
    assert capsys.readouterr()[0].startswith("sidecar: 0 appended, 0 replaced, 2 unchanged")


def test_factors_are_decimal_and_exact(tmp_path):
    root = synthetic_tree(tmp_path, publisher={"territorial_configs": {"CA": {"pricing_multiplier": "1.25"}}})
    assert profile_of(root, tranche=None).exchange_rates["CA"] == Decimal("1.25")


def test_a_list_setting_that_is_not_a_list_is_reported_and_not_applied(tmp_path):
    root = synthetic_tree(tmp_path, tranche={"field_exclusions": "Parent ISBN", "blank_fields": ["Parent ISBN"]})
    profile = profile_of(root)
    assert profile.config_problems == (
        f"'field_exclusions' in {root / 'tranches' / 'spring.json'}: not a list of column names; not applied",)
    assert list(profile.blank) == ["Parent ISBN"]


def test_another_imprint_s_broken_file_does_not_stop_the_search_by_name(tmp_path):
    root = synthetic_tree(tmp_path, tranche={"default_price": "9.99"})
    (root / "publishers").mkdir()
    (root / "publishers" / "aaa_broken.json").write_text("{not json")
    (root / "publishers" / "zz_acme_books.json").write_text(json.dumps({"publisher": "Acme Books",
                                                                       "lightning_source_account": "1234567"}))
    profile = load_profiles(TreeChoice(root=root, publisher="Acme Books", tranche="spring"), None, {}, "test",
                            ["harbor_light"])["harbor_light"]
    assert profile.defaults["Lightning Source Account #"] == "1234567"
    assert profile.levels[0] == f"publisher {root / 'publishers' / 'zz_acme_books.json'}"
