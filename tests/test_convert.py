import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from sidecar.rows.codes import load_acs_codes
from sidecar.rows.columns import COLUMNS
from sidecar.rows.configs import level_of
from sidecar.rows.profile import BUILTIN_DEFAULTS, build_profile
from sidecar.rows import lsi_rules as R
from sidecar.rows.columns import Severity
from sidecar.rows.convert import convert_book
from sidecar.rows.validate import RuleContext, validate_row
from sidecar.rows.profile import Profile
from sidecar.errors import BookError

BASE = {"title": "A Book", "isbn13": "9781608883936", "author": "Ann Author", "page_count": 200}
PROFILE = Profile(defaults=dict(BUILTIN_DEFAULTS), exchange_rates={"UK": Decimal("0.78")})


def problems(book, profile=PROFILE):
    """What --once reports for a book: the conversion's source problems, then the cell rules'."""
    conversion = convert_book(book, profile)
    return [*conversion.problems, *validate_row(conversion.row, profile.context)]


def cells(book, profile=PROFILE):
    conversion = convert_book(book, profile)
    assert len(conversion.row) == len(COLUMNS)
    return dict(zip(COLUMNS, conversion.row))


@pytest.mark.parametrize(("fields", "column", "expected"), [
    # ISBN: digits only, from any of the pipeline's three keys
    ({"isbn13": "978-1-60888-393-6"}, "ISBN or SKU", "9781608883936"),
    ({"isbn13": "", "isbn_13": "978 1 60888 393 6"}, "ISBN or SKU", "9781608883936"),
    ({"isbn13": None, "isbn": "978-1-60888-393-6"}, "ISBN or SKU", "9781608883936"),
    ({"isbn13": 9781608883936}, "ISBN or SKU", "9781608883936"),
    # prices: 2 decimals, no currency sign; US price carried to the USD markets, converted for others
    ({"list_price_usd": "$24.99"}, "US Suggested List Price", "24.99"),
    ({"list_price_usd": 24.5}, "US Suggested List Price", "24.50"),
    ({"list_price_usd": "USD 19.99"}, "US Suggested List Price", "19.99"),
    ({"list_price_usd": "USD 19.999"}, "US Suggested List Price", ""),  # not a price LSI shows: never rounded
    ({"list_price_usd": None}, "US Suggested List Price", ""),
    ({"list_price_usd": "free"}, "US Suggested List Price", ""),
    ({"list_price_usd": 0}, "US Suggested List Price", ""),
    ({"list_price_usd": 20}, "GC Suggested List Price (mode 2)", "20.00"),
    ({"list_price_usd": 20}, "USJP2 Suggested List Price(mode 2)", "20.00"),
    ({"list_price_usd": 20}, "UK Suggested List Price", "15.60"),
    ({"list_price_usd": 20, "uk_suggested_list_price": "£14.99"}, "UK Suggested List Price", "14.99"),
    ({"list_price_usd": 20}, "EU Suggested List Price (mode 2)", ""),  # no EU rate in this profile
    ({"list_price_usd": 20}, "US-Ingram-Only* Suggested List Price (mode 2)", ""),
    # discounts: plain numbers
    ({"us_wholesale_discount": "40%"}, "US Wholesale Discount", "40"),
    ({"us_wholesale_discount": "55.5 %"}, "US Wholesale Discount", "55.5"),
    ({"us_wholesale_discount": "140"}, "US Wholesale Discount", ""),
    # keywords: string or list, joined with "; ", duplicates dropped
    ({"keywords": ["AI", "Ethics", "ai", " Policy "]}, "Keywords", "AI; Ethics; Policy"),
    ({"keywords": "AI, Ethics;Policy | Law"}, "Keywords", "AI, Ethics; Policy | Law"),  # only ';' separates
    ({"keywords": "Smith, John; machine\nlearning;  ethics "}, "Keywords", "Smith, John; machine learning; ethics"),
    ({"keywords": ["a, b", "c\n d"]}, "Keywords", "a, b; c d"),
    ({"keywords": ""}, "Keywords", ""),
    # numbers that may arrive as int or string
    ({"series_number": 3}, "# in Series", "3"),
    ({"series_number": "3"}, "# in Series", "3"),
    ({"series_number": "3.0"}, "# in Series", "3"),
    ({"series_number": "three"}, "# in Series", ""),
    ({"series_number": True}, "# in Series", ""),
    ({"page_count": "222"}, "Pages", "222"),
    ({"page_count": 0}, "Pages", ""),
    ({"illustration_count": '```json {"illustration_count": "30"'}, "# Illustrations", ""),
    ({"illustration_count": 12}, "# Illustrations", "12"),
    # dates: ISO by default
    ({"publication_date": "2025-09-16"}, "Pub Date", "2025-09-16"),
    ({"publication_date": "9/16/2025"}, "Pub Date", "2025-09-16"),
    ({"publication_date": "2025-09-16T10:00:00"}, "Pub Date", "2025-09-16"),
    ({"publication_date": "Seo 2025"}, "Pub Date", ""),
    # contributors: role words to LSI codes; no role without a name
    ({"contributor_one_role": "Editor"}, "Contributor One Role", "E"),
    ({"contributor_one_role": "Translator"}, "Contributor One Role", "T"),
    ({"contributor_one_role": "JA"}, "Contributor One Role", "JA"),
    ({}, "Contributor One Role", "A"),
    ({"contributor_one": "Zed Writer"}, "Contributor One", "Zed Writer"),
    ({"author": ""}, "Contributor One Role", ""),
    ({"contributor_two": "", "contributor_two_role": "Editor"}, "Contributor Two Role", ""),
    ({"contributor_two": "Bo Ed", "contributor_two_role": "editor"}, "Contributor Two Role", "E"),
    ({"contributor_two": "Bo Ed", "contributor_two_role": "Wizard"}, "Contributor Two Role", ""),
    ({"contributor_one_location_type_code": 4}, "Contributor One Location Type Code", "04"),
    # language names to ISO 639-2
    ({"language": "English"}, "Language Code", "eng"),
    ({"language": "Korean"}, "Language Code", "kor"),
    ({"language": "ko"}, "Language Code", "kor"),
    ({"audience": "General Adult"}, "Audience", "01"),
    ({"audience": "Young Adult"}, "Audience", "03"),
    # text: placeholders and formulas never reach a cell as such
    ({"contributor_one_bio": "About {title} and more"}, "Contributor One BIO", "About {title} and more"),
    # LSI receives a value as written: no spreadsheet guard inside the row (the review workbook is for people)
    ({"title": "=HYPERLINK(\"http://x\")"}, "Title", "=HYPERLINK(\"http://x\")"),
    ({"title": "@risk"}, "Title", "@risk"),
    ({"title": "-30- Series"}, "Title", "-30- Series"),
    ({"title": "+1 Strategies, Inc."}, "Title", "+1 Strategies, Inc."),
    ({"min_age": "-5"}, "Min Age", ""),
    ({"title": "Commas, \"quotes\"\nand newlines"}, "Title", "Commas, \"quotes\"\nand newlines"),
    ({"title": "Nul\x00byte"}, "Title", "Nulbyte"),
    ({"table_of_contents": "One\r\nTwo\nThree"}, "Table of Contents", "One\nTwo\nThree"),
    # ages
    ({"min_age": "18", "max_age": "Adult"}, "Max Age", ""),
    ({"min_age": "18", "max_age": "Adult"}, "Min Age", "18"),
    # BISAC names from the book; codes need the ACS tables
    ({"bisac_categories": "FICTION / Literary; NATURE / Ecology"}, "BISAC Category 2", "NATURE / Ecology"),
    ({"bisac_codes": "FIC019000"}, "BISAC Category", ""),
    ({"thema": ["fba", "RNC"]}, "Thema Subject 2", "RNC"),
    # always blank whatever the book says
    ({"reserved1": "x"}, "Reserved 1", ""),
    ({"lsi_flexfield1": "x"}, "LSI FlexField1 (please consult LSI before using)", ""),
])
def test_a_book_field_becomes_the_exact_cell(fields, column, expected):
    assert cells({**BASE, **fields})[column] == expected


