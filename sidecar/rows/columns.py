"""The LSI ACS spreadsheet: its 119 column names, its markets and their currencies, the CSV dialect rows are
written in, and the Problem a row can carry. The vocabulary every other layer shares."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Sequence

Row = tuple[str, ...]
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

class Market(NamedTuple):
    code: str  # LSI's market code (US, UK, EU, ... UAEUSD)
    price: str  # its price column
    discount: str  # its wholesale discount column
    book_keys: tuple[str, ...]  # the book's own keys for its price, first found wins
    currency: str  # ISO 4217


def _keys(code: str, *more: str) -> tuple[str, ...]:
    """A market's price keys in a book: the config levels' own name first, then the pipeline's."""
    return (f"{code.lower()}_list_price", f"{code.lower()}_suggested_list_price", *more)


# The USD markets after CA are LSI's "mode 2" markets priced in US dollars (USBR1: Brazil in USD, ...).
MARKETS: tuple[Market, ...] = (
    Market("US", "US Suggested List Price", "US Wholesale Discount",
           _keys("us", "list_price_usd", "list_price", "price"), "USD"),
    Market("UK", "UK Suggested List Price", "UK Wholesale Discount (%)",
           _keys("uk", "list_price_gbp", "price_gbp"), "GBP"),
    *(Market(code, f"{code} Suggested List Price (mode 2)", f"{code} Wholesale Discount % (Mode 2)",
             _keys(code, f"{code.lower()}_suggested_list_price_mode2", f"list_price_{cur.lower()}",
                   f"price_{cur.lower()}"), cur)
      for code, cur in (("EU", "EUR"), ("AU", "AUD"), ("CA", "CAD"))),
    *(Market(code, f"{code} Suggested List Price (mode 2)", f"{code} Wholesale Discount % (Mode 2)",
             (f"{code.lower()}_suggested_list_price_mode2",), "USD")
      for code in ("GC", "USBR1", "USDE1", "USRU1", "USPL1", "USKR1", "USCN1", "USIN1")),
    Market("USJP2", "USJP2 Suggested List Price(mode 2)", "USJP2 Wholesale Discount % (Mode 2)",
           ("usjp2_suggested_list_price_mode2",), "USD"),
    Market("UAEUSD", "UAEUSD Suggested List Price (mode 2)", "UAEUSD Wholesale Discount % (Mode 2)",
           ("uaeusd_suggested_list_price_mode2",), "USD"),
)
US = MARKETS[0]
# Markets in their own currency: priced from the US price by exchange rate when no level prices them.
CONVERTED_MARKETS = ("UK", "EU", "AU", "CA")


class Severity(StrEnum):
    ERROR = "error"  # LSI would refuse the row (or the whole file)
    WARNING = "warning"  # worth a look


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one cell; made only by a rule of lsi_rules.py (Rule.at)."""

    rule: str  # the id of the rule in lsi_rules.RULES
    severity: Severity
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
