"""The README's tables of flags, exit codes and allowed imports say what the code does: each is compared with
its source (build_parser(), sidecar/exits.py, the layering test's ALLOWED table)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from sidecar import exits
from sidecar.cli import build_parser
from test_layout import ALLOWED

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def table(header: str) -> list[list[str]]:
    """The body rows of the README table whose header row starts with header, as lists of cells."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([cell.strip().replace("\\|", "|") for cell in cells])
    return rows


def _code_names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def config_keys() -> set[str]:
    """The settings config.yaml documents that are single values (its sections are documented elsewhere)."""
    documented = yaml.safe_load((ROOT / "config.yaml").read_text())
    return {key for key, value in documented.items() if not isinstance(value, dict)}


def parser_flags() -> dict[str, tuple[str, str]]:
    """Every flag of the command line and of each command that sets a setting: flag -> (how it is written
    with its value, its config key or "")."""
    parser = build_parser()
    subparsers = [a for a in parser._actions if a.choices and isinstance(a.choices, dict)]
    commands = [p for a in subparsers for p in a.choices.values()]
    keys = config_keys()
    flags: dict[str, tuple[str, str]] = {}
    for owner in [parser, *commands]:
        for action in owner._actions:
            long = [o for o in action.option_strings if o.startswith("--")]
            if not long or long[0] in ("--help", "--version") or (owner is not parser and action.dest not in keys):
                continue
            value = action.metavar or ("|".join(action.choices) if action.choices else "")
            flags.setdefault(long[0], (f"{long[0]} {value}".strip(), action.dest if action.dest in keys else ""))
    return flags


def test_the_flag_table_lists_every_flag_with_its_value_and_config_key():
    rows = table("| flag | config key |")
    readme = {}
    for flag_cell, key_cell, _ in rows:
        written = _code_names(flag_cell)
        if written:
            readme[written[0].split()[0]] = (written[0], key_cell.strip("`"))
    assert readme == parser_flags()


def test_the_flag_table_lists_every_config_key_that_has_no_flag():
    with_flags = {key for _, key in parser_flags().values()}
    readme_only = {row[1].strip("`") for row in table("| flag | config key |") if not row[0]}
    assert readme_only == config_keys() - with_flags


def test_the_exit_code_table_lists_the_exit_codes_of_sidecar_exits():
    codes = [int(row[0]) for row in table("| code | meaning |")]
    assert codes == sorted(exits.EXIT_CODES)
    named = {value for name, value in vars(exits).items() if name.startswith("EXIT_") and isinstance(value, int)}
    assert set(codes) == named


def test_the_help_lists_every_exit_code():
    epilog = build_parser().epilog
    assert epilog == "Exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in exits.EXIT_CODES.items()) + "."
    assert [int(c) for c in re.findall(r"(?:: |; )(\d) ", epilog)] == sorted(exits.EXIT_CODES)


def test_the_layout_table_gives_each_layer_the_imports_the_layering_test_allows():
    readme = {}
    for package, _, may_import in table("| package | owns | may import |"):
        layer = re.fullmatch(r"`sidecar/([a-z_]+)(?:\.py|/)`", package)
        assert layer, f"one layer a row: {package}"
        readme[layer.group(1)] = set(_code_names(may_import))
    assert readme == {layer: allowed for layer, allowed in ALLOWED.items() if layer != "__init__"}