def test_pub_date_in_the_publisher_s_m_d_yy_format_when_configured():
    profile = Profile(defaults=dict(BUILTIN_DEFAULTS), pub_date_format="m/d/yy")
    assert cells({**BASE, "publication_date": "2025-09-02"}, profile)["Pub Date"] == "9/2/25"


def test_a_short_description_over_the_pipeline_s_350_bytes_is_kept_whole_with_a_warning():
    sentence = "Fjord light é falls on the quiet water. "  # the é makes bytes differ from characters
    book = {**BASE, "storefront_description_en": sentence * 12}
    assert cells(book)["Short Description"] == (sentence * 12).strip()  # LSI publishes no limit: nothing is cut
    assert R.LENGTH.at("Short Description", "491 bytes, LSI publishes no limit; the pipeline's is 350",
                       Severity.WARNING) in problems(book)


def test_an_annotation_is_html_paragraphs_of_at_most_4000_characters():
    text = "\n\n".join(["Tom & Jerry <meet> again. " * 30] * 10)
    annotation = cells({**BASE, "summary_long": text})["Annotation / Summary"]
    assert annotation.startswith("<p>Tom &amp; Jerry &lt;meet&gt; again.")  # plain text, escaped
    assert len(annotation) <= 4000
    assert annotation.endswith("again.</p>")  # cut after a whole sentence
    assert annotation.count("<p>") == annotation.count("</p>")


