"""`ibtrader backtest` end to end, in a subprocess as a trader runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ibtrader.backtest.synthetic import random_walk, write_csv

TRADE_KEYS = {"entry_time", "exit_time", "side", "size", "entry_price", "exit_price", "pnl",
              "commission"}


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bt")
    return write_csv(random_walk(2000, 5, 0.0003), folder / "SYN.csv")


def backtest(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IBTRADER_DATA_DIR": str(data_dir)}
    env.pop("IBTRADER_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "ibtrader", "backtest", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_json_has_the_results_and_the_chart_is_stored(csv: Path, tmp_path: Path) -> None:
    done = backtest(["--strategy", "sma_cross", "--param", "fast=5", "--param", "slow=30",
                     "--csv", str(csv), "--sizing", "all-in", "--commission", "0.1%",
                     "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("final_equity", "total_return_pct", "cagr_pct", "max_drawdown_pct", "sharpe",
                "win_rate_pct", "number_of_trades", "exposure_pct", "trades", "chart"):
        assert key in result
    assert result["settings"]["params"] == {"fast": 5, "slow": 30, "kind": "sma"}
    assert result["number_of_trades"] == len(result["trades"]) > 10
    assert set(result["trades"][0]) >= TRADE_KEYS
    assert all(t["commission"] > 0 for t in result["trades"])
    chart = Path(result["chart"])
    assert chart.is_file() and chart.stat().st_size > 10_000
    assert chart.is_relative_to(tmp_path / "objects" / "charts")


def test_text_output_has_a_summary_and_a_trades_table(csv: Path, tmp_path: Path) -> None:
    done = backtest(["--strategy", "rsi_reversion", "--csv", str(csv), "--from",
                     "2020-01-20", "--to", "2020-03-01", "--no-chart"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "final equity" in done.stdout and "max drawdown" in done.stdout
    assert "entry time" in done.stdout
    assert "2020-01-20" in done.stdout.splitlines()[0]
    assert done.stderr == ""


def test_the_command_does_not_import_qt(csv: Path, tmp_path: Path) -> None:
    code = ("import sys; from ibtrader.cli import main; "
            f"rc = main(['backtest', '--strategy', 'sma_cross', '--csv', {str(csv)!r}, "
            "'--json']); "
            "print('QT', sorted(m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'pyqtgraph', 'qasync', 'matplotlib', 'ib_async')), file=sys.stderr)")
    env = {**os.environ, "IBTRADER_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "QT []" in done.stderr


@pytest.mark.parametrize("args,message", [
    (["--strategy", "nope"], "unknown strategy 'nope'"),
    (["--strategy", "sma_cross", "--param", "fast=abc"], "fast must be an integer"),
    (["--strategy", "sma_cross", "--param", "fast"], "write it as name=value"),
    (["--strategy", "sma_cross", "--from", "2030-01-01"], "no bars in the range"),
    (["--strategy", "sma_cross", "--commission", "lots"], "--commission 'lots'"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(csv: Path, tmp_path: Path,
                                                     args: list[str], message: str) -> None:
    done = backtest([*args, "--csv", str(csv)], tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def test_a_bad_csv_names_the_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n2024-01-03,1,x,0.5,1\n")
    done = backtest(["--strategy", "sma_cross", "--csv", str(bad)], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("ibtrader backtest: line 3, column 'High': 'x' is not a "
                                   "number")


def test_symbol_history_comes_from_the_simulator(tmp_path: Path) -> None:
    args = ["--strategy", "sma_cross", "--symbol", "AAPL", "--bar-size", "1 hour",
            "--from", "2025-01-06", "--to", "2025-02-06", "--json", "--no-chart"]
    first, again = backtest(args, tmp_path), backtest(args, tmp_path)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["symbol"] == "AAPL" and result["bars"] > 100
    assert result["start"].startswith("2025-01-06")
    assert first.stdout == again.stdout  # the simulator's seed makes it reproducible
    unknown = backtest(["--strategy", "sma_cross", "--symbol", "NOPE"], tmp_path)
    assert unknown.returncode == 2 and "no symbol 'NOPE'" in unknown.stderr
