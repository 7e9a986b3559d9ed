"""The LSI ACS spreadsheet: its 119 column names, its markets and their currencies, the CSV dialect rows are
written in, and the Problem a row can carry. The vocabulary every other layer shares."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Sequence

Row = tuple[str, ...]
# Lightning Source's ACS template, name for name (the odd spacing and the missing ")" in
# "LSI Special Category  (please consult LSI before using" are LSI's own). Code names a column by its
# constant (tests/test_vocabulary.py finds a column's name written anywhere else); the market price and
# discount columns are named by MARKETS.
LIGHTNING_SOURCE_ACCOUNT = 'Lightning Source Account #'
METADATA_CONTACT_DICTIONARY = 'Metadata Contact Dictionary'
PARENT_ISBN = 'Parent ISBN'
ISBN_OR_SKU = 'ISBN or SKU'
RENDITION_BOOKTYPE = 'Rendition /Booktype'
TITLE = 'Title'
PUBLISHER = 'Publisher'
IMPRINT = 'Imprint'
COVER_JACKET_SUBMISSION_METHOD = 'Cover/Jacket Submission Method'
TEXT_BLOCK_SUBMISSIONMETHOD = 'Text Block SubmissionMethod'
CONTRIBUTOR_ONE = 'Contributor One'
CONTRIBUTOR_ONE_ROLE = 'Contributor One Role'
RESERVED_1 = 'Reserved 1'
RESERVED_2 = 'Reserved 2'
RESERVED_3 = 'Reserved 3'
RESERVED_4 = 'Reserved 4'
CUSTOM_TRIM_WIDTH_INCHES = 'Custom Trim Width (inches)'
CUSTOM_TRIM_HEIGHT_INCHES = 'Custom Trim Height (inches)'
WEIGHT_LBS = 'Weight(Lbs)'
RESERVED5 = 'Reserved5'
RESERVED6 = 'Reserved6'
RESERVED7 = 'Reserved7'
RESERVED8 = 'Reserved8'
MARKETING_IMAGE = 'Marketing Image'
PAGES = 'Pages'
PUB_DATE = 'Pub Date'
STREET_DATE = 'Street Date'
TERRITORIAL_RIGHTS = 'Territorial Rights'
CONTRIBUTOR_TWO = 'Contributor Two'
CONTRIBUTOR_TWO_ROLE = 'Contributor Two Role'
CONTRIBUTOR_THREE = 'Contributor Three'
CONTRIBUTOR_THREE_ROLE = 'Contributor Three Role'
EDITION_NUMBER = 'Edition Number'
EDITION_DESCRIPTION = 'Edition Description'
JACKET_PATH_FILENAME = 'Jacket Path / Filename'
INTERIOR_PATH_FILENAME = 'Interior Path / Filename'
COVER_PATH_FILENAME = 'Cover Path / Filename'
ANNOTATION_SUMMARY = 'Annotation / Summary'
RESERVED_SPECIAL_INSTRUCTIONS = 'Reserved (Special Instructions)'
LSI_SPECIAL_CATEGORY = 'LSI Special Category  (please consult LSI before using'
STAMPED_TEXT_LEFT = 'Stamped Text LEFT'
STAMPED_TEXT_CENTER = 'Stamped Text CENTER'
STAMPED_TEXT_RIGHT = 'Stamped Text RIGHT'
ORDER_TYPE_ELIGIBILITY = 'Order Type Eligibility'
RETURNABLE = 'Returnable'
BISAC_CATEGORY = 'BISAC Category'
LANGUAGE_CODE = 'Language Code'
LSI_FLEXFIELD1 = 'LSI FlexField1 (please consult LSI before using)'
LSI_FLEXFIELD2 = 'LSI FlexField2 (please consult LSI before using)'
LSI_FLEXFIELD3 = 'LSI FlexField3 (please consult LSI before using)'
LSI_FLEXFIELD4 = 'LSI FlexField4 (please consult LSI before using)'
LSI_FLEXFIELD5 = 'LSI FlexField5 (please consult LSI before using)'
RESERVED11 = 'Reserved11'
RESERVED12 = 'Reserved12'
BISAC_CATEGORY_2 = 'BISAC Category 2'
BISAC_CATEGORY_3 = 'BISAC Category 3'
PUBLISHER_REFERENCE_ID = 'Publisher Reference ID'
RESERVED9 = 'Reserved9'
RESERVED10 = 'Reserved10'
CARTON_PACK_QUANTITY = 'Carton Pack Quantity'
CONTRIBUTOR_ONE_BIO = 'Contributor One BIO'
CONTRIBUTOR_ONE_AFFILIATIONS = 'Contributor One Affiliations'
CONTRIBUTOR_ONE_PROFESSIONAL_POSITION = 'Contributor One Professional Position'
CONTRIBUTOR_ONE_LOCATION = 'Contributor One Location'
CONTRIBUTOR_ONE_LOCATION_TYPE_CODE = 'Contributor One Location Type Code'
CONTRIBUTOR_ONE_PRIOR_WORK = 'Contributor One Prior Work'
KEYWORDS = 'Keywords'
THEMA_SUBJECT_1 = 'Thema Subject 1'
THEMA_SUBJECT_2 = 'Thema Subject 2'
THEMA_SUBJECT_3 = 'Thema Subject 3'
REGIONAL_SUBJECTS = 'Regional Subjects'
MIN_AGE = 'Min Age'
MAX_AGE = 'Max Age'
MIN_GRADE = 'Min Grade'
MAX_GRADE = 'Max Grade'
AUDIENCE = 'Audience'
SHORT_DESCRIPTION = 'Short Description'
TABLE_OF_CONTENTS = 'Table of Contents'
REVIEW_QUOTES = 'Review Quote(s)'
ILLUSTRATION_COUNT = '# Illustrations'
ILLUSTRATION_NOTES = 'Illustration Notes'
SERIES_NAME = 'Series Name'
NUMBER_IN_SERIES = '# in Series'
COLUMNS: tuple[str, ...] = (
    LIGHTNING_SOURCE_ACCOUNT,
    METADATA_CONTACT_DICTIONARY,
    PARENT_ISBN,
    ISBN_OR_SKU,
    RENDITION_BOOKTYPE,
    TITLE,
    PUBLISHER,
    IMPRINT,
    COVER_JACKET_SUBMISSION_METHOD,
    TEXT_BLOCK_SUBMISSIONMETHOD,
    CONTRIBUTOR_ONE,
    CONTRIBUTOR_ONE_ROLE,
    RESERVED_1,
    RESERVED_2,
    RESERVED_3,
    RESERVED_4,
    CUSTOM_TRIM_WIDTH_INCHES,
    CUSTOM_TRIM_HEIGHT_INCHES,
    WEIGHT_LBS,
    RESERVED5,
    RESERVED6,
    RESERVED7,
    RESERVED8,
    MARKETING_IMAGE,
    PAGES,
    PUB_DATE,
    STREET_DATE,
    TERRITORIAL_RIGHTS,
    CONTRIBUTOR_TWO,
    CONTRIBUTOR_TWO_ROLE,
    CONTRIBUTOR_THREE,
    CONTRIBUTOR_THREE_ROLE,
    EDITION_NUMBER,
    EDITION_DESCRIPTION,
    JACKET_PATH_FILENAME,
    INTERIOR_PATH_FILENAME,
    COVER_PATH_FILENAME,
    ANNOTATION_SUMMARY,
    RESERVED_SPECIAL_INSTRUCTIONS,
    LSI_SPECIAL_CATEGORY,
    STAMPED_TEXT_LEFT,
    STAMPED_TEXT_CENTER,
    STAMPED_TEXT_RIGHT,
    ORDER_TYPE_ELIGIBILITY,
    RETURNABLE,
    BISAC_CATEGORY,
    LANGUAGE_CODE,
    LSI_FLEXFIELD1,
    LSI_FLEXFIELD2,
    LSI_FLEXFIELD3,
    LSI_FLEXFIELD4,
    LSI_FLEXFIELD5,
    RESERVED11,
    RESERVED12,
    BISAC_CATEGORY_2,
    BISAC_CATEGORY_3,
    PUBLISHER_REFERENCE_ID,
    RESERVED9,
    RESERVED10,
    CARTON_PACK_QUANTITY,
    CONTRIBUTOR_ONE_BIO,
    CONTRIBUTOR_ONE_AFFILIATIONS,
    CONTRIBUTOR_ONE_PROFESSIONAL_POSITION,
    CONTRIBUTOR_ONE_LOCATION,
    CONTRIBUTOR_ONE_LOCATION_TYPE_CODE,
    CONTRIBUTOR_ONE_PRIOR_WORK,
    KEYWORDS,
    THEMA_SUBJECT_1,
    THEMA_SUBJECT_2,
    THEMA_SUBJECT_3,
    REGIONAL_SUBJECTS,
    MIN_AGE,
    MAX_AGE,
    MIN_GRADE,
    MAX_GRADE,
    AUDIENCE,
    SHORT_DESCRIPTION,
    TABLE_OF_CONTENTS,
    REVIEW_QUOTES,
    ILLUSTRATION_COUNT,
    ILLUSTRATION_NOTES,
    SERIES_NAME,
    NUMBER_IN_SERIES,
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
# The pipeline's own name for a column in its JSON and config files ("Series Name" -> "series_name"), which
# is also the word settings, levels and reports use for the same thing ("imprint", "publisher", "title").
KEY: dict[str, str] = {name: re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") for name in COLUMNS}
# Columns that are filled as a group.
CONTRIBUTORS = ((CONTRIBUTOR_ONE, CONTRIBUTOR_ONE_ROLE), (CONTRIBUTOR_TWO, CONTRIBUTOR_TWO_ROLE),
                (CONTRIBUTOR_THREE, CONTRIBUTOR_THREE_ROLE))
CONTRIBUTOR_ONE_DETAILS = (CONTRIBUTOR_ONE_BIO, CONTRIBUTOR_ONE_AFFILIATIONS, CONTRIBUTOR_ONE_PROFESSIONAL_POSITION,
                           CONTRIBUTOR_ONE_LOCATION, CONTRIBUTOR_ONE_PRIOR_WORK, CONTRIBUTOR_ONE_LOCATION_TYPE_CODE)
FLEX_FIELDS = (LSI_FLEXFIELD1, LSI_FLEXFIELD2, LSI_FLEXFIELD3, LSI_FLEXFIELD4, LSI_FLEXFIELD5)
CONTRIBUTOR_ROLES = tuple(role for _, role in CONTRIBUTORS)
BISAC_CATEGORIES = (BISAC_CATEGORY, BISAC_CATEGORY_2, BISAC_CATEGORY_3)
THEMA_SUBJECTS = (THEMA_SUBJECT_1, THEMA_SUBJECT_2, THEMA_SUBJECT_3)
THEMA_LIST_KEYS = ("thema", "thema_subjects", "thema_codes")  # the pipeline's keys for all of a book's Thema codes

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
