"""Every kind of bad input gets its documented outcome; the run goes on and other rows are untouched."""

import json
import os
from pathlib import Path

import pytest

from sidecar import cli
from sidecar.exits import EXIT_OK, EXIT_REJECTED
from sidecar.store import sources
from sidecar.store.ledger import Ledger

from helpers import book, cell, checkpoints, read_rows, write_book

GOOD = book(1, title="Good Book")


def _bytes(data):
    return lambda folder: (folder / "bad.json").write_bytes(data)


def _json(value):
    return _bytes(json.dumps(value).encode())


def _symlink_outside(folder: Path) -> None:
    outside = folder.parent / "outside.json"
    outside.write_text(json.dumps(book(2)))
    (folder / "bad.json").symlink_to(outside)


def _nested(folder: Path) -> None:
    (folder / "bad.json").write_text('{"title": "x", "deep": ' + "[" * 2000 + "]" * 2000 + "}")


CASES = [
    # (id, how to make it, outcome, the reason logged and recorded)
    ("empty", _bytes(b""), "rejected", "it is empty (the pipeline may still be writing it)"),
    ("whitespace", _bytes(b"  \n "), "rejected", "it is empty (the pipeline may still be writing it)"),
    ("truncated", _bytes(b'{"title": "Half a bo'), "rejected",
     "it is not valid JSON (Unterminated string starting at at line 1 column 11); it may be incomplete"),
    ("cut-after-a-key", _bytes(b'{"title": "x",'), "rejected",
     "it is not valid JSON (Expecting property name enclosed in double quotes at line 1 column 15); "
     "it may be incomplete"),
    ("array", _json([GOOD]), "rejected", "its JSON is an array, expected an object with the book's fields"),
    ("string", _json("a book"), "rejected", "its JSON is a string, expected an object with the book's fields"),
    ("number", _json(42), "rejected", "its JSON is a number, expected an object with the book's fields"),
    ("null", _json(None), "rejected", "its JSON is null, expected an object with the book's fields"),
    ("invalid-utf8", _bytes(b'{"title": "caf\xe9"}'), "rejected",
     "it is not valid UTF-8 (bad byte at offset 14); save it as UTF-8"),
    ("utf16", _bytes(json.dumps(GOOD).encode("utf-16")), "rejected",
     "it is not UTF-8 (it looks like UTF-16); save it as UTF-8"),
    ("over-size-limit", _bytes(b'{"title": "' + b"x" * 5000 + b'"}'), "rejected",
     "it is 5,013 bytes, over the 4,096-byte limit (books.max_bytes)"),
    ("deeply-nested", _nested, "rejected", "its JSON is nested too deeply to be a book"),
    ("nan", _bytes(b'{"title": "x", "page_count": NaN}'), "rejected",
     "its JSON contains NaN, which is not valid JSON"),
    ("infinity", _bytes(b'{"title": "x", "list_price_usd": Infinity}'), "rejected",
     "its JSON contains Infinity, which is not valid JSON"),
    ("duplicate-keys", _bytes(b'{"title": "x", "title": "y"}'), "rejected",
     "its JSON has the key 'title' twice in one object"),
    ("no-title-no-isbn", _json({"author": "Someone", "page_count": 100}), "rejected",
     "it has neither a 'title' nor an ISBN ('isbn13', 'isbn_13' or 'isbn')"),
    ("blank-title-and-isbn", _json({"title": " ", "isbn13": ""}), "rejected",
     "it has neither a 'title' nor an ISBN ('isbn13', 'isbn_13' or 'isbn')"),
    ("number-title", _json({**book(3), "title": 1984}), "rejected", "'title' is a number, expected text"),
    ("object-title", _json({**book(3), "title": {"en": "x"}}), "rejected", "'title' is an object, expected text"),
    ("metadata-not-an-object", _json({"metadata": "x"}), "rejected",
     "it has neither a 'title' nor an ISBN ('isbn13', 'isbn_13' or 'isbn')"),
    ("symlink-outside", _symlink_outside, "rejected",
     "it is a symbolic link; the sidecar reads only regular files the pipeline writes"),
    ("same-isbn-as-another-file", _json({**book(1), "title": "Good Book, again"}), "rejected",
     "ISBN {isbn} is already in the checkpoint from {good}; two files describe the same book: "
     "remove or correct one of them"),
    # One hostile value must cost one book at most, with a reason, never the run.
    ("lone-surrogate-title", _bytes(b'{"title": "Bad \\ud800 title", "isbn13": "9781000000026"}'), "rejected",
     "it holds text that is not Unicode ('\\ud800', a lone surrogate written as a JSON escape); "
     "correct that text in the file"),
    ("isbn-a-float", _json({**book(3), "isbn13": 9781000000026.0}), "rejected",
     "its ISBN 9781000000026.0 cannot be read: a number where an ISBN was expected"),
    ("isbn-a-list", _json({**book(3), "isbn13": ["978"]}), "rejected",
     "its ISBN ['978'] cannot be read: a list where an ISBN was expected"),
    ("isbn-a-bool", _json({**book(3), "isbn13": True}), "rejected",
     "its ISBN True cannot be read: true/false where an ISBN was expected"),
    ("isbn-fullwidth-digits", _json({**book(3), "isbn13": "９７８１０００００００２６"}), "rejected",
     "its ISBN '９７８１０００００００２６' cannot be read: it has digits other than ASCII 0-9 (fullwidth or "
     "another script); write it with 0-9"),
    ("isbn-arabic-indic-digits", _json({**book(3), "isbn13": "٩٧٨١٠٠٠٠٠٠٠٢٦"}), "rejected",
     "its ISBN '٩٧٨١٠٠٠٠٠٠٠٢٦' cannot be read: it has digits other than ASCII 0-9 (fullwidth or another "
     "script); write it with 0-9"),
    ("page-count-1e400", _bytes(b'{"title": "x", "isbn13": "9781000000026", "page_count": 1e400}'), "row", None),
    ("page-count-1e100000000", _json({**book(3), "page_count": "1e100000000"}), "row", None),
    ("price-1e30", _json({**book(3), "list_price_usd": "1e30"}), "row", None),
    ("nul-in-keywords", _json({**book(3), "keywords": "one\u0000two; three", "bisac_categories": "A\u0000B"}),
     "row", None),
    ("bad-check-digit", _json({**book(4), "isbn13": "9781608883937"}), "row", None),
    ("formula-title", _json({**book(5), "title": "=cmd|' /C calc'!A0"}), "row", None),
    ("newlines-quotes-commas", _json({**book(6), "title": 'Line one,\n"two"\r\nthree'}), "row", None),
    ("metadata-wrapper", _json({"metadata": book(7)}), "row", None),
    ("utf8-bom", _bytes(b"\xef\xbb\xbf" + json.dumps(book(8)).encode()), "row", None),
    ("keywords-object", _json({**book(9), "keywords": {"a": 1}}), "row", None),
    ("isbn-only", _json({"isbn13": book(10)["isbn13"]}), "row", None),
    ("folder-named-json", lambda folder: (folder / "bad.json").mkdir(), "ignored", None),
    ("lsi-metadata-sibling", lambda f: write_book(f, "Good_lsi_metadata.json", book(11)), "ignored", None),
    ("mnemonics-sibling", lambda f: write_book(f, "Good_with_mnemonics.json", book(12)), "ignored", None),
    ("hidden-file", lambda f: write_book(f, ".bad.json", book(13)), "ignored", None),
    ("temp-file", lambda f: write_book(f, "bad.json.tmp", book(14)), "ignored", None),
    ("not-json-suffix", lambda f: write_book(f, "bad.txt", book(15)), "ignored", None),
]


