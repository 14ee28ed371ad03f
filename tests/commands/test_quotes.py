"""`ibtrader quotes` end to end: the CLI starts the simulator in-process and streams."""

from __future__ import annotations

import io
import math
import os
import re

import pytest

from ibtrader.cli import main
from ibtrader.commands.quote_table import QuoteTable
from ibtrader.core.market import Instrument, Quote


@pytest.fixture(autouse=True)
def clean_environment(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("IBTRADER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("IBTRADER_DATA_DIR", str(tmp_path / "data"))


def test_quotes_prints_a_row_of_numbers_for_each_symbol(capsys) -> None:
    assert main(["quotes", "AAPL", "EURUSD", "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    number = r"[\d,]+\.\d+"
    assert re.search(rf"^AAPL\s+{number}\s+{number}\s+{number}\s+[\d,]+\s+\d\d:\d\d:\d\d",
                     out, re.MULTILINE)
    assert re.search(r"^EURUSD\s+\d\.\d{5}\s", out, re.MULTILINE)


def test_unknown_symbols_are_reported_and_skipped(capsys) -> None:
    assert main(["quotes", "NOSUCH", "SPY", "--seconds", "1"]) == 0
    captured = capsys.readouterr()
    assert "NOSUCH" in captured.err and "200" in captured.err
    assert re.search(r"^SPY\s+[\d,]+\.\d\d", captured.out, re.MULTILINE)
    assert not re.search(r"^NOSUCH", captured.out, re.MULTILINE)


def test_no_valid_symbol_exits_non_zero(capsys) -> None:
    assert main(["quotes", "NOSUCH", "--seconds", "1"]) == 1
    assert "none of the symbols" in capsys.readouterr().err


def test_an_unreachable_ib_host_is_reported_clearly(capsys) -> None:
    assert main(["quotes", "AAPL", "--ib-host", "127.0.0.1", "--ib-port", "1"]) == 1
    assert "nothing accepts connections at 127.0.0.1:1" in capsys.readouterr().err


def test_a_bad_ib_host_names_the_setting(capsys) -> None:
    assert main(["quotes", "AAPL", "--ib-host", "localhost:4002"]) == 2
    assert "ib_host" in capsys.readouterr().err


def test_the_table_shows_dashes_until_data_and_prices_to_the_tick() -> None:
    eur = Instrument("EURUSD", "CASH", "IDEALPRO", "USD", con_id=1, min_tick=0.00005)
    es = Instrument("ESZ6", "FUT", "CME", "USD", con_id=2, min_tick=0.25)
    table = QuoteTable([eur, es])
    table.update([Quote("EURUSD", 1.1, 1.10005, math.nan, 1e6, 2e6, math.nan, math.nan,
                        1_700_000_000.0)])
    header, eur_row, es_row = table.lines()
    assert header.split() == ["SYMBOL", "BID", "ASK", "LAST", "VOLUME", "TIME"]
    assert eur_row.split()[:5] == ["EURUSD", "1.10000", "1.10005", "-", "-"]
    assert es_row.split() == ["ESZ6", "-", "-", "-", "-", "-"]


def test_on_a_terminal_the_table_is_repainted_in_place() -> None:
    from ibtrader.commands.quotes import _Painter

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    painter = _Painter(out)
    painter.paint(["a", "b"])
    painter.paint(["a", "c"])
    assert "\x1b[2F" in out.getvalue()  # back up two lines, then overwrite
