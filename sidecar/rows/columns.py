"""The LSI ACS spreadsheet: its 119 column names, its markets, the CSV dialect rows are written in, and
the Problem a row can carry. The vocabulary every other layer shares."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Sequence

Row = tuple[str, ...]

RULESET_VERSION = "1"  # of the conversion rules: in every row's settings digest; a new one converts rows again
# Lightning Source's ACS template, name for name (the odd spacing and the missing ")" in
# "LSI Special Category  (please consult LSI before using" are LSI's own).
COLUMNS: tuple[str, ...] = (
    'Lightning Source Account #',
    'Metadata Contact Dictionary',
    'Parent ISBN',
    'ISBN or SKU',
    'Rendition /Booktype',
    'Title',
    'Publisher',
    'Imprint',
    'Cover/Jacket Submission Method',
    'Text Block SubmissionMethod',
    'Contributor One',
    'Contributor One Role',
    'Reserved 1',
    'Reserved 2',
    'Reserved 3',
    'Reserved 4',
    'Custom Trim Width (inches)',
    'Custom Trim Height (inches)',
    'Weight(Lbs)',
    'Reserved5',
    'Reserved6',
    'Reserved7',
    'Reserved8',
    'Marketing Image',
    'Pages',
    'Pub Date',
    'Street Date',
    'Territorial Rights',
    'Contributor Two',
    'Contributor Two Role',
    'Contributor Three',
    'Contributor Three Role',
    'Edition Number',
    'Edition Description',
    'Jacket Path / Filename',
    'Interior Path / Filename',
    'Cover Path / Filename',
    'Annotation / Summary',
    'Reserved (Special Instructions)',
    'LSI Special Category  (please consult LSI before using',
    'Stamped Text LEFT',
    'Stamped Text CENTER',
    'Stamped Text RIGHT',
    'Order Type Eligibility',
    'Returnable',
    'BISAC Category',
    'Language Code',
    'LSI FlexField1 (please consult LSI before using)',
    'LSI FlexField2 (please consult LSI before using)',
    'LSI FlexField3 (please consult LSI before using)',
    'LSI FlexField4 (please consult LSI before using)',
    'LSI FlexField5 (please consult LSI before using)',
    'Reserved11',
    'Reserved12',
    'BISAC Category 2',
    'BISAC Category 3',
    'Publisher Reference ID',
    'Reserved9',
    'Reserved10',
    'Carton Pack Quantity',
    'Contributor One BIO',
    'Contributor One Affiliations',
    'Contributor One Professional Position',
    'Contributor One Location',
    'Contributor One Location Type Code',
    'Contributor One Prior Work',
    'Keywords',
    'Thema Subject 1',
    'Thema Subject 2',
    'Thema Subject 3',
    'Regional Subjects',
    'Min Age',
    'Max Age',
    'Min Grade',
    'Max Grade',
    'Audience',
    'Short Description',
    'Table of Contents',
    'Review Quote(s)',
    '# Illustrations',
    'Illustration Notes',
    'Series Name',
    '# in Series',
    'US Suggested List Price',
    'US Wholesale Discount',
    'UK Suggested List Price',
    'UK Wholesale Discount (%)',
    'EU Suggested List Price (mode 2)',
    'EU Wholesale Discount % (Mode 2)',
    'AU Suggested List Price (mode 2)',
    'AU Wholesale Discount % (Mode 2)',
    'CA Suggested List Price (mode 2)',
    'CA Wholesale Discount % (Mode 2)',
    'GC Suggested List Price (mode 2)',
    'GC Wholesale Discount % (Mode 2)',
    'USBR1 Suggested List Price (mode 2)',
    'USBR1 Wholesale Discount % (Mode 2)',
    'USDE1 Suggested List Price (mode 2)',
    'USDE1 Wholesale Discount % (Mode 2)',
    'USRU1 Suggested List Price (mode 2)',
    'USRU1 Wholesale Discount % (Mode 2)',
    'USPL1 Suggested List Price (mode 2)',
    'USPL1 Wholesale Discount % (Mode 2)',
    'USKR1 Suggested List Price (mode 2)',
    'USKR1 Wholesale Discount % (Mode 2)',
    'USCN1 Suggested List Price (mode 2)',
    'USCN1 Wholesale Discount % (Mode 2)',
    'USIN1 Suggested List Price (mode 2)',
    'USIN1 Wholesale Discount % (Mode 2)',
    'USJP2 Suggested List Price(mode 2)',
    'USJP2 Wholesale Discount % (Mode 2)',
    'UAEUSD Suggested List Price (mode 2)',
    'UAEUSD Wholesale Discount % (Mode 2)',
    'US-Ingram-Only* Suggested List Price (mode 2)',
    'US-Ingram-Only* Wholesale Discount % (Mode 2)',
    'US - Ingram - GAP * Suggested List Price (mode 2)',
    'US - Ingram - GAP * Wholesale Discount % (Mode 2)',
    'SIBI - EDUC - US * Suggested List Price (mode 2)',
    'SIBI - EDUC - US * Wholesale Discount % (Mode 2)',
)
INDEX: dict[str, int] = {name: i for i, name in enumerate(COLUMNS)}

BOM = "\ufeff".encode()

# (market, price column, discount column, the book's own price keys)
MARKETS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("US", "US Suggested List Price", "US Wholesale Discount",
     ("list_price_usd", "us_suggested_list_price", "us_list_price", "list_price", "price")),
    ("UK", "UK Suggested List Price", "UK Wholesale Discount (%)",
     ("uk_suggested_list_price", "list_price_gbp", "price_gbp")),
    ("EU", "EU Suggested List Price (mode 2)", "EU Wholesale Discount % (Mode 2)",
     ("eu_suggested_list_price_mode2", "list_price_eur", "price_eur")),
    ("AU", "AU Suggested List Price (mode 2)", "AU Wholesale Discount % (Mode 2)",
     ("au_suggested_list_price_mode2", "list_price_aud", "price_aud")),
    ("CA", "CA Suggested List Price (mode 2)", "CA Wholesale Discount % (Mode 2)",
     ("ca_suggested_list_price_mode2", "list_price_cad", "price_cad")),
    *(
        (m, f"{m} Suggested List Price (mode 2)", f"{m} Wholesale Discount % (Mode 2)",
         (f"{m.lower()}_suggested_list_price_mode2",))
        for m in ("GC", "USBR1", "USDE1", "USRU1", "USPL1", "USKR1", "USCN1", "USIN1")
    ),
    ("USJP2", "USJP2 Suggested List Price(mode 2)", "USJP2 Wholesale Discount % (Mode 2)",
     ("usjp2_suggested_list_price_mode2",)),
    ("UAEUSD", "UAEUSD Suggested List Price (mode 2)", "UAEUSD Wholesale Discount % (Mode 2)",
     ("uaeusd_suggested_list_price_mode2",)),
)


# LSI's published length limits (characters), the pipeline's validator's for file names, and for every
# other column LSI's longest text limit, so that no cell grows without bound (a reader's field limit
# holds every cell the sidecar writes). Short Description's limit is in bytes (MAX_BYTES).
MAX_CHARS = {
    "Title": 255, "Series Name": 255, "Keywords": 255, "Annotation / Summary": 4000,
    "Table of Contents": 2000, "Contributor One BIO": 2000,
    **{c: 255 for c in ("Jacket Path / Filename", "Interior Path / Filename", "Cover Path / Filename",
                        "Marketing Image")},
}
MAX_BYTES = {"Short Description": 350}
TEXT_MAX_CHARS = 4000


def max_chars(column: str) -> int:
    return MAX_CHARS.get(column, TEXT_MAX_CHARS)


@dataclass(frozen=True)
class Problem:
    severity: str  # "error": LSI would refuse the row (or the whole file); "warning": worth a look
    column: str
    message: str


@dataclass(frozen=True)
class Dialect:
    """How a checkpoint is encoded: the pipeline's batch file is UTF-8 with BOM and CRLF record ends."""

    bom: bool = True
    line_terminator: str = "\r\n"


def encode_record(cells: Sequence[str], dialect: Dialect) -> bytes:
    """One CSV record (minimal quoting; newlines inside a cell stay inside its quotes)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator=dialect.line_terminator).writerow(cells)
    return buf.getvalue().encode("utf-8")


def encode_header(dialect: Dialect, columns: Sequence[str] = COLUMNS) -> bytes:
    return (BOM if dialect.bom else b"") + encode_record(columns, dialect)


# Lightning Source rejects a whole ACS file when any of these is blank for any title.
REQUIRED = (
    "Lightning Source Account #", "Metadata Contact Dictionary", "ISBN or SKU", "Rendition /Booktype",
    "Title", "Publisher", "Imprint", "Cover/Jacket Submission Method", "Text Block SubmissionMethod",
    "Contributor One", "Contributor One Role", "Returnable", "BISAC Category",
)
