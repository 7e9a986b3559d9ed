"""LSI's published rules for an ACS row, as data: one table that conversion, `verify`, `status`, the ledger's
reasons, the review workbook and docs/lsi-rules.md all read. Pure.

Each Rule names the columns it reads, its severity, the Lightning Source or IngramSpark page it comes from
and what fixes it. The severity follows the source: a refusal LSI publishes, or a bound it states for a
field, is an error; a recommendation, a rule the sources contradict, or a limit nobody publishes is a
warning. A rule's scope says who can check it: a *cell* rule is recomputed from the row's cells by anyone
(conversion, `verify` of any ACS-shaped file, the review workbook); a *source* rule is known only while the
row is made (where a value came from, what a level refused) and reaches the tools through the ledger.
Problems are made only here, by Rule.at().
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Mapping, Sequence

from .columns import (
    ANNOTATION_SUMMARY, BISAC_CATEGORY, CONTRIBUTOR_ONE, CONTRIBUTOR_ONE_BIO, CONTRIBUTOR_ONE_ROLE,
    COVER_JACKET_SUBMISSION_METHOD, COVER_PATH_FILENAME, IMPRINT, INTERIOR_PATH_FILENAME, ISBN_OR_SKU, KEY,
    LIGHTNING_SOURCE_ACCOUNT, METADATA_CONTACT_DICTIONARY, PUBLISHER, RENDITION_BOOKTYPE,
    RETURNABLE, SERIES_NAME, SHORT_DESCRIPTION, TABLE_OF_CONTENTS, TEXT_BLOCK_SUBMISSIONMETHOD, TITLE, Problem,
    Severity,
)
from .columns import KEYWORDS as KEYWORDS_COLUMN, PAGES as PAGES_COLUMN  # names of rules and sources here
from .configs import CONFIG_KEYS
from .lsi_sources import (ACS, ACS_TEMPLATE, BASICS, COMMON_FILES, DESIGNING_FILES, DISCOVERABILITY,
                          EXCEL_LIMITS, FILE_REQUIREMENTS, FILE_TIPS, GLOSSARY, HTML_MARKUP, ISBNS, KEYWORDS, LINKS,
                          ON_SALE, PAGE_COUNT, PRE_ORDER, RETURNS, RETURNS_SPARK, SET_UP, Source)

ERROR, WARNING = Severity.ERROR, Severity.WARNING


class Scope(StrEnum):
    CELL = "cell"  # recomputed from the row's cells
    SOURCE = "source"  # known only at conversion; kept in the ledger
    FILE = "file"  # known by reading the files a row names (pre-flight); checked afresh, never stored


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    scope: Scope
    columns: str  # which columns it reads, as a person would say it
    checks: str  # what it checks, one line
    fix: str  # what to do about it ({column} and {setting} are filled in)
    sources: tuple[Source, ...] = ()

    def at(self, column: str, message: str, severity: Severity | None = None) -> Problem:
        """This rule's Problem in one column (severity: the rule's, unless the caller knows better)."""
        return Problem(self.id, severity or self.severity, column, message)


CELL, SOURCE = Scope.CELL, Scope.SOURCE
SETTING = "set {setting}"

# --------------------------------------------------------------------------------------------- cell rules
REQUIRED = Rule("required", ERROR, CELL, "the required columns (REQUIRED_COLUMNS)",
                "a column LSI requires for every title is blank",
                SETTING + ", and take it out of any blank_fields / field_exclusions list", (ACS, BASICS))
ISBN = Rule("isbn", ERROR, CELL, "ISBN or SKU, Parent ISBN",
            "a 13-digit ISBN starting 978 or 979 with its check digit (not a number a spreadsheet rewrote)",
            "give the book's ISBN-13 in 'isbn13', and keep the file away from spreadsheets (use the review "
            "workbook)", (ISBNS, ACS))
DATE = Rule("date", ERROR, CELL, "Pub Date, Street Date",
            "a date (YYYY-MM-DD, or M/D/YY in the submission shape), not a spreadsheet's serial number",
            "give the date as YYYY-MM-DD in 'publication_date' / 'street_date'", (ACS_TEMPLATE,))
NUMBER = Rule("number", ERROR, CELL, "Pages, counts, ages, prices, discounts",
              "a plain number where LSI reads a number", "write the number alone, without units or text",
              (ACS_TEMPLATE,))
CODE = Rule("code", ERROR, CELL, "book type, BISAC, Thema, language, audience, roles, location type",
            "a value of LSI's code tables, with its leading zero (with --acs-codes; audience and location type "
            "codes 01-08 always)", "use a value from LSI's code tables", (ACS_TEMPLATE,))
PAGES = Rule(KEY[PAGES_COLUMN], ERROR, CELL, "Pages, Rendition /Booktype",
             "a page count is given, is even, and lies within the book type's bounds; the interior PDF's page "
             "count is even (pre-flight)", "set 'page_count' to the interior's final, even page count; where the "
             "interior is odd, add a blank last page (LSI needs it blank for its barcode)", (PAGE_COUNT, ACS_TEMPLATE))
LENGTH = Rule("length", ERROR, CELL, "text columns (LIMITS)",
              "within the limit LSI states for the column, in characters or bytes; over a limit nobody "
              "publishes, a warning", "shorten the text in the book's JSON",
              (DISCOVERABILITY, GLOSSARY, KEYWORDS, EXCEL_LIMITS))
DESCRIPTION = Rule("description", ERROR, CELL, ANNOTATION_SUMMARY,
                   "a description of at least 40 characters of text (none at all: a warning, LSI recommends one)",
                   "write a fuller description", (GLOSSARY,))
PRICE_PAIR = Rule("price-pair", ERROR, CELL, "each market's price and discount",
                  "a market's price has its wholesale discount, and (in a market of lsi.markets) the reverse",
                  "give both, or neither, for the market", (ACS,))
MARKET = Rule("market", ERROR, CELL, "market prices",
              "prices only in the markets the publisher has agreements for (lsi.markets; without it, every "
              "priced market counts)", "remove the price, or add the market to lsi.markets", (ACS,))
DISCOUNT_RANGE = Rule("discount-range", WARNING, CELL, "wholesale discounts",
                      "within the range the publisher sets (lsi.discount_range); LSI publishes none",
                      "correct the discount, or lsi.discount_range")
RETURNS_OPTION = Rule("returns", ERROR, CELL, "Returnable, market prices",
                      "Yes-Deliver only for the markets LSI offers it in: the US (IngramSpark adds Canada: a "
                      "warning there)", "choose Yes-Destroy or No", (RETURNS, RETURNS_SPARK))
CONTRIBUTOR = Rule("contributor", ERROR, CELL, "Contributor One-Three and their roles",
                   "every contributor named has a role, and no role stands without a name",
                   "set contributor_<n>_role for every contributor named", (SET_UP, ACS))
ON_SALE_DATE = Rule("on-sale", WARNING, CELL, "Pub Date, Street Date",
                    "the publication date is not before the on-sale (street) date; the sources disagree",
                    "check both dates", (ON_SALE, PRE_ORDER))
LINK = Rule("links", ERROR, CELL, "every text column",
            "no web address (with a scheme or www.); an e-mail address is a warning (no page names them)",
            "remove the address from the text", (LINKS,))
BY_ARRANGEMENT = Rule("by-arrangement", WARNING, CELL, "LSI Special Category, LSI FlexField1-5",
                      "set only by prior arrangement with LSI", "leave it blank unless LSI asked for it",
                      (ACS, ACS_TEMPLATE))
REGISTERED = Rule("registered", ERROR, CELL, "Imprint, Publisher",
                  "the imprint and publisher registered with the LSI account (lsi.registered_imprints, "
                  "lsi.registered_publishers); without them, a warning against the imprint config's name",
                  "use the name registered with LSI, or list it in the setting", (ACS,))
AGES = Rule("ages", WARNING, CELL, "Min Age, Max Age", "Min Age is not above Max Age", "correct the ages")
MARKUP = Rule("markup", WARNING, CELL, "every column but Annotation / Summary",
              "no HTML tags or entities in a plain-text column: LSI shows them as written",
              "write the text without markup", (GLOSSARY,))
FORMULA = Rule("formula", WARNING, CELL, "every column",
               "a value a spreadsheet would run as a formula (starts with =, +, -, @ and is not a number)",
               "nothing in the checkpoint: look at rows in the review workbook (export --format xlsx)")

# ------------------------------------------------------------------------------------------- source rules
UNUSABLE = Rule("unusable", ERROR, SOURCE, "any column",
                "a value the level that wins gives cannot be used: the cell is blank, never another level's "
                "value in its place (the sidecar's own rule: the row does not say what the publisher meant)",
                "correct the value where the message says")
SPELLING = Rule("spelling", WARNING, SOURCE, "Returnable, submission methods",
                "a closed-list value written another way (case, spacing) is read as the value meant",
                "write LSI's spelling where the message says")
EXCLUDED = Rule("excluded", ERROR, SOURCE, "a required column",
                "a tranche's blank_fields / field_exclusions blanks a column LSI requires",
                "take '{column}' out of that list", (ACS,))
SHORTENED = Rule("shortened", WARNING, SOURCE, "Annotation / Summary, Keywords",
                 "over LSI's limit: whole paragraphs, sentences or keywords left out, named",
                 "shorten the text yourself", (GLOSSARY, KEYWORDS))
CLEANED = Rule("cleaned", WARNING, SOURCE, ANNOTATION_SUMMARY,
               "HTML tags Ingram does not list were removed, with a separator where a block ended",
               "use only the tags Ingram lists (lsi.annotation_tags)", (HTML_MARKUP, GLOSSARY))
LEFT_OUT = Rule("left-out", WARNING, SOURCE, "BISAC Category 1-3, Thema Subject 1-3",
                "a subject not in LSI's list is left out", "use a subject from LSI's code tables", (ACS_TEMPLATE,))
TRIM = Rule("trim", WARNING, SOURCE, RENDITION_BOOKTYPE,
            "the book type's size is the trim size the same or a lower level sets",
            "set a rendition_booktype of that size, or correct the trim size")
TEMPLATE = Rule("template", WARNING, SOURCE, "file names, config values",
                "a {placeholder} the sidecar cannot fill: the cell is left blank",
                "write the value out, or use a placeholder the template knows")

# --------------------------------------------------------------------- file rules (pre-flight, store/preflight.py)
FILE_COLUMNS = {"interior": INTERIOR_PATH_FILENAME, "cover": COVER_PATH_FILENAME}
_BOTH, _INT, _COV = "Interior / Cover Path / Filename", INTERIOR_PATH_FILENAME, COVER_PATH_FILENAME


def _file_rule(id: str, severity: Severity, checks: str, columns: str, source: Source, fix: str) -> Rule:
    return Rule(id, severity, Scope.FILE, columns, checks, fix, (source,))


FILE_RULES: tuple[Rule, ...] = (
    _file_rule("file-found", ERROR, "the interior and the cover the row names exist", _BOTH, FILE_REQUIREMENTS,
               "put the file in the files folder under the name in the row's cell, or let the pipeline write it"),
    _file_rule("file-readable", ERROR, "the file is a whole PDF that opens without a password", _BOTH, COMMON_FILES,
               "export the PDF again (PDF/X-1a:2001, no security) and let it finish writing"),
    _file_rule("file-settled", ERROR, "a file still being written is not judged (not a pass)", _BOTH, COMMON_FILES,
               "let its writer finish; the service checks it again by itself, a tool when run again"),
    _file_rule("file-limits", ERROR, "the file can be read within the time and memory limits", _BOTH, COMMON_FILES,
               "check the PDF in a preflight tool (Acrobat Preflight, PDF/X-1a profile); export it again"),
    _file_rule("page-count", ERROR, "the interior's page count equals the row's Pages", f"Pages, {_INT}", PAGE_COUNT,
               "set Pages to the interior's page count (the pipeline's page_count), or fix the interior"),
    _file_rule("interior-trim", ERROR, "every page's TrimBox (else MediaBox) is the trim of the row's book type",
               f"Rendition /Booktype, {_INT}", DESIGNING_FILES,
               "set the page size to the book type's trim, or choose the book type of the interior's size"),
    _file_rule("interior-not-checked", WARNING, "an interior whose trim cannot be worked out (a book type without "
               "a trim, a custom trim size without the row's custom trim) is reported as not checked", _INT,
               DESIGNING_FILES, "give the book type, or the custom trim width and height in inches"),
    _file_rule("interior-bleed", ERROR, "bleed (BleedBox, else MediaBox, beyond the TrimBox) is none or 1/8 in on the "
               "top, bottom and outside edges", _INT, FILE_TIPS, "export with 0.125 in bleed on three edges, or none"),
    _file_rule("interior-bind-bleed", ERROR, "no bleed on the bind side (left of odd pages, right of even pages)",
               _INT, FILE_TIPS, "export without bleed on the inside (gutter) edge"),
    _file_rule("fonts-embedded", ERROR, "every font the pages use is embedded", _BOTH, FILE_REQUIREMENTS,
               "embed all fonts when exporting (the PDF/X-1a:2001 setting does)"),
    _file_rule("pdf-x1a", WARNING, "the PDF declares PDF/X-1a (GTS_PDFXVersion)", _BOTH, FILE_TIPS,
               "export with the PDF/X-1a:2001 setting"),
    _file_rule("cover-one-page", ERROR, "the cover is one page: back, spine and front together", _COV, COMMON_FILES,
               "build the cover on LSI's cover template as one spread"),
    _file_rule("cover-size", ERROR, "perfect bound: the cover is 2 x trim width + spine + 2 x 1/8 in bleed wide and "
               "trim height + 2 x 1/8 in high (TrimBox: without the bleed)", f"Rendition /Booktype, Pages, {_COV}",
               COMMON_FILES, "build the cover on LSI's cover template for this book type and page count"),
    _file_rule("cover-not-checked", WARNING, "a cover whose size cannot be worked out is reported, never guessed",
               _COV, COMMON_FILES, "check the cover against LSI's cover template for this book type"),
)

TABLE: tuple[Rule, ...] = (
    REQUIRED, ISBN, DATE, NUMBER, CODE, PAGES, LENGTH, DESCRIPTION, PRICE_PAIR, MARKET, DISCOUNT_RANGE,
    RETURNS_OPTION, CONTRIBUTOR, ON_SALE_DATE, LINK, BY_ARRANGEMENT, REGISTERED, AGES, MARKUP, FORMULA,
    UNUSABLE, SPELLING, EXCLUDED, SHORTENED, CLEANED, LEFT_OUT, TRIM, TEMPLATE, *FILE_RULES,
)
RULES: dict[str, Rule] = {rule.id: rule for rule in TABLE}
RULESET_VERSION = hashlib.sha256(json.dumps(
    [(r.id, r.severity, r.scope, r.columns, r.checks) for r in TABLE]).encode()).hexdigest()[:16]

# LSI rejects the whole file when any of these is blank for any title (Automated Content Submissions; the
# metadata contact's e-mail and telephone are cells of the sheet's header, not columns).
REQUIRED_COLUMNS = (
    LIGHTNING_SOURCE_ACCOUNT, METADATA_CONTACT_DICTIONARY, ISBN_OR_SKU, RENDITION_BOOKTYPE,
    TITLE, PUBLISHER, IMPRINT, COVER_JACKET_SUBMISSION_METHOD, TEXT_BLOCK_SUBMISSIONMETHOD,
    CONTRIBUTOR_ONE, CONTRIBUTOR_ONE_ROLE, RETURNABLE, BISAC_CATEGORY,
)


@dataclass(frozen=True)
class Limit:
    size: int
    unit: str  # "characters" or "bytes"
    source: Source | None  # None: nobody publishes it, so going over is a warning and nothing is cut

    def measure(self, value: str) -> int:
        return len(value.encode()) if self.unit == "bytes" else len(value)


# A cell of LSI's spreadsheet template holds at most this many characters: longer values are left out.
CELL_LIMIT = Limit(32_767, "characters", EXCEL_LIMITS)
LIMITS: dict[str, Limit] = {
    TITLE: Limit(400, "bytes", DISCOVERABILITY),
    ANNOTATION_SUMMARY: Limit(4000, "characters", GLOSSARY),
    KEYWORDS_COLUMN: Limit(500, "characters", KEYWORDS),
    # The pipeline's own validator's limits; LSI publishes none for these columns.
    SHORT_DESCRIPTION: Limit(350, "bytes", None),
    TABLE_OF_CONTENTS: Limit(2000, "characters", None),
    CONTRIBUTOR_ONE_BIO: Limit(2000, "characters", None),
    SERIES_NAME: Limit(255, "characters", None),
}
DESCRIPTION_MIN_CHARS = 40  # GLOSSARY

_CONFIG_KEY: dict[str, str] = {}
for _key, _column in CONFIG_KEYS.items():
    _CONFIG_KEY.setdefault(_column, _key)  # the first name: default_price for the US price
AGAIN = "the row is written again when the book changes or the sidecar restarts or reloads"


def setting_for(column: str) -> str:
    """Where a person sets a column's value."""
    key = _CONFIG_KEY.get(column)
    where = f"'{key}' in the tranche" if key else f"'{column}' in the tranche's field_overrides"
    return f"{where} or books/<isbn>.json (or the book's JSON)"