@pytest.mark.parametrize(("make", "outcome", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_its_outcome_and_costs_nothing_else(tmp_path, capsys, make, outcome, reason):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    good = write_book(folder, "Good.json", GOOD)
    config = tmp_path / "config.yaml"
    config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {data}\nbooks: {{max_bytes: 4096}}\n")
    assert cli.main(["--config", str(config), "--once"]) == EXIT_OK
    [checkpoint] = checkpoints(data)
    before = checkpoint.read_bytes()
    sources = set(folder.iterdir())

    make(folder)
    bad = folder / "bad.json"
    capsys.readouterr()
    code = cli.main(["--config", str(config), "--once"])
    out, err = capsys.readouterr()

    after = checkpoint.read_bytes()
    rows = read_rows(checkpoint)
    assert cell(rows[0], "Title") == "Good Book"
    if outcome == "rejected":
        reason = reason.format(isbn=GOOD["isbn13"], good=good)
        assert code == EXIT_REJECTED
        assert f"rejected {bad}: {reason}\n" in err
        assert "Traceback" not in err
        assert after == before
        assert out.endswith("0 appended, 0 replaced, 1 unchanged, 1 rejected, 1 not LSI-ready; checkpoint: "
                            + str(checkpoint) + "\n")  # the good book lacks an account, a booktype...
        ledger = Ledger(data / "state")
        assert ledger.rejection(str(bad)).reason == reason
        ledger.close()
    elif outcome == "row":
        assert code == EXIT_OK
        assert after.startswith(before) and len(rows) == 2
        assert out.startswith("sidecar: 1 appended, 0 replaced, 1 unchanged, 0 rejected")
    else:
        assert code == EXIT_OK
        assert after == before
        assert out.startswith("sidecar: 0 appended, 0 replaced, 1 unchanged, 0 rejected")
    new_files = set(folder.iterdir()) - sources
    assert all(p.name in ("bad.json", "Good_lsi_metadata.json", "Good_with_mnemonics.json", ".bad.json",
                          "bad.json.tmp", "bad.txt") for p in new_files), "the sidecar wrote into the folder"


def test_values_with_newlines_quotes_and_commas_come_back_exactly(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    title = 'Line one,\n"two"\r\nthree'
    write_book(folder, "a.json", {**book(6), "title": title, "table_of_contents": "A\nB, \"C\""})
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]) == EXIT_OK
    [row] = read_rows(checkpoints(data)[0])
    assert cell(row, "Title") == 'Line one,\n"two"\nthree'
    assert cell(row, "Table of Contents") == 'A\nB, "C"'


def test_a_bad_check_digit_keeps_the_row_and_logs_the_problem(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    path = write_book(folder, "a.json", {**book(4), "isbn13": "9781608883937"})
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]) == EXIT_OK
    [row] = read_rows(checkpoints(data)[0])
    assert cell(row, "ISBN or SKU") == "9781608883937"
    [line] = [line for line in capsys.readouterr().err.splitlines() if f"WARNING {path}: " in line]
    assert "; ISBN or SKU: ISBN 9781608883937 has a wrong check digit (expected 6)" in line