def test_an_html_annotation_summary_is_kept_as_written():
    html = "<p><b><i>Bold.</i></b></p>\n\n<p>Second.</p>"
    assert cells({**BASE, "annotation_summary": html})["Annotation / Summary"] == html


def test_problems_say_what_was_left_out_and_why():
    found = problems({**BASE, "contributor_one_role": "Wizard", "page_count": None})
    assert R.UNUSABLE.at("Contributor One Role", "the book's 'contributor_one_role' gives 'Wizard': not a contributor "
                         "role LSI knows; the cell is left blank (no config level's value is used in its place)") in found
    assert R.PAGES.at("Pages", "no page count ('page_count' is set by the pipeline's prepress stage)") in found


def test_a_cell_a_spreadsheet_would_run_is_a_warning_and_stays_as_written():
    conversion = convert_book({**BASE, "title": "=1+1"}, PROFILE)
    assert conversion.row[COLUMNS.index("Title")] == "=1+1"
    assert R.FORMULA.at("Title", "starts with '=': a spreadsheet would run it as a formula; LSI receives it "
                                       "as written; look at rows in the review workbook (export --format xlsx), "
                                       "not in this CSV") in validate_row(conversion.row)
    assert not any(p.column == "Pages" and "formula" in p.message
                   for p in validate_row(convert_book({**BASE, "page_count": "-5"}, PROFILE).row))


@pytest.mark.parametrize(("book", "message"), [
    ({"author": "x"}, "it has neither a 'title' nor an ISBN ('isbn13', 'isbn_13' or 'isbn')"),
    ({"title": "", "isbn13": ""}, "it has neither a 'title' nor an ISBN ('isbn13', 'isbn_13' or 'isbn')"),
    ({"title": 42, "isbn13": "9781608883936"}, "'title' is a number, expected text"),
    ({"title": ["a"], "isbn13": "9781608883936"}, "'title' is a list, expected text"),
])
def test_a_book_that_cannot_be_a_row_is_refused_with_a_reason(book, message):
    with pytest.raises(BookError) as raised:
        convert_book(book, PROFILE)
    assert str(raised.value) == message


def test_an_isbn_alone_is_enough_for_a_row():
    assert cells({"isbn13": "9781608883936"})["Title"] == ""


def test_conversion_is_deterministic():
    book = {**BASE, "keywords": ["b", "a"], "list_price_usd": 12}
    assert convert_book(book, PROFILE) == convert_book(dict(book), PROFILE)


# ---------------------------------------------------------------------------- the real example


def real_profile(shared, with_codes=False):
    configs = shared / "pipeline-configs"
    levels = [level_of(name, path, json.loads(path.read_text())) for name, path in (
        ("default", configs / "default_lsi_config.json"), ("tranche", configs / "tranches" / "xynapse_tranche_1.json"))]
    codes = load_acs_codes(shared / "ACS-codes-and-descriptions.csv") if with_codes else None
    return build_profile(levels, {}, codes=codes, imprint="xynapse_traces")