def what_fixes(problem: Problem) -> str:
    """What a person does about a problem: its rule's fix, with the column's setting, and when it takes effect."""
    rule = RULES.get(problem.rule)
    fix = rule.fix if rule else SETTING
    return f"{fix.format(column=problem.column, setting=setting_for(problem.column))}; {AGAIN}"


def encode_problems(problems: Sequence[Problem]) -> str:
    """The ledger's form of a row's problems: a JSON list of [rule, severity, column, message]."""
    return json.dumps([[p.rule, str(p.severity), p.column, p.message] for p in problems])


def decode_problems(text: str | None) -> list[Problem]:
    """A row's problems as the ledger keeps them; rows of older ledgers kept "column: reason" error strings."""
    found = []
    for item in json.loads(text or "[]"):
        if isinstance(item, str):
            column, _, message = item.partition(": ")
            found.append(Problem("recorded", ERROR, column, message))
        else:
            found.append(Problem(item[0], Severity(item[1]), item[2], item[3]))
    return found


def decode_errors(text: str | None) -> list[Problem]:
    """Of a row's problems as the ledger keeps them, the errors (those that make it not LSI-ready); only
    they are made, since a run's summary reads every row's."""
    if text and text.startswith("[["):
        return [Problem(rule, ERROR, column, message) for rule, severity, column, message in json.loads(text)
                if severity == ERROR] if '"error"' in text else []
    return [p for p in decode_problems(text) if p.severity == ERROR]