def test_strict_mode_rejects_a_row_with_validation_errors(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    path = write_book(folder, "a.json", {**book(4), "isbn13": "9781608883937"})
    config = tmp_path / "config.yaml"
    config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {data}\nbooks: {{strict: true}}\n")
    assert cli.main(["--config", str(config), "--once"]) == EXIT_REJECTED
    assert checkpoints(data) == []  # a checkpoint starts with its first book
    [line] = [line for line in capsys.readouterr().err.splitlines() if f"rejected {path}: " in line]
    assert line.endswith(f"rejected {path}: strict mode: Lightning Source Account #: blank, and LSI rejects the "
                         "whole file when it is; Metadata Contact Dictionary: blank, and LSI rejects the whole file "
                         "when it is; Rendition /Booktype: blank, and LSI rejects the whole file when it is; "
                         "Returnable: blank, and LSI rejects the whole file when it is; BISAC Category: blank, and "
                         "LSI rejects the whole file when it is; ISBN or SKU: ISBN 9781608883937 has a wrong check "
                         "digit (expected 6)")


def test_a_file_removed_between_listing_and_reading_is_skipped(tmp_path, monkeypatch):
    folder, data = tmp_path / "in", tmp_path / "data"
    write_book(folder, "a.json", book(1))
    real_scan = sources.scan
    monkeypatch.setattr("sidecar.engine.ingest.scan", lambda f, i: [*real_scan(f, i), f / "gone.json"])
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]) == EXIT_OK
    assert len(read_rows(checkpoints(data)[0])) == 1


def test_a_file_the_sidecar_may_not_read_is_rejected_and_retried_when_readable(tmp_path, monkeypatch, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    path = write_book(folder, "a.json", book(1))
    real_open = os.open

    def denied(p, *args, **kwargs):
        if str(p) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(p, *args, **kwargs)

    monkeypatch.setattr("sidecar.store.sources.os.open", denied)
    args = ["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]
    assert cli.main(args) == EXIT_REJECTED
    assert f"rejected {path}: cannot read it: permission denied for user " in capsys.readouterr().err
    monkeypatch.setattr("sidecar.store.sources.os.open", real_open)
    os.chmod(path, 0o644)  # the fix a person makes changes the file's ctime, so it is looked at again
    assert cli.main(args) == EXIT_OK
    assert len(read_rows(checkpoints(data)[0])) == 1


def test_a_rejected_file_is_picked_up_once_fixed(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    path = folder / "a.json"
    folder.mkdir()
    path.write_text('{"title": "Half')
    args = ["--once", "--watch", str(folder), "--checkpoint-dir", str(data)]
    assert cli.main(args) == EXIT_REJECTED
    assert cli.main(args) == EXIT_REJECTED  # still bad: still reported, not logged again
    err = capsys.readouterr().err
    assert err.count(f"rejected {path}") == 1
    write_book(folder, "a.json", book(1))
    assert cli.main(args) == EXIT_OK
    [row] = read_rows(checkpoints(data)[0])
    assert cell(row, "Title") == "Book 1"
    ledger = Ledger(data / "state")
    assert ledger.rejection(str(path)) is None
    ledger.close()
