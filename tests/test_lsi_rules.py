"""LSI's rules: one table, cited, the same for conversion and verify; no cell changed or substituted silently."""

from __future__ import annotations

import ast
import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from sidecar import cli
from sidecar.exits import EXIT_NOT_READY, EXIT_OK, EXIT_REJECTED
from sidecar.rows import lsi_rules as R
from sidecar.rows.columns import COLUMNS, Severity
from sidecar.rows.configs import level_of
from sidecar.rows.convert import convert_book
from sidecar.rows.profile import BUILTIN_DEFAULTS, Profile, build_profile
from sidecar.rows.validate import validate_row

from helpers import checkpoints, write_book

ROOT = Path(__file__).resolve().parents[1]
BASE = {"title": "A Book", "isbn13": "9781608883936", "author": "Ann Author", "page_count": 200}
PROFILE = Profile(defaults=dict(BUILTIN_DEFAULTS))


def made(book, profile=PROFILE):
    """(cells, problems) as --once makes them: the conversion's source problems, then the cell rules'."""
    conversion = convert_book(book, profile)
    return dict(zip(COLUMNS, conversion.row)), [*conversion.problems, *validate_row(conversion.row, profile.context)]


def found(book, rule, profile=PROFILE):
    return [(p.severity, p.column, p.message) for p in made(book, profile)[1] if p.rule == rule.id]


# ----------------------------------------------------------------------------- the table itself

def test_docs_lsi_rules_md_is_the_rule_table():
    assert (ROOT / "docs" / "lsi-rules.md").read_text() == R.markdown()


def test_every_error_rule_cites_a_published_page_but_the_sidecar_s_own():
    own = {R.UNUSABLE.id, R.EXCLUDED.id}  # the publisher's value could not be used / the tranche blanks a column
    uncited = [r.id for r in R.TABLE if r.severity == Severity.ERROR and not r.sources and r.id not in own]
    assert uncited == []
    assert all(s.url.startswith("https://") for r in R.TABLE for s in r.sources if s.url)


def test_no_problem_is_made_outside_the_rule_table():
    makers = []
    for path in (ROOT / "sidecar").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Problem":
                makers.append(path.name)
    assert set(makers) == {"lsi_rules.py"}


# ----------------------------------------------------------------------------- never a silent substitute

@pytest.mark.parametrize(("key", "value", "column", "expected"), [
    ("us_list_price", "24.95 USD", "US Suggested List Price", "24.95"),
    ("us_list_price", "$24.95", "US Suggested List Price", "24.95"),
    ("eu_list_price", "€21,95", "EU Suggested List Price (mode 2)", "21.95"),
    ("au_list_price", "A$38.95", "AU Suggested List Price (mode 2)", "38.95"),
    ("eu_list_price", "1.234,50", "EU Suggested List Price (mode 2)", "1234.50"),
    ("uk_list_price", "18,95 £", "UK Suggested List Price", "18.95"),
    ("ca_list_price", 31.5, "CA Suggested List Price (mode 2)", "31.50"),
])
def test_prices_are_read_as_publishers_write_them_under_the_config_levels_keys(key, value, column, expected):
    profile = Profile(defaults={**BUILTIN_DEFAULTS, "US Suggested List Price": "29.99"},
                      exchange_rates={m: Decimal("0.8") for m in ("UK", "EU", "AU", "CA")})
    cells, _ = made({**BASE, "us_list_price": 20, key: value}, profile)
    assert cells[column] == expected


@pytest.mark.parametrize(("value", "reason"), [
    ("£18.95", "a price in GBP, but this column is in USD; a price is never converted"),
    ("24.95 XYZ", "'XYZ' is not a currency LSI prices in"),
    ("1,234", "ambiguous: '1,234' may be a thousands grouping or a decimal point; write it as 1234.50"),
    ("about 20", "not a price"),
])
def test_a_book_price_that_cannot_be_read_is_blank_with_an_error_never_another_level_s(value, reason):
    profile = Profile(defaults={**BUILTIN_DEFAULTS, "US Suggested List Price": "29.99"},
                      exchange_rates={"UK": Decimal("0.79")})
    cells, problems = made({**BASE, "us_list_price": value}, profile)
    assert (cells["US Suggested List Price"], cells["UK Suggested List Price"]) == ("", "")  # nor a converted one
    assert R.UNUSABLE.at("US Suggested List Price", f"the book's 'us_list_price' gives '{value}': {reason}; the cell "
                         "is left blank (no config level's value is used in its place)") in problems