def test_the_real_book_with_the_real_configs_gives_the_expected_cells(shared):
    book = json.loads((shared / "examples" / "AI_Governance_Freedom_vs_Constraint.json").read_text())
    row = cells(book, real_profile(shared, with_codes=True))
    expected = {
        "Lightning Source Account #": "6024045",
        "Metadata Contact Dictionary": "",  # the tranche excludes it
        "Parent ISBN": "",
        "ISBN or SKU": "9781608883936",
        "Rendition /Booktype": "POD: 6 x 9 in or 229 x 152 mm Perfect Bound WHITE",
        "Title": "AI Governance: Freedom vs. Constraint",
        "Publisher": "Nimble Books LLC",
        "Imprint": "xynapse traces",
        "Cover/Jacket Submission Method": "FTP",
        "Text Block SubmissionMethod": "FTP",
        "Contributor One": "AI Lab for Book-Lovers",
        "Contributor One Role": "A",
        "Pages": "222",
        "Pub Date": "2025-08-30",
        "Territorial Rights": "World",
        "Edition Number": "1",
        "Edition Description": "First Edition",
        # the names of the uploaded files, as in the publisher's real submission (not the pipeline's local paths)
        "Interior Path / Filename": "9781608883936_ai_gover_interior.pdf",
        "Cover Path / Filename": "9781608883936_ai_gover_cover.pdf",
        "Order Type Eligibility": "POD",
        "Returnable": "Yes-Destroy",
        "BISAC Category": "SELF-HELP / Journaling",
        "BISAC Category 2": "COMPUTERS / Artificial Intelligence / General",
        "BISAC Category 3": "POLITICAL SCIENCE / Public Policy / Science & Technology Policy",
        "Language Code": "eng",
        "Carton Pack Quantity": "1",
        "Contributor One BIO": "The AI Lab for Book-Lovers is the organizational author credited for works "
                               "created by humans using AI tools developed by Fred Zimmerman.",
        "Contributor One Location": "Ann Arbor, Michigan, USA",
        "Contributor One Location Type Code": "04",
        "Keywords": book["keywords"],
        "Audience": "01",
        "Table of Contents": "Publisher's Note\nForeword\nGlossary of Pilsa Terms\nQuotations for Transcription\n"
                             "Selection and Verification\nMnemonics\nBibliography",
        "# Illustrations": "0",
        "Series Name": "Transcriptive Meditation",
        "# in Series": "",
        "US Suggested List Price": "",  # nothing gives a price: blank rather than the pipeline's 19.95
        "US Wholesale Discount": "40",
        "UK Wholesale Discount (%)": "40",
        "EU Wholesale Discount % (Mode 2)": "40",  # the tranche's 40 over the config's territorial 35
        "AU Wholesale Discount % (Mode 2)": "40",
        "CA Wholesale Discount % (Mode 2)": "40",
        "GC Wholesale Discount % (Mode 2)": "40",
        "UAEUSD Wholesale Discount % (Mode 2)": "40",
        "US-Ingram-Only* Wholesale Discount % (Mode 2)": "",
        "SIBI - EDUC - US * Wholesale Discount % (Mode 2)": "",
    }
    assert {column: row[column] for column in expected} == expected
    assert row["Short Description"] == " ".join(book["storefront_description_en"].split())  # whole: no limit published
    assert row["Annotation / Summary"].startswith("<p>As artificial intelligence rapidly evolves,")
    assert row["Annotation / Summary"].endswith(
        "<p>This book is part of the Transcriptive Meditation series, exploring the intersection of technology, "
        "society, and human potential through mindful analysis and reflection.</p>")


def test_the_real_book_has_no_placeholder_canned_text_or_invalid_fallback(shared):
    book = json.loads((shared / "examples" / "AI_Governance_Freedom_vs_Constraint.json").read_text())
    row = convert_book(book, real_profile(shared)).row
    canned = ("{", "}", "Discover the fascinating", "A respected expert", "Author and Subject Matter Expert",
              "Professional association", "Published works in the field", "$", "%")
    for column, value in zip(COLUMNS, row):
        assert not any(c in value for c in canned), (column, value)
        assert value not in ("GENERAL", "Perfect Bound", "19.95"), (column, value)


def test_the_pipeline_s_invalid_perfect_bound_rendition_is_left_blank(shared):
    path = shared / "pipeline-configs" / "default_lsi_config.json"
    profile = build_profile([level_of("default", path, json.loads(path.read_text()))], {})
    conversion = convert_book(BASE, profile)
    assert dict(zip(COLUMNS, conversion.row))["Rendition /Booktype"] == ""
    assert profile.config_problems[0] == (
        f"'defaults.rendition_booktype' in {path}: 'Perfect Bound' for Rendition /Booktype: not an LSI book type "
        "(those start with 'POD: ', 'eBook: ' or 'Stock '); the cell is left blank")
    assert R.UNUSABLE.at("Rendition /Booktype", f"'defaults.rendition_booktype' in {path} gives 'Perfect Bound': not "
                         "an LSI book type (those start with 'POD: ', 'eBook: ' or 'Stock '); the cell is left blank (a "
                         "lower level's value is not used in its place)") in conversion.problems


