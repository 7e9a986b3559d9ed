import csv

from sidecar.rows.columns import COLUMNS, Dialect, encode_header, encode_record


def test_the_header_is_lsi_s_template_name_for_name(shared):
    with open(shared / "LSI_ACS_header.csv", newline="", encoding="utf-8") as f:
        template = next(csv.reader(f))
    assert len(template) == 119
    assert list(COLUMNS) == template


def test_the_header_is_written_like_the_pipeline_s_batch_file():
    header = encode_header(Dialect())
    assert header.startswith(b"\xef\xbb\xbfLightning Source Account #,Metadata Contact Dictionary,")
    assert header.endswith(b",SIBI - EDUC - US * Wholesale Discount % (Mode 2)\r\n")
    assert header.count(b"\r\n") == 1


def test_a_header_without_bom_and_with_lf_when_configured():
    header = encode_header(Dialect(bom=False, line_terminator="\n"))
    assert header.startswith(b"Lightning Source Account #,")
    assert header.endswith(b"(Mode 2)\n")


def test_records_quote_only_what_needs_it_and_keep_newlines_inside_quotes():
    record = encode_record(["plain", "a,b", 'say "hi"', "line1\nline2", ""], Dialect())
    assert record == b'plain,"a,b","say ""hi""","line1\nline2",\r\n'