def test_a_market_price_a_level_gives_that_cannot_be_read_is_never_converted_from_the_us_price(tmp_path):
    tranche = level_of("tranche", tmp_path / "t.json", {"default_price": "24.95", "uk_list_price": "cheap"})
    cells, problems = made(BASE, build_profile([tranche], {}))
    assert (cells["US Suggested List Price"], cells["UK Suggested List Price"]) == ("24.95", "")
    assert [p.rule for p in problems if p.column == "UK Suggested List Price"] == ["unusable"]


def test_a_subtitle_reaches_the_title_as_lsi_shows_the_full_title_once():
    assert made({**BASE, "subtitle": "Freedom vs. Constraint"})[0]["Title"] == "A Book: Freedom vs. Constraint"
    assert made({**BASE, "title": "A Book: Freedom", "subtitle": "Freedom"})[0]["Title"] == "A Book: Freedom"
    dash = Profile(defaults=dict(BUILTIN_DEFAULTS), subtitle_separator=" - ")
    assert made({**BASE, "subtitle": "Notes"}, dash)[0]["Title"] == "A Book - Notes"


def test_a_long_title_is_never_shortened_or_blanked_and_a_cjk_title_is_judged_in_bytes():
    title = "Tide " * 57 + "End"  # 288 characters
    cells, problems = made({**BASE, "title": title})
    assert cells["Title"] == title and not [p for p in problems if p.column == "Title"]
    cjk = "바다" * 70  # 140 characters, 420 bytes
    assert made({**BASE, "title": cjk})[0]["Title"] == cjk
    assert found({**BASE, "title": cjk}, R.LENGTH) == [(Severity.ERROR, "Title", "420 bytes, LSI allows 400")]


def test_a_title_holding_braces_is_the_book_s_own_text():
    assert made({**BASE, "title": "The {Curly} Brace"})[0]["Title"] == "The {Curly} Brace"


@pytest.mark.parametrize(("given", "cell_value", "problem"), [
    ("2026-03-10", "2026-03-10", None),
    ("March 10, 2026", "2026-03-10", None),
    ("13/03/2026", "2026-03-13", None),
    ("10/03/2026", "", "ambiguous: 10/3 may be month/day or day/month; write YYYY-MM-DD, or set lsi.date_order to "
                      "mdy or dmy"),
    ("2026-02-30", "", "not a real date"),
])
def test_dates_are_read_only_when_unambiguous_and_otherwise_are_an_error(given, cell_value, problem):
    cells, problems = made({**BASE, "publication_date": given})
    assert cells["Pub Date"] == cell_value
    expected = [(Severity.ERROR, "Pub Date", f"the book's 'publication_date' gives '{given}': {problem}; the cell is "
                 "left blank (no config level's value is used in its place)")] if problem else []
    assert found({**BASE, "publication_date": given}, R.UNUSABLE) == expected


def test_the_date_order_setting_reads_day_month_dates():
    profile = Profile(defaults=dict(BUILTIN_DEFAULTS), date_order="dmy")
    assert made({**BASE, "publication_date": "10/03/2026"}, profile)[0]["Pub Date"] == "2026-03-10"


def test_lsi_spellings_are_read_as_meant_with_a_warning_naming_where():
    cells, problems = made({**BASE, "returnability": "yes - destroy"})
    assert cells["Returnable"] == "Yes-Destroy"
    assert R.SPELLING.at("Returnable", "the book's 'returnability' gives 'yes - destroy': read as 'Yes-Destroy', LSI's "
                         "spelling") in problems


# ----------------------------------------------------------------------------- refusals flagged