def test_bisac_codes_are_named_from_the_acs_tables(shared):
    profile = real_profile(shared, with_codes=True)
    row = cells({**BASE, "bisac_codes": "FIC019000; XXX000000"}, profile)
    assert row["BISAC Category 2"] == "FICTION / Literary"
    assert row["BISAC Category 3"] == ""


def test_keywords_are_cut_to_whole_keywords_within_lsi_s_500_characters_naming_those_left_out():
    words = [f"keyword number {n:02}" for n in range(30)]  # 17 characters each
    conversion = convert_book({**BASE, "keywords": words}, PROFILE)
    kept = dict(zip(COLUMNS, conversion.row))["Keywords"]
    assert kept == "; ".join(words[:26]) and len(kept) == 492
    assert R.SHORTENED.at("Keywords", "over LSI's 500 characters: left out 4 keyword(s): keyword number 26; keyword "
                          "number 27; keyword number 28; keyword number 29") in conversion.problems
    assert len(cells({**BASE, "keywords": words[:15]})["Keywords"]) == 283  # over the old 255: kept whole


def test_an_annotation_too_long_to_cut_at_a_paragraph_keeps_whole_sentences_of_its_own_text():
    long_html = "<p>" + "Word word. " * 500 + "</p>"  # 5,507 characters, no </p> before the limit
    conversion = convert_book({**BASE, "annotation_summary": long_html, "summary_long": "Another text."}, PROFILE)
    annotation = dict(zip(COLUMNS, conversion.row))["Annotation / Summary"]
    assert annotation == "<p>" + " ".join(["Word word."] * 363) + "</p>"  # never the other field in its place
    assert R.SHORTENED.at("Annotation / Summary", "the book's 'annotation_summary' is over LSI's 4,000 characters: "
                          "left out 1,507 characters of text from 'Word word. Word word. Word word. ...'") \
        in conversion.problems


# ---------------------------------------------------------------------------- clean text


@pytest.mark.parametrize(("annotation", "expected", "removed"), [
    ("<p>Safe <script>alert(1)</script>text.</p>", "<p>Safe text.</p>", "script"),
    ("<div><p>In a <a href='http://x'>link</a>.</p></div>", "<p>In a link.</p>", "a, div"),
    ("<p style='color:red' onclick='x()'>Attributes <i class='c'>go</i>.</p>", "<p>Attributes <i>go</i>.</p>", ""),
    ("<p>One</p><!-- a note --><p>Two &amp; three</p>", "<p>One</p><p>Two &amp; three</p>", ""),
    ("<p>Open <b>bold", "<p>Open <b>bold</b></p>", ""),  # unclosed tags are closed
    ("<p>x</p></b></i>", "<p>x</p>", ""),  # stray closing tags dropped
    ("<h2>Praise</h2><div>Quietly brilliant.</div>", "<p>Praise</p><p>Quietly brilliant.</p>", "div, h2"),
    ("<ul><li>Tide tables</li><li>Bird counts</li></ul>", "<ul><li>Tide tables</li><li>Bird counts</li></ul>", ""),
])
def test_an_annotation_keeps_only_the_tags_ingram_lists_balanced(annotation, expected, removed):
    conversion = convert_book({**BASE, "annotation_summary": annotation}, PROFILE)
    assert dict(zip(COLUMNS, conversion.row))["Annotation / Summary"] == expected
    cleaned = [p for p in conversion.problems if p.rule == R.CLEANED.id]
    assert cleaned == ([R.CLEANED.at("Annotation / Summary", "the book's annotation had HTML that Ingram does not "
                                     f"list ({removed}): removed")] if removed else [])


