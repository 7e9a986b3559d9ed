"""The Lightning Source and IngramSpark pages LSI's rules come from, with what each says. Pure data.

Quoted as the help centres state them; docs/lsi-rules.md prints every rule with its pages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    title: str  # the page's own title
    url: str
    says: str  # what the page states, quoted ("": see the docs that cite it)


ACS = Source(
    "Automated Content Submissions (Lightning Source)",
    "https://help.lightningsource.com/hc/en-us/articles/213555383-Automated-Content-Submissions",
    "Publishers must complete the following required information on the ACS spreadsheet for each print on "
    "demand title being submitted. Any items not supplied from this list will result in the ACS submission being "
    "rejected and returned for corrections. [...] Column E: Publisher (your publisher name as listed with us) "
    "[...] Column F: Imprint (must be a valid imprint listed with us) [...] Pricing can only be supplied where "
    "the relevant Print on Demand agreements have been signed. [...] Column AT - AX: Flex field information to be "
    "used by prior arrangement only")
ACS_TEMPLATE = Source(
    "LSI's ACS template header and code tables (LSI_ACS_header.csv, ACS-codes-and-descriptions.csv)", "",
    "the column 'LSI Special Category  (please consult LSI before using'; Pub Date and Street Date columns for "
    "dates, Pages and prices for numbers; the Book Types table gives each book type's minimum and maximum page "
    "count; each code table lists the values LSI takes")
BASICS = Source(
    "Basics of Metadata (Lightning Source)",
    "https://help.lightningsource.com/hc/en-us/articles/5294078333709-Basics-of-Metadata",
    "The title and subtitle are entered in separate fields and then combined to create the full title name. "
    "[example: The Windy Day: My 24-hour Adventure in Chicago] [...] Lightning Source requires at least one BISAC "
    "code to be entered during title set-up")
DISCOVERABILITY = Source(
    "Global Discoverability Guidance (IngramSpark, updated Feb 10, 2025)",
    "https://www.ingramspark.com/blog/global-discoverability-guidance",
    "The title name field has a 400 byte limit. Most English language characters equal one byte.")
GLOSSARY = Source(
    "GLOSSARY (Lightning Source)",
    "https://help.lightningsource.com/hc/en-us/articles/5293911782029-GLOSSARY",
    "We recommend that you provide a book description [...] The book description should be at least 40 "
    "characters, but should not exceed 4,000 characters including spaces. In addition, no HTML tagging, bullets, "
    "or other special formatting should be embedded.")
HTML_MARKUP = Source(
    "HTML markup and special characters (Ingram Marketing Insights)",
    "https://ingramiq.zendesk.com/hc/en-us/articles/5348388777229-HTML-markup-and-special-characters",
    "We recommend using a limited set of HTML tags and special characters in book descriptions to ensure the "
    "broadest compatibility across retailers, web browsers, and devices [tags listed: b, strong, em, i, u, sub, "
    "sup, p, br, ul, ol, li, cite, dl, dt, dd]")
KEYWORDS = Source(
    "Improve Discovery with Good Metadata (Lightning Source)",
    "https://help.lightningsource.com/hc/en-us/articles/23133548241037-Improve-Discovery-with-Good-Metadata",
    "Lightning Source will accept up to 500 characters for keywords.")
LINKS = Source(
    "Title Setup Instructions and Information for Print Books and Ebook (IngramSpark)",
    "https://help.ingramspark.com/hc/en-us/articles/5341507452173-Title-Setup-Instructions-and-Information-for-"
    "Print-Books-and-Ebook",
    "When providing the information for your book, do not add links to videos or other websites. Adding links "
    "within any area or field of the title setup pages [...] is prohibited within ONIX standards")
PAGE_COUNT = Source(
    "How Do I Calculate My Final Page Count? (Lightning Source)",
    "https://help.lightningsource.com/hc/en-us/articles/5293889206541-How-Do-I-Calculate-My-Final-Page-Count",
    "Your final page count must be an even number (divisible by 2).")
ON_SALE = Source(
    "How to Change On-Sale or Publication Dates on IngramSpark",
    "https://help.ingramspark.com/hc/en-us/articles/43779758558989-How-to-Change-On-Sale-or-Publication-Dates-on-"
    "IngramSpark",
    "Please note that the publication date cannot be before the on-sale date.")
PRE_ORDER = Source(
    "Listing Your Title as Available for Pre-Order (Lightning Source)",
    "https://help.lightningsource.com/hc/en-us/articles/5294175943949-Listing-Your-Title-as-Available-for-Pre-Order",
    "Usually, you would set the publication date earlier than the on-sale date in order to have your book "
    "available for pre-ordering [...] It is recommended that the publication date and on-sale date are the same")
RETURNS = Source(
    "Returns Option (Lightning Source)",
    "https://help.lightningsource.com/hc/en-us/articles/360021418071-Returns-Option",
    "you will be required to select a returns option and will have 3 to choose from [...] (Yes-Deliver:) "
    "Available for the US market only")
RETURNS_SPARK = Source(
    "Distribution Returns Information (IngramSpark)",
    "https://help.ingramspark.com/hc/en-us/articles/5338718331277-Distribution-Returns-Information",
    "Yes-Deliver- Available in the U.S. Market only [...] (This return option is only available for books sold "
    "in the United States or Canada.)")
ISBNS = Source(
    "ISBN/EAN/SKU Information (IngramSpark)",
    "https://help.ingramspark.com/hc/en-us/articles/208999486-ISBN-EAN-SKU-Information",
    "An ISBN/EAN is needed for books sold through Ingram's Global Distribution Channels. [...] a unique "
    "thirteen-digit item code provided by your country's ISBN agency")
SET_UP = Source(
    "How to Set Up a Print Title (Lightning Source)",
    "https://help.lightningsource.com/hc/en-us/articles/5294149985165-How-to-Set-Up-a-Print-Title",
    "Contributor - At least one contributor is required (e.g. author, illustrator, etc.) [...] Then choose the "
    "appropriate contributor role")
EXCEL_LIMITS = Source(
    "Excel specifications and limits (Microsoft)",
    "https://support.microsoft.com/en-us/office/excel-specifications-and-limits-1672b34d-7043-467e-8e27-269d656771c3",
    "Total number of characters that a cell can contain: 32,767 characters")

# The pages the pre-flight's file rules come from (docs/preflight.md says what each states).
FILE_TIPS = Source(
    "File Creation Tips to Help Avoid Manufacturing Issues (Lightning Source)",
    "https://help.lightningsource.com/hc/en-us/articles/5294186277261-File-Creation-Tips-to-Help-Avoid-"
    "Manufacturing-Issues", "")
COMMON_FILES = Source("Common File Issues (Lightning Source)",
                      "https://help.lightningsource.com/hc/en-us/articles/6037530078605-Common-File-Issues", "")
DESIGNING_FILES = Source(
    "Designing, Creating, and Submitting Print Ready Digital Files (Lightning Source)",
    "https://help.lightningsource.com/hc/en-us/articles/5293943284237-Designing-Creating-and-Submitting-"
    "Print-Ready-Digital-Files", "")
FILE_REQUIREMENTS = Source("File Requirements for Print Books (IngramSpark)",
                           "https://www.ingramspark.com/blog/file-requirements-for-print-books", "")