@pytest.mark.parametrize(("book", "rule", "expected"), [
    ({"page_count": 223}, R.PAGES, [(Severity.ERROR, "Pages", "223 pages: LSI's final page count must be even (add a "
                                     "blank page)")]),
    ({"annotation_summary": "<p>Marsh notes.</p>"}, R.DESCRIPTION,
     [(Severity.ERROR, "Annotation / Summary", "12 characters of text; LSI asks for at least 40")]),
    ({"publication_date": "2026-03-10", "street_date": "2026-04-14"}, R.ON_SALE_DATE,
     [(Severity.WARNING, "Pub Date", "Pub Date 2026-03-10 is before Street Date 2026-04-14: IngramSpark says the "
       "publication date cannot be before the on-sale date; LSI suggests the same date for both")]),
    ({"summary_long": "Visit https://example.com/book for the maps and more about the marsh."}, R.LINK,
     [(Severity.ERROR, "Annotation / Summary", "holds the web address 'https://example.com/book'; Ingram prohibits "
       "links in any field")]),
    ({"contributor_one_bio": "Ann lives by the sea; write to ann@example.org or see www.ann.example"}, R.LINK,
     [(Severity.ERROR, "Contributor One BIO", "holds the web address 'www.ann.example'; Ingram prohibits links in any "
       "field"), (Severity.WARNING, "Contributor One BIO", "holds the e-mail address 'ann@example.org'")]),
    ({"summary_long": "Built with Node.js and e.g. Python 3.11, a long enough description for LSI."}, R.LINK, []),
    ({"returnability": "Yes-Deliver", "us_list_price": 20, "us_wholesale_discount": 40, "uk_list_price": 15,
      "uk_wholesale_discount": 40}, R.RETURNS_OPTION,
     [(Severity.ERROR, "Returnable", "Yes-Deliver is offered for the US market only, and the row is priced in UK, GC, "
       "USBR1, USDE1, USRU1, USPL1, USKR1, USCN1, USIN1, USJP2, UAEUSD")]),
])
def test_refusals_lsi_publishes_are_flagged(book, rule, expected):
    assert found({**BASE, **book}, rule) == expected


def test_an_imprint_not_registered_with_lsi_is_an_error_against_the_setting():
    profile = build_profile([], {"registered_imprints": ["Harbor Light"], "registered_publishers": ["Harbor Light Press"]})
    assert found({**BASE, "imprint": "Harbour Light", "publisher": "Harbor Light Press"}, R.REGISTERED, profile) == [
        (Severity.ERROR, "Imprint", "'Harbour Light' is not one registered with LSI ('Harbor Light')")]


def test_prices_only_in_the_markets_the_publisher_has_agreements_for():
    profile = build_profile([], {"markets": ["US", "UK"]})
    cells, problems = made({**BASE, "us_list_price": 20, "au_list_price": 30}, profile)
    assert cells["GC Suggested List Price (mode 2)"] == ""  # derived prices only where there is an agreement
    assert R.MARKET.at("AU Suggested List Price (mode 2)", "a AU price, but lsi.markets does not list AU: LSI "
                       "rejects prices without the agreement") in problems


def test_a_discount_outside_the_publisher_s_range_is_a_warning():
    profile = build_profile([], {"discount_range": {"US": [30, 55]}})
    assert found({**BASE, "us_list_price": 20, "us_wholesale_discount": 25}, R.DISCOUNT_RANGE, profile) == [
        (Severity.WARNING, "US Wholesale Discount", "25% is outside lsi.discount_range 30-55")]


def test_the_metadata_contact_setting_names_the_column_and_asks_for_e_mail_and_telephone():
    profile = build_profile([], {"metadata_contact": {"name": "Editorial Desk", "email": "desk@example.org"}})
    assert made(BASE, profile)[0]["Metadata Contact Dictionary"] == "Editorial Desk"
    assert profile.config_problems == ("lsi.metadata_contact in config has no telephone; LSI's ACS sheet asks for the "
                                       "metadata contact's name, e-mail and telephone",)


# ----------------------------------------------------------------------------- no false alarms

