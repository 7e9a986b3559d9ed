"""A config level that exists but cannot be read is an error naming it, never a level skipped without a word;
and every config file is read with the books' guards."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import book, write_book
from sidecar import cli
from sidecar.errors import ConfigError
from sidecar.rows.configs import read_json
from sidecar.settings import load_settings

ISBN = "9781608883936"
NO_ROOT_PASS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A configs/ tree whose tranche names publisher 'Acme Books', and a folder with one book."""
    root = tmp_path / "configs"
    (root / "tranches").mkdir(parents=True)
    (root / "tranches" / "spring.json").write_text(json.dumps({"publisher": "Acme Books"}))
    folder = tmp_path / "output" / "harbor_light_build" / "processed_json"
    write_book(folder, "a.json", book(1))
    return root, folder


def once(tmp_path: Path, root: Path, folder: Path) -> list[str]:
    return ["--once", "--watch", str(folder), "--checkpoint-dir", str(tmp_path / "data"),
            "--pipeline-configs", str(root), "--tranche", "spring"]


def test_a_broken_publisher_file_found_by_the_name_inside_it_is_an_error_naming_it(tmp_path, capsys):
    root, folder = tree(tmp_path)
    (root / "publishers").mkdir()
    broken = root / "publishers" / "acme_books_llc.json"  # not named after 'Acme Books': found by what it holds
    broken.write_text('{"publisher": "Acme Books", "lightning_source_account": "1234567",}')
    assert cli.main(once(tmp_path, root, folder)) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        f"sidecar: no file in {root / 'publishers'} is named after or names 'Acme Books', and 1 cannot be read, "
        f"which may be it: the pipeline's config file {broken} cannot be used: it is not valid JSON (Expecting "
        "property name enclosed in double quotes at line 1 column 67)\n")


def test_a_publisher_file_that_is_a_symbolic_link_loop_is_an_error_naming_it(tmp_path, capsys):
    root, folder = tree(tmp_path)
    (root / "publishers").mkdir()
    loop = root / "publishers" / "acme_publishing.json"
    loop.symlink_to(loop.name)
    assert cli.main(once(tmp_path, root, folder)) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        f"sidecar: no file in {root / 'publishers'} is named after or names 'Acme Books', and 1 cannot be read, "
        f"which may be it: cannot read the pipeline's config file {loop}: cannot open it: Too many levels of "
        "symbolic links\n")


def test_a_default_config_that_is_a_symbolic_link_loop_is_an_error_not_a_missing_level(tmp_path, capsys):
    root, folder = tree(tmp_path)
    default = root / "default_lsi_config.json"
    default.symlink_to(default.name)
    assert cli.main(once(tmp_path, root, folder)) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (f"sidecar: cannot read the pipeline's config file {default}: cannot open "
                                       "it: Too many levels of symbolic links\n")


def test_a_books_folder_that_is_a_file_is_an_error(tmp_path, capsys):
    root, folder = tree(tmp_path)
    (root / "books").write_text("")
    assert cli.main(once(tmp_path, root, folder)) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (f"sidecar: the pipeline's config folder {root / 'books'} cannot be read: "
                                       "Not a directory\n")


@pytest.mark.parametrize("folder_name", ["books", "publishers"])
def test_a_config_folder_the_sidecar_may_not_read_is_an_error(tmp_path, folder_name):
    root, folder = tree(tmp_path)
    unreadable = root / folder_name
    unreadable.mkdir()
    (unreadable / f"{ISBN}.json").write_text("{}")
    unreadable.chmod(0)
    try:
        done = subprocess.run([*NO_ROOT_PASS, sys.executable, "-m", "sidecar", *once(tmp_path, root, folder)],
                              capture_output=True, text=True, timeout=60)
    finally:
        unreadable.chmod(0o755)
    assert (done.returncode, done.stderr) == (
        cli.EXIT_USAGE, f"sidecar: the pipeline's config folder {unreadable} cannot be read: Permission denied\n")


def test_two_book_configs_for_one_isbn_are_an_error(tmp_path, capsys):
    root, folder = tree(tmp_path)
    (root / "books").mkdir()
    (root / "books" / f"{ISBN}.json").write_text(json.dumps({"us_list_price": 24.95}))
    (root / "books" / "978-1-60888-393-6.json").write_text(json.dumps({"us_list_price": 19.95}))
    assert cli.main(once(tmp_path, root, folder)) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        f"sidecar: {root / 'books' / '978-1-60888-393-6.json'} and {root / 'books' / f'{ISBN}.json'} are both the "
        f"book config of ISBN {ISBN}; keep one of them\n")


@pytest.mark.parametrize(("content", "reason"), [
    ("[" * 100_000 + "]" * 100_000, "its JSON is nested too deeply to be a config file"),
    ('{"a": ' * 65 + "1" + "}" * 65, "its JSON is nested more than 64 levels deep, too deeply to be a config file"),
    ('{"us_list_price": ' + "9" * 5000 + "}",
     "it holds a number too long to read (Exceeds the limit (4300 digits) for integer string conversion)"),
    ('{"a": 1, "a": 2}', "its JSON has the key 'a' twice in one object"),
    ('{"a": NaN}', "its JSON contains NaN, which is not valid JSON"),
])
def test_a_pipeline_config_file_is_read_with_the_books_guards(tmp_path, content, reason):
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        read_json(path)
    assert str(raised.value) == f"the pipeline's config file {path} cannot be used: {reason}"


@pytest.mark.parametrize(("content", "reason"), [
    ("watch: " + "[" * 100_000 + "]" * 100_000, "is not valid YAML: nested more than 64 levels deep"),
    ("rescan_seconds: " + "9" * 5000,
     "holds a number too long to read (Exceeds the limit (4300 digits) for integer string conversion)"),
    ("watch: [a]\nwatch: [b]\n", "is not valid YAML: the key 'watch' is there twice"),
])
def test_the_settings_file_is_read_with_the_same_guards(tmp_path, content, reason):
    path = tmp_path / "config.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_settings({"config": str(path)}, environ={})
    assert str(raised.value).startswith(f"{path} {reason}")