@pytest.mark.parametrize(("tags", "html", "expected"), [
    (["p", "b", "i", "br"], "<ul><li>Tide tables</li><li>Bird counts</li><li>Marsh maps</li></ul>",
     "<p>Tide tables; Bird counts; Marsh maps</p>"),
    (["p"], "<p>A marsh.</p><div>Twelve months.</div><h3>Praise</h3>Text<br>more",
     "<p>A marsh.</p><p>Twelve months.</p><p>Praise</p>Text more"),
    (["b"], "<div>A marsh.</div><div>Twelve <b>months</b>.</div>", "A marsh. Twelve <b>months</b>."),
])
def test_a_removed_block_tag_leaves_a_separator_so_no_words_run_together(tags, html, expected):
    profile = build_profile([], {"annotation_tags": tags})
    assert cells({**BASE, "annotation_summary": html}, profile)["Annotation / Summary"] == expected


@pytest.mark.parametrize(("html", "expected"), [
    ("<p>A year on the marsh.</p><p>Twelve months of notes.</p>Tides<br>Birds",
     "A year on the marsh. Twelve months of notes. Tides Birds"),
    ("Find:<ul><li>Tide tables</li><li>Bird counts</li></ul><h3>Praise</h3>", "Find: Tide tables; Bird counts Praise"),
])
def test_plain_text_columns_turn_block_ends_into_spaces_or_semicolons(html, expected):
    assert cells({**BASE, "summary_short": html})["Short Description"] == expected


def test_an_html_annotation_over_4000_characters_is_cut_at_a_paragraph_and_stays_balanced():
    para = "<p><b>" + "word " * 150 + "</b></p>"  # 762 characters
    annotation = cells({**BASE, "annotation_summary": para * 8})["Annotation / Summary"]
    assert annotation == para * 5
    assert len(annotation) <= 4000 and annotation.endswith("</b></p>")


def test_an_html_annotation_without_a_paragraph_end_falls_back_to_its_own_text_cut_at_a_sentence():
    text = "<b>" + "A sentence here. " * 300 + "</b>"
    annotation = cells({**BASE, "annotation_summary": text})["Annotation / Summary"]
    assert annotation.startswith("<p>A sentence here. A sentence here.") and annotation.endswith("here.</p>")
    assert len(annotation) <= 4000 and "<b>" not in annotation


def test_a_short_description_is_plain_text():
    row = cells({**BASE, "summary_short": "<b>Bold</b> claims &amp; <a href='x'>a link</a><script>x()</script>."})
    assert row["Short Description"] == "Bold claims & a link."


def test_keywords_hold_no_markup():
    assert cells({**BASE, "keywords": "<b>AI</b>; ethics"})["Keywords"] == "AI; ethics"


def test_the_same_book_gives_the_same_bytes_in_every_process(shared, tmp_path):
    """Set and dict order differ between processes with PYTHONHASHSEED; the row must not."""
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from sidecar.rows.book import book_to_row\n"
        "from sidecar.rows.columns import Dialect\n"
        "from sidecar.rows.configs import TreeChoice\n"
        "from sidecar.rows.profile import load_profiles\n"
        "shared = Path(sys.argv[1])\n"
        "configs = shared / 'pipeline-configs'\n"
        "profile = load_profiles(TreeChoice(root=configs, tranche=configs / 'tranches' / 'xynapse_tranche_1.json'),\n"
        "                        shared / 'ACS-codes-and-descriptions.csv', {}, 'test', ['xynapse_traces'])\n"
        "profile = profile['xynapse_traces']\n"
        "book = json.loads((shared / 'examples' / 'AI_Governance_Freedom_vs_Constraint.json').read_text())\n"
        "book['bisac_codes'] = 'COM004000; POL028000; PHI005000'\n"
        "book['keywords'] = list(reversed(book['keywords'].split(';')))\n"
        "made = book_to_row(json.dumps(book).encode(), profile, False, Dialect())\n"
        "sys.stdout.buffer.write(made.record + repr(made.problems).encode())\n")
    outputs = set()
    for seed in ("0", "1", "12345", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script, str(shared)], env=env, capture_output=True, check=True,
                              timeout=60)
        outputs.add(done.stdout)
    assert len(outputs) == 1 and len(next(iter(outputs))) > 2000


# ---------------------------------------------------------------------------- checks that need the config