@pytest.mark.parametrize(("column", "value"), [
    ("Keywords", "; ".join(f"keyword {n:03}" for n in range(35))),  # 453 characters: LSI takes up to 500
    ("Carton Pack Quantity", " "),  # a lone space is a blank cell (all 68 rows of the real submission)
])
def test_values_lsi_takes_are_not_flagged(column, value):
    row = ["" if c != column else value for c in COLUMNS]
    assert not [p for p in validate_row(tuple(row)) if p.column == column]


# ----------------------------------------------------------------------------- verify: the pre-upload check

@pytest.mark.parametrize(("column", "value", "message"), [
    ("ISBN or SKU", "9.78174E+12", "'9.78174E+12' is a number in scientific notation: a spreadsheet rewrote the ISBN "
                                   "and its digits are lost"),
    ("ISBN or SKU", "978160888393", "978160888393 has 12 digits; an ISBN-13 has 13"),
    ("Pub Date", "46091", "'46091' is a spreadsheet's date serial number (2026-03-10): a spreadsheet rewrote the date"),
    ("Audience", "1", "'1' is not a code from 01 to 08 (a spreadsheet dropped its leading zero)"),
])
def test_verify_finds_what_a_spreadsheet_did_to_a_file(tmp_path, capsys, column, value, message):
    data = tmp_path / "data"
    assert cli.main(["--once", "--config", str(ROOT / "config.yaml"), "--checkpoint-dir", str(data)]) == EXIT_OK
    upload = tmp_path / "upload.csv"
    assert cli.main(["export", str(checkpoints(data)[0]), "--profile", "submission", "--output", str(upload)]) == EXIT_OK
    rows = list(csv.reader(io.StringIO(upload.read_text(encoding="utf-8"), newline="")))
    rows[1][rows[0].index(column)] = value
    upload.write_text("".join(f"{line}" for line in _csv(rows)), encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["verify", str(upload)]) == EXIT_REJECTED
    assert f"error: {column}: {message}" in capsys.readouterr().out


def _csv(rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def test_verify_agrees_with_once_require_ready_on_what_is_not_ready(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    write_book(folder, "a.json", {**BASE, "contributor_two": "Bo Editor"})  # named without a role
    write_book(folder, "b.json", {**BASE, "isbn13": "9781608880010", "page_count": None})  # no page count
    args = ["--watch", str(folder), "--checkpoint-dir", str(data)]
    assert cli.main(["--once", "--require-ready", *args]) == EXIT_NOT_READY
    capsys.readouterr()
    assert cli.main(["verify", "--checkpoint-dir", str(data), str(checkpoints(data)[0])]) == EXIT_REJECTED
    out = capsys.readouterr().out
    assert "LSI-ready 0 of 2 rows" in out
    assert "error: Contributor Two Role: Contributor Two 'Bo Editor' has no role" in out
    assert "error: Pages: no page count" in out


def test_the_submission_export_says_which_values_it_leaves_out(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    tranche = tmp_path / "tranche.json"
    tranche.write_text(json.dumps({"lsi_special_category": "ACAD", "lsi_flexfield1": "Academic"}))
    write_book(folder, "a.json", BASE)
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data), "--tranche", str(tranche)]) == EXIT_OK
    capsys.readouterr()
    out_file = tmp_path / "upload.csv"
    assert cli.main(["export", str(checkpoints(data)[0]), "--profile", "submission", "--output", str(out_file)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out == f"sidecar: 1 rows (1 not LSI-ready) exported to {out_file}; 2 value(s) in 2 column(s) left out\n"
    assert f"WARNING 1 of 1 rows exported are not LSI-ready: sidecar verify {checkpoints(data)[0]} says why" in err
    assert ("export profile 'submission' leaves out 'LSI Special Category  (please consult LSI before using', which 1 "
            "row(s) set") in err


def test_the_review_workbook_gives_the_fix_the_ledger_knows_for_an_excluded_column(tmp_path, capsys):
    import openpyxl

    folder, data = tmp_path / "in", tmp_path / "data"
    tranche = tmp_path / "tranche.json"
    tranche.write_text(json.dumps({"metadata_contact_dictionary": "Desk", "field_exclusions": [
        "Metadata Contact Dictionary"]}))
    write_book(folder, "a.json", BASE)
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data), "--tranche", str(tranche)]) == EXIT_OK
    output = tmp_path / "review.xlsx"
    assert cli.main(["export", str(checkpoints(data)[0]), "--format", "xlsx", "--output", str(output),
                     "--checkpoint-dir", str(data)]) == EXIT_OK
    rows = [[c.value for c in r] for r in openpyxl.load_workbook(output)["Problems"].iter_rows()]
    excluded = [r for r in rows if r[5] == "excluded"]
    assert excluded and excluded[0][7].startswith("take 'Metadata Contact Dictionary' out of that list")


