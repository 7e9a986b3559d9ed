from pathlib import Path

import pytest

from sidecar import cli
from sidecar.settings import derive_imprint, load_settings
from sidecar.errors import ConfigError
from sidecar.exits import EXIT_USAGE

FLAGS = {"config": None, "watch": None, "imprint": None, "checkpoint_dir": None, "state_dir": None,
         "lsi_config": None, "tranche": None, "acs_codes": None, "log_level": None, "log_format": None}


def settings(tmp_path, yaml_text=None, env=None, **flags):
    if yaml_text is not None:
        (tmp_path / "conf").mkdir(exist_ok=True)
        (tmp_path / "conf" / "sidecar.yaml").write_text(yaml_text)
        flags.setdefault("config", str(tmp_path / "conf" / "sidecar.yaml"))
    return load_settings({**FLAGS, **flags}, env or {})


def test_a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default(tmp_path):
    text = "watch: [in]\ncheckpoint_dir: from_file\n"
    assert settings(tmp_path, "watch: [in]\n").checkpoint_dir == tmp_path / "conf" / "data"
    assert settings(tmp_path, text).checkpoint_dir == tmp_path / "conf" / "from_file"
    env = {"SIDECAR_CHECKPOINT_DIR": "from_env"}
    assert settings(tmp_path, text, env).checkpoint_dir == tmp_path / "from_env"
    assert settings(tmp_path, text, env, checkpoint_dir="from_flag").checkpoint_dir == tmp_path / "from_flag"


def test_relative_paths_in_the_file_resolve_against_the_file(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "t.json").write_text('{"required_bisac_subject": "FICTION / Literary"}')
    s = settings(tmp_path, "watch: [books]\ntranche: t.json\n")
    assert s.folders[0].path == tmp_path / "conf" / "books"
    assert s.profile.required_bisac[0] == "FICTION / Literary"
    assert s.state_dir == tmp_path / "conf" / "data" / "state"


def test_watch_folders_from_the_environment_are_separated_by_colons(tmp_path):
    s = settings(tmp_path, env={"SIDECAR_WATCH": "a:b"})
    assert [f.path for f in s.folders] == [tmp_path / "a", tmp_path / "b"]


def test_config_yaml_in_the_current_folder_is_the_default(tmp_path):
    (tmp_path / "config.yaml").write_text("watch: [here]\n")
    assert load_settings(FLAGS, {}).folders[0].path == tmp_path / "here"


@pytest.mark.parametrize(("text", "message"), [
    ("watch: [a]\nwatchh: [b]\n", "unknown key 'watchh' in {f} (allowed here: watch, imprint, checkpoint_dir, "
                                  "state_dir, pipeline_configs, publisher, lsi_config, tranche, acs_codes, log_level, log_format, poll_seconds, "
                                  "rescan_seconds, metrics_file, exports, log_file, files, books, batches, checkpoint, lsi)"),
    ("watch: [a]\nbooks: {strickt: true}\n", "unknown key 'books.strickt' in {f} (allowed here: ignore, "
                                             "max_bytes, strict, on_rewrite)"),
    ("watch: a\n", "'watch' in {f} must be a list, not 'a'"),
    ("watch: [a]\nbooks: {max_bytes: big}\n", "'books.max_bytes' in {f} must be a whole number, not 'big'"),
    ("watch: [a]\nbooks: {strict: 1}\n", "'books.strict' in {f} must be true or false, not 1"),
    ("watch: [a]\nbooks: {on_rewrite: merge}\n", "'books.on_rewrite' in {f} must be one of replace, append, "
                                                 "ignore, not 'merge'"),
    ("watch: [a]\nbooks: 3\n", "'books' in {f} must be a mapping"),
    ("- a\n", "{f} must be a mapping of settings"),
    ("watch: [a\n", None),
    ("watch: [a]\nlsi: {file_names: {spine: x}}\n", "unknown key 'lsi.file_names.spine' in {f} (allowed: "
                                                    "interior, cover, jacket, marketing_image)"),
    ("watch: [a]\nlsi: {exchange_rates: {JP: 150}}\n", "lsi.exchange_rates in {f}: 'JP' is not UK, EU, AU or CA"),
    ("checkpoint_dir: d\n", "nothing to watch: give --watch DIR, SIDECAR_WATCH, or 'watch:' in the config file"),
    ("watch: [a]\ncheckpoint_dir: a/data\n", "checkpoint_dir {d}/a/data is inside the watched folder {d}/a; "
                                             "the sidecar writes nothing into a watched folder"),
])
def test_a_bad_setting_is_an_error_naming_the_key_and_the_file(tmp_path, text, message):
    with pytest.raises(ConfigError) as raised:
        settings(tmp_path, text)
    f = tmp_path / "conf" / "sidecar.yaml"
    if message is None:
        assert str(raised.value).startswith(f"{f} is not valid YAML: ")
    else:
        assert str(raised.value) == message.format(f=f, d=tmp_path / "conf")