def source_problems(recorded: str | None, cells: Mapping[str, str]) -> list[Problem]:
    """Of a row's problems as the ledger kept them, those only conversion can know (source rules). A ledger
    of an older version kept bare error strings: of those, the reason a required column is blank."""
    return [p for p in decode_problems(recorded) if p.rule in RULES and RULES[p.rule].scope == Scope.SOURCE
            or p.rule == "recorded" and p.column in REQUIRED_COLUMNS and not cells.get(p.column)]


def markdown() -> str:
    """docs/lsi-rules.md, made from the rule table (tests/test_lsi_rules.py keeps the file equal to it)."""
    lines = ["# LSI's rules, as the sidecar checks them", "",
             "Made from `sidecar/rows/lsi_rules.py` (`python -m sidecar.rows.lsi_rules > docs/lsi-rules.md`); a test",
             "keeps this file equal to the table. *cell* rules are checked on the row's cells by conversion, `verify`",
             "(any ACS-shaped file) and the review workbook alike; *source* rules are known only while a row is",
             "made and reach `verify`, `status` and the workbook through the ledger. An error makes a row not",
             "LSI-ready; a warning is worth a look.", "",
             "| rule | severity | scope | columns | checks | fix | sources |", "|---|---|---|---|---|---|---|"]
    for r in TABLE:
        sources = "; ".join(f"[{s.title}]({s.url})" if s.url else s.title for s in r.sources) or "none published"
        lines.append(f"| `{r.id}` | {r.severity} | {r.scope} | {r.columns} | {r.checks} | "
                     f"{r.fix.format(column='the column', setting='its setting')} | {sources} |")
    lines += ["", "## Limits", "", "| column | limit | source |", "|---|---|---|",
              *(f"| {c} | {lim.size:,} {lim.unit} | {lim.source.title if lim.source else 'none published: a warning, nothing is cut'} |"
                for c, lim in LIMITS.items()),
              f"| every column | {CELL_LIMIT.size:,} {CELL_LIMIT.unit} | {EXCEL_LIMITS.title}: longer values are left out |",
              "", "## What each source says", ""]
    seen: dict[str, Source] = {}
    for r in TABLE:
        for s in r.sources:
            seen.setdefault(s.title + s.url + s.says, s)
    lines += [f"- **{s.title}**{f' ({s.url})' if s.url else ''}" + (f": \"{s.says}\"" if s.says else "")
              for s in seen.values()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