# ----------------------------------------------------------------------------- properties

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sidecar.rows.lsi_rules import Scope, decode_problems  # noqa: E402
from sidecar.store.ledger import Ledger  # noqa: E402

VALUES = {
    "subtitle": st.sampled_from(["", "A Subtitle", "Notes"]),
    "page_count": st.sampled_from([None, 200, 223, "222", "lots", 17]),
    "publication_date": st.sampled_from(["2026-03-10", "10/03/2026", "March 3, 2026", "2026-02-30"]),
    "street_date": st.sampled_from(["2026-04-14", "2026-03-10"]),
    "us_list_price": st.sampled_from([24.95, "24.95 USD", "£18.95", "19.999", "$12"]),
    "eu_list_price": st.sampled_from(["€21,95", "21.95", "1,234"]),
    "returnability": st.sampled_from(["Yes - Destroy", "Yes-Deliver", "No", "Yes"]),
    "annotation_summary": st.sampled_from(["<p>Marsh notes.</p>", "<ul><li>Tide tables</li><li>Bird counts</li></ul>"
                                           "<div>See www.example.com for the maps of the estuary.</div>"]),
    "keywords": st.sampled_from(["a; b", "; ".join(f"keyword {n:03}" for n in range(60))]),
    "contributor_two": st.sampled_from(["Bo Editor"]),
    "contributor_two_role": st.sampled_from(["Editor", "Wizard"]),
    "imprint": st.sampled_from(["xynapse traces", "Nimble Books"]),
    "title": st.sampled_from(["Tides", "바다" * 210, "The {Curly} Brace", "=1+1"]),
    "audience": st.sampled_from(["General", "1", "Young Adult"]),
}
BOOK_VARIANTS = st.fixed_dictionaries({}, optional=VALUES)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(variants=st.lists(BOOK_VARIANTS, min_size=1, max_size=3))
def test_verify_reports_every_problem_once_reported_and_the_export_the_same_cell_problems(
        shared, tmp_path_factory, capsys, variants):
    tmp = tmp_path_factory.mktemp("same")
    real = json.loads((shared / "examples" / "AI_Governance_Freedom_vs_Constraint.json").read_text())
    folder, data = tmp / "output" / "xynapse_traces_build" / "processed_json", tmp / "data"
    for n, variant in enumerate(variants):
        write_book(folder, f"b{n}.json", {**real, **variant, "isbn13": f"97816088800{n}{_check(n)}", "isbn": "",
                                          "isbn_13": ""})
    flags = ["--pipeline-configs", str(shared / "pipeline-configs"), "--tranche", "xynapse_tranche_1",
             "--acs-codes", str(shared / "ACS-codes-and-descriptions.csv"), "--checkpoint-dir", str(data)]
    assert cli.main(["--once", "--watch", str(folder), *flags]) in (EXIT_OK, EXIT_REJECTED)
    [checkpoint] = checkpoints(data)
    with Ledger.read_only(data / "state") as ledger:
        once = {row.isbn: [(p.rule, str(p.severity), p.column, p.message) for p in decode_problems(row.lsi_errors)]
                for row in ledger.rows(ledger.checkpoint_at(checkpoint).id)}
    capsys.readouterr()

    def verified(path):
        cli.main(["verify", "--json", "--watch", str(folder), *flags, str(path)])
        report = json.loads(capsys.readouterr().out)
        by_isbn: dict[str, list] = {isbn: [] for isbn in once}
        for p in report["row_problems"]:
            by_isbn[p["isbn"]].append((p["rule"], p["severity"], p["column"], p["message"]))
        return by_isbn

    assert verified(checkpoint) == once
    upload = tmp / "upload.csv"
    assert cli.main(["export", str(checkpoint), "--profile", "submission", "--output", str(upload), *flags]) == EXIT_OK
    capsys.readouterr()
    header = next(csv.reader(io.StringIO(upload.read_text(encoding="utf-8"))))
    by_isbn = {r["ISBN or SKU"]: r for r in csv.DictReader(io.StringIO(upload.read_text(encoding="utf-8")))}

    def expected(isbn, row):  # the cell rules on the columns the upload has, and the ledger's errors on blank cells
        return [p for p in row if p[2] in header and (R.RULES[p[0]].scope == Scope.CELL or
                                                      p[1] == "error" and not by_isbn[isbn][p[2]])]
    assert verified(upload) == {isbn: expected(isbn, row) for isbn, row in once.items()}