def test_a_rendition_of_another_size_than_the_trim_is_an_error_naming_the_file(tmp_path):
    tranche = tmp_path / "t.json"
    level = level_of("tranche", tranche, {"trim_size": "7x10", "rendition_booktype": "POD: 6 x 9 in or 229 x 152 mm "
                                          "Perfect Bound WHITE"})
    conversion = convert_book(BASE, build_profile([level], {}))
    assert R.TRIM.at("Rendition /Booktype", "'POD: 6 x 9 in or 229 x 152 mm Perfect Bound WHITE' is 6 x 9 in, "
                     f"but the trim size is 7x10 ('trim_size' in {tranche})") in conversion.problems
    same = convert_book({**BASE, "trim_size": "9 x 6"}, build_profile([level], {}))
    assert not [p for p in same.problems if p.column == "Rendition /Booktype"]


def test_a_book_s_own_book_type_is_not_judged_by_a_lower_level_s_trim_size(tmp_path):
    level = level_of("imprint", tmp_path / "i.json", {"trim_size": "8.5x11"})
    hardcover = "POD: 6 x 9 in or 229 x 152 mm Case Laminate on White w/Gloss Lam"
    conversion = convert_book({**BASE, "rendition_booktype": hardcover}, build_profile([level], {}))
    assert not [p for p in conversion.problems if p.rule == R.TRIM.id]


def test_a_second_contributor_without_a_role_is_an_error():
    assert cells({**BASE, "contributor_two": "Bo Editor"})["Contributor Two Role"] == ""
    assert R.CONTRIBUTOR.at("Contributor Two Role", "Contributor Two 'Bo Editor' has no role, and LSI needs one for "
                            "every contributor named") in problems({**BASE, "contributor_two": "Bo Editor"})
    assert not [p for p in problems({**BASE, "contributor_two": "Bo", "contributor_two_role": "Editor"})
                if p.column == "Contributor Two Role"]


def test_an_imprint_other_than_the_imprint_config_s_is_a_warning(tmp_path):
    path = tmp_path / "imprints" / "xynapse_traces.json"
    profile = build_profile([level_of("imprint", path, {"imprint": "Xynapse Traces"})], {})
    assert R.REGISTERED.at("Imprint", f"'Nimble Books' is not the imprint config's 'Xynapse Traces' ({path}); LSI "
                           "takes only an imprint registered with the account", Severity.WARNING) in problems(
        {**BASE, "imprint": "Nimble Books"}, profile)
    assert not [p for p in problems({**BASE, "imprint": "xynapse  traces"}, profile) if p.column == "Imprint"]


def test_illustrations_must_be_a_count():
    conversion = convert_book({**BASE, "illustration_count": '{"figures": 3}'}, PROFILE)
    assert dict(zip(COLUMNS, conversion.row))["# Illustrations"] == ""  # never the built-in 0 in its place
    assert [(p.rule, p.column) for p in conversion.problems] == [("unusable", "# Illustrations")]


@pytest.mark.parametrize(("pages", "expected"), [
    (17, ["17 pages: LSI's final page count must be even (add a blank page)", "17 pages is outside 18-1200 for 'POD: 6 x 9 in or 229 x 152 mm Perfect Bound WHITE'"]),
    (18, []), (1200, []),
    (1201, ["1201 pages: LSI's final page count must be even (add a blank page)", "1201 pages is outside 18-1200 for 'POD: 6 x 9 in or 229 x 152 mm Perfect Bound WHITE'"]),
])
def test_the_page_count_must_fit_the_book_type(shared, pages, expected):
    row = convert_book({**BASE, "page_count": pages}, real_profile(shared, with_codes=True)).row
    codes = load_acs_codes(shared / "ACS-codes-and-descriptions.csv")
    assert [p.message for p in validate_row(row, RuleContext(codes)) if p.column == "Pages"] == expected


def test_a_slash_in_a_value_a_file_name_template_uses_is_written_as_a_dash_with_a_warning():
    import dataclasses

    profile = dataclasses.replace(PROFILE, file_names={"Interior Path / Filename": "interior/{title}_interior.pdf"})
    book = {**BASE, "title": "Tides/Currents: An Almanac"}
    assert cells(book, profile)["Interior Path / Filename"] == "Tides-Currents: An Almanac_interior.pdf"
    assert [(p.rule, p.severity, p.column, p.message) for p in problems(book, profile) if p.rule == "template"] == [
        ("template", Severity.WARNING, "Interior Path / Filename", "file name template '{title}_interior.pdf': the "
         "book's title has '/', which no file name holds; written as '-'")]