def test_a_configuration_error_exits_2_with_one_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("watch: [a]\nlog_level: LOUD\n")
    assert cli.main(["--config", str(config), "--once"]) == EXIT_USAGE
    assert capsys.readouterr().err == ("sidecar: log level 'LOUD' is not one of TRACE, DEBUG, INFO, SUCCESS, "
                                       "WARNING, ERROR, CRITICAL\n")


def test_a_missing_config_file_exits_2(tmp_path, capsys):
    assert cli.main(["--config", str(tmp_path / "nope.yaml"), "--once"]) == EXIT_USAGE
    assert capsys.readouterr().err == f"sidecar: config file {tmp_path / 'nope.yaml'} does not exist\n"


def test_an_unreadable_pipeline_config_exits_2(tmp_path, capsys):
    bad = tmp_path / "tranche.json"
    bad.write_text("{not json")
    assert cli.main(["--once", "--watch", "x", "--tranche", str(bad)]) == EXIT_USAGE
    assert capsys.readouterr().err == (f"sidecar: the pipeline's config file {bad} cannot be used: it is not valid "
                                       "JSON (Expecting property name enclosed in double quotes at line 1 column 2)\n")


def test_an_unknown_flag_is_a_usage_error():
    with pytest.raises(SystemExit) as raised:
        cli.main(["--frobnicate"])
    assert raised.value.code == EXIT_USAGE


@pytest.mark.parametrize(("folder", "imprint"), [
    ("output/xynapse_traces_build/processed_json", "xynapse_traces"),
    ("output/nimble_ultra_build", "nimble_ultra"),
    ("books/my press", "my_press"),
])
def test_the_imprint_is_derived_from_the_folder(folder, imprint):
    assert derive_imprint(Path(folder)) == imprint


def test_the_tranche_layers_over_the_pipeline_config(shared, tmp_path):
    configs = shared / "pipeline-configs"
    s = settings(tmp_path, "watch: [a]\n", lsi_config=str(configs / "default_lsi_config.json"),
                 tranche=str(configs / "tranches" / "xynapse_tranche_1.json"))
    defaults = s.profile.defaults
    assert defaults["Rendition /Booktype"] == "POD: 6 x 9 in or 229 x 152 mm Perfect Bound WHITE"  # tranche
    assert defaults["Lightning Source Account #"] == "6024045"  # pipeline config
    assert defaults["Carton Pack Quantity"] == "1"  # the tranche's "" does not blank the config's value
    assert defaults["EU Wholesale Discount % (Mode 2)"] == "40"  # tranche 40 over territorial 35
    assert defaults["Contributor One Location Type Code"] == "04"  # tranche field_overrides
    assert "Pages" not in defaults and "Pub Date" not in defaults  # the config's canned 200 / 2025-07-18
    assert s.profile.blank.keys() >= {"Metadata Contact Dictionary", "Parent ISBN",
                                      "SIBI - EDUC - US * Suggested List Price (mode 2)"}
    tranche = (configs / "tranches" / "xynapse_tranche_1.json").resolve()  # as the settings resolve it
    assert s.profile.blank["Parent ISBN"] == f"'field_exclusions' in {tranche}"
    assert s.profile.required_bisac[0] == "SELF-HELP / Journaling"
    assert list(s.profile.append) == ["Annotation / Summary"]