def _check(n: int) -> str:
    from sidecar.rows.validate import isbn13_check_digit
    return isbn13_check_digit(f"97816088800{n}")


LEVEL_VALUES = {  # per column: values a level may give, and what LSI's cell is for each (None: refused)
    "Lightning Source Account #": ("lightning_source_account", {"6024045": "6024045", "ACME-01": None, "": "",
                                                                "1234567": "1234567"}),
    "Returnable": ("returnability", {"Yes - Destroy": "Yes-Destroy", "Yes": None, "No": "No", None: ""}),
    "Carton Pack Quantity": ("carton_pack_quantity", {"16": "16", "a dozen": None, "": ""}),
    "US Suggested List Price": ("default_price", {"29.99": "29.99", "29,99 €": None, "$19.95": "19.95"}),
}


@settings(max_examples=60, deadline=None)
@given(column=st.sampled_from(sorted(LEVEL_VALUES)), data=st.data())
def test_no_cell_holds_a_value_from_a_level_below_the_one_that_set_the_column(tmp_path_factory, column, data):
    key, choices = LEVEL_VALUES[column]
    names = ["default", "publisher", "imprint", "tranche"]
    given_values = [data.draw(st.sampled_from(sorted(choices, key=str)), label=name) for name in names]
    tmp = tmp_path_factory.mktemp("levels")
    shape = {"default": lambda v: {"defaults": {key: v}}, "publisher": lambda v: {key: v},
             "imprint": lambda v: {"distribution_settings": {key: v}}, "tranche": lambda v: {key: v}}
    levels = [level_of(name, tmp / f"{name}.json", shape[name](value)) for name, value in zip(names, given_values)]
    cells, problems = made(BASE, build_profile(levels, {}))
    deciding = [v for v in given_values if v not in (None, "")]
    expected = choices[deciding[-1]] if deciding else ""
    assert cells[column] == (expected or "")
    if deciding and expected is None:
        assert [p.rule for p in problems if p.column == column][0] == R.UNUSABLE.id


def test_rows_made_under_other_rules_are_converted_again(monkeypatch, tmp_path):
    from sidecar.rows import digest
    from sidecar.settings import load_settings
    from sidecar.store import manifest

    settings = load_settings({"watch": [str(tmp_path / "in")], "checkpoint_dir": str(tmp_path / "data")})
    before = manifest.settings_digest(settings)
    monkeypatch.setattr(digest, "RULESET_VERSION", "another")
    assert manifest.settings_digest(settings) != before
    assert len(R.RULESET_VERSION) == 16


