from __future__ import annotations

import argparse
import json
import os

import pytest

from ibtrader.cli import main
from ibtrader.commands.config import load_settings_or_exit

SECRET = "s3cr3t-value"


@pytest.fixture(autouse=True)
def clean_environment(tmp_path, monkeypatch):
    """Only the variables a test sets, and a data dir inside tmp_path."""
    for name in [n for n in os.environ if n.startswith("IBTRADER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("IBTRADER_DATA_DIR", str(tmp_path / "data"))


def lines_of(text: str) -> dict[str, str]:
    pairs = (line.split(" = ", 1) if " = " in line else (line.rstrip(" ="), "")
             for line in text.splitlines())
    return {key.strip(): value for key, value in pairs}


def test_config_prints_aligned_settings_with_secrets_masked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IBTRADER_WEB_SECRET_KEY", SECRET)
    monkeypatch.setenv("IBTRADER_IB_PORT", "7497")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out
    values = lines_of(out)
    assert values["web_secret_key"] == "********"
    assert values["ib_port"] == "7497"
    assert values["data_dir"] == str(tmp_path / "data")
    assert values["ib_account"] == ""
    assert len({line.index("=") for line in out.splitlines()}) == 1  # one column


def test_config_json_reads_the_config_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IBTRADER_WEB_SECRET_KEY", SECRET)
    config = tmp_path / "config.toml"
    config.write_text("[web]\nport = 9000\n", encoding="utf-8")
    assert main(["--config", str(config), "config", "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["web_port"] == 9000 and data["web_secret_key"] == "********"
    assert data["watchlist"][0] == "AAPL" and data["ib_readonly"] is False
    assert SECRET not in out


def test_config_exits_2_naming_each_bad_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IBTRADER_IB_PORT", "abc")
    config = tmp_path / "config.toml"
    config.write_text("[ib]\nprot = 1\n", encoding="utf-8")
    assert main(["--config", str(config), "config"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert 'IBTRADER_IB_PORT="abc": must be a whole number from 1 to 65535' in captured.err
    assert '[ib] prot: unknown setting; did you mean "port"?' in captured.err


def test_load_settings_or_exit_raises_system_exit_2(monkeypatch, capsys):
    monkeypatch.setenv("IBTRADER_LOG_LEVEL", "loud")
    with pytest.raises(SystemExit) as caught:
        load_settings_or_exit(argparse.Namespace(config=None))
    assert caught.value.code == 2
    assert "IBTRADER_LOG_LEVEL" in capsys.readouterr().err


def test_load_settings_or_exit_returns_settings(tmp_path):
    settings = load_settings_or_exit(argparse.Namespace(config=None))
    assert settings.data_dir == tmp_path / "data"
