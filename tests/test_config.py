from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from ibtrader.config import (
    DEFAULT_WATCHLIST,
    MASK,
    ConfigError,
    ConfigErrors,
    Settings,
    default_data_dir,
    ensure_dirs,
    load_settings,
)


@pytest.fixture(autouse=True)
def user_dirs(tmp_path, monkeypatch):
    """platformdirs honours XDG on Linux: keep the default data dir inside tmp_path (nothing
    here creates it anyway, apart from ensure_dirs on an explicit folder)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def write_toml(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(config_file: Path | None = None, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_settings(config_file, env or {})
    return [str(e) for e in caught.value.errors]


def test_defaults(tmp_path):
    s = load_settings(env={})
    assert s.data_dir == default_data_dir() == Path(platformdirs.user_data_dir("ibtrader"))
    assert s.log_dir == s.data_dir / "logs"
    assert s.sim_state_file == s.data_dir / "sim" / "gateway.sqlite"
    assert (s.log_level, s.log_format, s.broker) == ("INFO", "text", "sim")
    assert (s.ib_host, s.ib_port, s.ib_client_id, s.ib_account) == ("127.0.0.1", 4002, 1, "")
    assert s.ib_connect_timeout == 10.0 and s.ib_readonly is False
    assert (s.sim_seed, s.sim_port, s.sim_around_the_clock) == (42, 0, True)
    assert (s.web_host, s.web_port, s.web_secret_key) == ("127.0.0.1", 8050, "")
    assert s.watchlist == DEFAULT_WATCHLIST and 6 <= len(s.watchlist) <= 10


def test_environment_variables_set_each_field(tmp_path):
    env = {"IBTRADER_DATA_DIR": str(tmp_path / "d"), "IBTRADER_IB_PORT": "7497",
           "IBTRADER_IB_CLIENT_ID": "0", "IBTRADER_IB_CONNECT_TIMEOUT": "2.5",
           "IBTRADER_IB_READONLY": "yes", "IBTRADER_SIM_AROUND_THE_CLOCK": "off",
           "IBTRADER_LOG_LEVEL": "debug", "IBTRADER_WATCHLIST": " aapl, es ,,EUR.USD"}
    s = load_settings(env=env)
    assert s.data_dir == tmp_path / "d"
    assert s.log_dir == tmp_path / "d" / "logs"  # derived defaults follow data_dir
    assert (s.ib_port, s.ib_client_id, s.ib_connect_timeout) == (7497, 0, 2.5)
    assert s.ib_readonly is True and s.sim_around_the_clock is False
    assert s.log_level == "DEBUG"
    assert s.watchlist == ("AAPL", "ES", "EUR.USD")


def test_environment_beats_toml_beats_defaults(tmp_path):
    config = write_toml(tmp_path, "ib_port = 4001\nweb_port = 9000\n")
    s = load_settings(config, {"IBTRADER_IB_PORT": "7496"})
    assert s.ib_port == 7496  # env over file
    assert s.web_port == 9000  # file over default
    assert s.sim_seed == 42  # default


def test_toml_tables_map_to_prefixed_fields(tmp_path):
    config = write_toml(tmp_path, """
        broker = "ib"
        [ib]
        host = "10.0.0.5"
        port = 4001
        readonly = true
        [web]
        port = 8080
        [sim]
        around_the_clock = false
    """)
    s = load_settings(config, {})
    assert (s.broker, s.ib_host, s.ib_port, s.ib_readonly) == ("ib", "10.0.0.5", 4001, True)
    assert s.web_port == 8080 and s.sim_around_the_clock is False


def test_relative_paths_in_toml_resolve_against_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    config = write_toml(folder, 'data_dir = "data"\n[sim]\nstate_file = "../state/gw.sqlite"\n')
    monkeypatch.chdir(tmp_path)
    s = load_settings(config, {})
    assert s.data_dir == folder / "data"
    assert s.sim_state_file == folder / "../state/gw.sqlite"
    assert s.log_dir == folder / "data" / "logs"


def test_relative_paths_in_environment_resolve_against_working_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={"IBTRADER_DATA_DIR": "here"}).data_dir == tmp_path / "here"


def test_config_file_named_by_environment(tmp_path):
    config = write_toml(tmp_path, "[web]\nport = 9001\n")
    assert load_settings(env={"IBTRADER_CONFIG": str(config)}).web_port == 9001


def test_broker_defaults_to_ib_when_an_ib_host_is_given(tmp_path):
    # Even the default address: naming a host at all means "use IB".
    assert load_settings(env={"IBTRADER_IB_HOST": "127.0.0.1"}).broker == "ib"
    assert load_settings(write_toml(tmp_path, '[ib]\nhost = "gw"\n'), {}).broker == "ib"
    assert load_settings(env={"IBTRADER_IB_HOST": "gw", "IBTRADER_BROKER": "sim"}).broker == "sim"
    assert load_settings(env={"IBTRADER_IB_PORT": "4001"}).broker == "sim"


def test_empty_environment_variable_counts_as_unset():
    assert load_settings(env={"IBTRADER_IB_PORT": "", "IBTRADER_IB_HOST": ""}).broker == "sim"


@pytest.mark.parametrize(("var", "value", "allowed"), [
    ("IBTRADER_IB_PORT", "abc", "a whole number from 1 to 65535"),
    ("IBTRADER_IB_PORT", "0", "a whole number from 1 to 65535"),
    ("IBTRADER_IB_PORT", "70000", "a whole number from 1 to 65535"),
    ("IBTRADER_WEB_PORT", "4.5", "a whole number from 1 to 65535"),
    ("IBTRADER_SIM_PORT", "-1", "a whole number from 0 to 65535"),
    ("IBTRADER_IB_CLIENT_ID", "-3", "a whole number from 0 to 2147483647"),
    ("IBTRADER_IB_CONNECT_TIMEOUT", "0", "a number from 0.1 to 600"),
    ("IBTRADER_IB_CONNECT_TIMEOUT", "nan", "a number from 0.1 to 600"),
    ("IBTRADER_LOG_LEVEL", "loud", "one of DEBUG, INFO, WARNING, ERROR"),
    ("IBTRADER_LOG_FORMAT", "xml", "one of text, json"),
    ("IBTRADER_BROKER", "paper", "one of sim, ib"),
    ("IBTRADER_IB_READONLY", "maybe", "true or false (also 1/0, yes/no, on/off)"),
    ("IBTRADER_IB_HOST", "http://gw", "a host name or IP address"),
    ("IBTRADER_IB_HOST", "gw:4002", "no scheme, path or port"),
    ("IBTRADER_IB_ACCOUNT", "DU-1", "an IB account code"),
    ("IBTRADER_WATCHLIST", "AAPL,$$$", "'$$$' is not a symbol"),
])
def test_bad_environment_value_names_the_variable_and_what_is_allowed(var, value, allowed):
    (error,) = errors_of(env={var: value})
    assert error.startswith(f'{var}="{value}": ')
    assert allowed in error


def test_error_message_format_and_key():
    with pytest.raises(ConfigErrors) as caught:
        load_settings(env={"IBTRADER_IB_PORT": "abc"})
    (error,) = caught.value.errors
    assert isinstance(error, ConfigError)
    assert error.key == "ib_port"
    assert str(error) == 'IBTRADER_IB_PORT="abc": must be a whole number from 1 to 65535'


@pytest.mark.parametrize(("toml", "expected"), [
    ("[ib]\nport = 0\n", "config.toml [ib] port = 0: must be a whole number from 1 to 65535"),
    ("ib_port = \"4002\"\n", None),  # a number written as text is still a number
    ("ib_port = 4002.0\n", "config.toml ib_port = 4002.0: must be a whole number"),
    ("[ib]\nreadonly = \"perhaps\"\n", 'config.toml [ib] readonly = "perhaps": must be true'),
    ("[ib]\nhost = 17\n", "config.toml [ib] host = 17: must be text"),
    ("watchlist = [\"AAPL\", 3]\n", 'config.toml watchlist = ["AAPL", 3]: must be a list'),
    ("[log]\nlevel = \"TRACE\"\n", 'config.toml [log] level = "TRACE": must be one of DEBUG'),
])
def test_bad_toml_value_names_file_table_and_key(tmp_path, monkeypatch, toml, expected):
    monkeypatch.chdir(tmp_path)
    write_toml(tmp_path, toml)
    if expected is None:
        load_settings(Path("config.toml"), {})
        return
    (error,) = errors_of(Path("config.toml"))
    assert error.startswith(expected)


def test_unknown_toml_keys_are_errors_with_a_suggestion(tmp_path):
    config = write_toml(tmp_path, 'ib_prot = 4001\n[ib]\nhots = "gw"\n[web]\ncolour = "red"\n')
    errors = errors_of(config)
    assert f'{config} ib_prot: unknown setting; did you mean "ib_port"?' in errors
    assert f'{config} [ib] hots: unknown setting; did you mean "host"?' in errors
    assert any(e.startswith(f"{config} [web] colour: unknown setting") for e in errors)
    assert len(errors) == 3


def test_several_errors_are_reported_together(tmp_path):
    config = write_toml(tmp_path, "[web]\nport = 0\n")
    errors = errors_of(config, {"IBTRADER_IB_PORT": "x", "IBTRADER_LOG_LEVEL": "loud"})
    assert len(errors) == 3
    assert any("IBTRADER_IB_PORT" in e for e in errors)
    assert any("IBTRADER_LOG_LEVEL" in e for e in errors)
    assert any("[web] port = 0" in e for e in errors)


def test_a_bad_file_value_is_reported_even_when_the_environment_overrides_it(tmp_path):
    config = write_toml(tmp_path, "[ib]\nport = 0\n")
    (error,) = errors_of(config, {"IBTRADER_IB_PORT": "4001"})
    assert "[ib] port = 0" in error


def test_missing_and_malformed_config_files(tmp_path):
    assert errors_of(tmp_path / "nope.toml") == [f"{tmp_path / 'nope.toml'}: no such file"]
    assert errors_of(env={"IBTRADER_CONFIG": "nope.toml"}) == [
        'IBTRADER_CONFIG="nope.toml": no such file']
    (error,) = errors_of(write_toml(tmp_path, "ib_port = = 1\n"))
    assert "is not valid TOML" in error and "line 1" in error


def test_secrets_come_only_from_the_environment(tmp_path):
    config = write_toml(tmp_path, '[web]\nsecret_key = "hunter2-in-a-file"\n')
    (error,) = errors_of(config)
    assert "IBTRADER_WEB_SECRET_KEY" in error
    assert "hunter2" not in error
    assert load_settings(env={"IBTRADER_WEB_SECRET_KEY": "s3cr3t"}).web_secret_key == "s3cr3t"


def test_masked_hides_secrets_and_shows_everything_else():
    s = load_settings(env={"IBTRADER_WEB_SECRET_KEY": "s3cr3t", "IBTRADER_IB_PORT": "4001"})
    masked = s.masked()
    assert masked["web_secret_key"] == MASK
    assert masked["ib_port"] == "4001"
    assert masked["ib_readonly"] == "false"
    assert masked["watchlist"] == ",".join(DEFAULT_WATCHLIST)
    assert set(masked) == set(s.to_dict())
    assert "s3cr3t" not in repr(s) and "s3cr3t" not in str(s.to_dict())
    assert load_settings(env={}).masked()["web_secret_key"] == ""


def test_masked_values_round_trip_through_the_environment():
    s = load_settings(env={"IBTRADER_IB_READONLY": "1", "IBTRADER_WATCHLIST": "es,nq"})
    env = {f"IBTRADER_{k.upper()}": v for k, v in s.masked().items()}
    assert load_settings(env=env) == s


def test_settings_built_in_code_are_validated_and_normalised(tmp_path):
    s = Settings(data_dir=tmp_path, ib_port="4001", log_level="warning")
    assert (s.ib_port, s.log_level, s.log_dir) == (4001, "WARNING", tmp_path / "logs")
    with pytest.raises(ConfigErrors) as caught:
        Settings(data_dir=tmp_path, ib_port=0, web_secret_key=5)
    assert [e.key for e in caught.value.errors] == ["ib_port", "web_secret_key"]
    assert "Settings(ib_port=0): must be a whole number from 1 to 65535" in str(caught.value)


def test_settings_are_frozen(tmp_path):
    with pytest.raises(AttributeError):
        Settings(data_dir=tmp_path).ib_port = 1  # type: ignore[misc]


def test_ensure_dirs_creates_data_and_log_folders(tmp_path):
    s = load_settings(env={"IBTRADER_DATA_DIR": str(tmp_path / "a" / "b")})
    ensure_dirs(s)
    assert s.data_dir.is_dir() and s.log_dir.is_dir()