CASES = ROOT.parent / "shared" / "cases" / "lsi-truth"  # beside the project, as shared/lsi is


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_the_lsi_truth_cases_behave_as_their_expected_txt_says(shared, tmp_path, case):
    import os
    import subprocess
    import sys

    folder = shared.parent / "cases" / "lsi-truth" / case
    env = {**os.environ, "SIDECAR": str(Path(sys.executable).with_name("sidecar")),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "TMPDIR": str(tmp_path)}
    done = subprocess.run(["bash", str(folder / "repro.sh")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (folder / "EXPECTED.txt").read_text() + done.stdout + done.stderr


def test_an_unreadable_date_and_an_imprint_not_the_config_s_are_logged_at_warning(tmp_path, capsys):
    folder, data = tmp_path / "harbor_light_build" / "processed_json", tmp_path / "data"
    imprint = tmp_path / "configs" / "imprints" / "harbor_light.json"
    imprint.parent.mkdir(parents=True)
    imprint.write_text(json.dumps({"imprint": "Harbor Light"}))
    write_book(folder, "a.json", {**BASE, "publication_date": "10/03/2026", "imprint": "Harbour Lights"})
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data),
                     "--pipeline-configs", str(tmp_path / "configs")]) == EXIT_OK
    [line] = [x for x in capsys.readouterr().err.splitlines() if "a.json:" in x]
    assert " WARNING " in line
    assert "Pub Date: the book's 'publication_date' gives '10/03/2026': ambiguous" in line
    assert "Imprint: 'Harbour Lights' is not the imprint config's 'Harbor Light'" in line


# ----------------------------------------------------------------------------- found trying it as a publisher

def test_a_description_is_never_dropped_with_only_a_warning():
    run_on = "<p>" + "word " * 850 + "</p>"  # no sentence end: not one whole sentence fits 4,000 characters
    cells, problems = made({**BASE, "annotation_summary": run_on})
    assert cells["Annotation / Summary"] == ""
    assert [p.rule for p in problems if p.column == "Annotation / Summary"] == ["unusable", "description"]
    assert made({**BASE, "annotation_summary": "<div><script>x</script></div>", "summary_long": "The long summary "
                 "of a book about the tides."})[0]["Annotation / Summary"] == "<p>The long summary of a book about the " \
        "tides.</p>"  # markup without text is not a description given
    assert found(BASE, R.DESCRIPTION) == [(Severity.WARNING, "Annotation / Summary", "blank: LSI recommends a book "
                                           "description of at least 40 characters")]


def test_a_required_bisac_code_is_named_and_one_lsi_lacks_is_blank_with_an_error(shared, tmp_path):
    from sidecar.rows.codes import load_acs_codes
    codes = load_acs_codes(shared / "ACS-codes-and-descriptions.csv")
    path = tmp_path / "t.json"
    for given, first in (("SEL045000", "SELF-HELP / Journaling"), ("SELF-HELP / Journal", "")):
        profile = build_profile([level_of("tranche", path, {"required_bisac_subject": given})], {}, codes=codes)
        cells, problems = made({**BASE, "bisac_codes": "COM004000"}, profile)
        assert (cells["BISAC Category"], cells["BISAC Category 2"]) == (first, "COMPUTERS / Artificial Intelligence / General")
    assert R.UNUSABLE.at("BISAC Category", f"'required_bisac_subject' in {path} gives 'SELF-HELP / Journal': not a BISAC "
                         "subject in LSI's list; the cell is left blank") in problems


def test_a_price_factor_the_deciding_level_gives_that_cannot_be_used_derives_no_price(tmp_path):
    publisher = level_of("publisher", tmp_path / "p.json", {"territorial_configs": {
        "UK": {"pricing_multiplier": "abc", "exchange_rate": 0.78}}})
    cells, problems = made({**BASE, "us_list_price": 24.95}, build_profile([publisher], {}))
    assert cells["UK Suggested List Price"] == ""  # never the exchange rate's 19.46 in its place
    assert R.UNUSABLE.at("UK Suggested List Price", f"'territorial_configs.UK.pricing_multiplier' in {tmp_path / 'p.json'} "
                         "gives 'abc': not a factor above zero; no UK price is derived from the US price (a lower "
                         "level's factor is not used in its place)") in problems


