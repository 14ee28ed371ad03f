"""`ibtrader apikey` and `ibtrader web set-password`: the key shown once, exit statuses,
nothing secret on screen or on disk."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ibtrader.cli import main
from ibtrader.web.credentials import CredentialStore, store_path

PASSWORD = "correct horse battery"


def ibtrader(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IBTRADER_")}
    env["IBTRADER_DATA_DIR"] = str(data)
    return subprocess.run([sys.executable, "-m", "ibtrader", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    for name in [n for n in os.environ if n.startswith("IBTRADER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("IBTRADER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_create_list_revoke_round_trip_in_separate_processes(data):
    created = ibtrader(data, "apikey", "create", "grafana")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("ibt_") and "\n" not in key  # stdout is the key alone
    assert key not in created.stderr and "only time" in created.stderr
    assert CredentialStore(store_path(data)).verify_api_key(key).name == "grafana"

    listed = ibtrader(data, "apikey", "list")
    assert listed.returncode == 0
    header, row = listed.stdout.splitlines()
    assert header.split()[:2] == ["NAME", "ID"]
    key_id = key.split("_")[1]
    assert row.split()[:2] == ["grafana", key_id] and row.endswith("-")  # not revoked
    assert key.rsplit("_", 1)[1] not in listed.stdout

    revoked = ibtrader(data, "apikey", "revoke", key_id)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    [entry] = json.loads(ibtrader(data, "apikey", "list", "--json").stdout)
    assert entry["name"] == "grafana" and entry["id"] == key_id and entry["revoked"]
    assert entry["last_used"] is not None  # the verify above
    assert CredentialStore(store_path(data)).verify_api_key(key) is None

    # The key appears in no file of the data folder, only its hash.
    assert all(key.encode() not in p.read_bytes() for p in data.rglob("*") if p.is_file())
    if os.name == "posix":
        assert stat.S_IMODE(store_path(data).stat().st_mode) == 0o600


def test_duplicate_name_and_unknown_key_exit_2_with_a_message(data, capsys):
    assert main(["apikey", "create", "bot"]) == 0
    key = capsys.readouterr().out.strip()
    assert main(["apikey", "create", "bot"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "'bot' already exists" in err
    assert main(["apikey", "revoke", "ghost"]) == 2
    assert "no active API key has the name or id 'ghost'" in capsys.readouterr().err
    assert main(["apikey", "revoke", "bot"]) == 0
    assert main(["apikey", "revoke", key.split("_")[1]]) == 0
    assert "already revoked" in capsys.readouterr().out
    assert main(["apikey", "create", "bad name"]) == 2
    assert "not valid" in capsys.readouterr().err


def test_list_without_keys_says_how_to_make_one(data, capsys):
    assert main(["apikey", "list"]) == 0
    assert "apikey create" in capsys.readouterr().out


def test_set_password_from_stdin_in_a_process(data):
    done = ibtrader(data, "web", "set-password", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    store = CredentialStore(store_path(data))
    assert store.verify_password(PASSWORD) and not store.verify_password(PASSWORD + "\n")
    assert all(PASSWORD.encode() not in p.read_bytes() for p in data.rglob("*") if p.is_file())

    short = ibtrader(data, "web", "set-password", "--password-stdin", stdin="tooshort\n")
    assert short.returncode == 2 and "at least 10" in short.stderr
    empty = ibtrader(data, "web", "set-password", "--password-stdin")
    assert empty.returncode == 2 and "no password" in empty.stderr
    assert store.verify_password(PASSWORD)  # refusals leave the old password


def test_set_password_asks_twice_without_echo(data, monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD + "!", PASSWORD, PASSWORD])
    prompts: list[str] = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", getpass)
    assert main(["web", "set-password"]) == 2
    assert "differ" in capsys.readouterr().err
    store = CredentialStore(store_path(data))
    assert not store.has_password()
    assert main(["web", "set-password"]) == 0
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err and len(prompts) == 4
    assert store.verify_password(PASSWORD)