def test_a_discount_alone_in_a_market_without_an_agreement_is_no_alarm():
    profile = build_profile([], {"markets": ["US"]})
    assert found({**BASE, "us_list_price": 20, "us_wholesale_discount": 40, "uk_wholesale_discount": 40},
                 R.PRICE_PAIR, profile) == []


def test_a_book_config_s_blank_fields_blank_the_book_s_cells(tmp_path):
    book_level = level_of("book", tmp_path / "books" / "9781608883936.json", {"blank_fields": ["Pub Date", "Returnable"]})
    profile = build_profile([], {}, books={"9781608883936": book_level})
    cells, problems = made({**BASE, "publication_date": "2025-08-30", "returnability": "No"}, profile)
    assert (cells["Pub Date"], cells["Returnable"]) == ("", "")
    assert R.EXCLUDED.at("Returnable", f"blank because 'blank_fields' in {tmp_path / 'books' / '9781608883936.json'} "
                         "excludes it, and LSI rejects the whole file when it is blank") in problems


def test_markup_in_a_plain_text_column_is_a_warning_and_a_title_s_own_separator_is_not_doubled():
    assert found({**BASE, "title": "<i>AI</i> Governance &amp; Freedom"}, R.MARKUP) == [
        (Severity.WARNING, "Title", "holds the markup '<i>'; LSI shows it as written")]
    assert made({**BASE, "title": "AI Governance:", "subtitle": "Freedom"})[0]["Title"] == "AI Governance: Freedom"
    assert found({**BASE, "title": "Tom & Jerry <3"}, R.MARKUP) == []


def test_without_p_among_the_tags_the_annotation_and_its_appended_text_hold_no_p(tmp_path):
    tranche = level_of("tranche", tmp_path / "t.json", {"field_overrides": {"annotation_boilerplate": "Part of a series."},
                                                         "append_fields": ["annotation_boilerplate"]})
    profile = build_profile([tranche], {"annotation_tags": []})
    assert made({**BASE, "summary_long": "A plain summary of the tides.\n\nIn two parts."}, profile)[0][
        "Annotation / Summary"] == "A plain summary of the tides. In two parts. Part of a series."


def test_verify_of_the_upload_file_knows_a_value_the_ledger_says_was_left_blank(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    write_book(folder, "a.json", {**BASE, "publication_date": "10/03/2026"})
    args = ["--watch", str(folder), "--checkpoint-dir", str(data)]
    assert cli.main(["--once", "--require-ready", *args]) == EXIT_NOT_READY
    upload = tmp_path / "upload.csv"
    assert cli.main(["export", str(checkpoints(data)[0]), "--profile", "submission", "--output", str(upload), *args]) == EXIT_OK
    capsys.readouterr()
    assert cli.main(["verify", *args, str(upload)]) == EXIT_REJECTED
    assert "error: Pub Date: the book's 'publication_date' gives '10/03/2026': ambiguous" in capsys.readouterr().out


def test_a_reader_that_closes_the_pipe_is_no_internal_error(tmp_path):
    import subprocess
    import sys
    folder = tmp_path / "in"
    for n in range(200):
        write_book(folder, f"b{n}.json", {**BASE, "isbn13": "", "title": f"Book {n}", "page_count": None})
    sidecar = str(Path(sys.executable).with_name("sidecar"))
    args = ["--watch", str(folder), "--checkpoint-dir", str(tmp_path / "data")]
    subprocess.run([sidecar, "--once", *args], capture_output=True, check=False, timeout=120)
    done = subprocess.run(f"'{sidecar}' verify {' '.join(args)} \"$(ls {tmp_path}/data/*.csv)\" | head -1",
                          shell=True, capture_output=True, text=True, timeout=120)
    assert "internal error" not in done.stderr and done.stdout.startswith("checkpoint")


def test_a_parent_isbn_keeps_what_the_book_gave_its_x_check_digit_included():
    cells, problems = made({**BASE, "parent_isbn": "0-8044-2957-X"})
    assert cells["Parent ISBN"] == "080442957X"
    assert R.ISBN.at("Parent ISBN", "080442957X is an ISBN-10; LSI takes the ISBN-13 9780804429573") in problems
