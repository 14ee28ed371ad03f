"""Parity with backtesting.py: its classic SmaCross with its defaults and our sma_cross
with --fill next-open --sizing all-in --commission 0 make the same trades on the same
CSV, and end with the same equity."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from ibtrader.backtest.csv_bars import load_csv
from ibtrader.backtest.runner import BacktestConfig, BacktestRunner
from ibtrader.backtest.synthetic import random_walk, write_csv
from ibtrader.core.strategies import load_strategy

backtesting = pytest.importorskip("backtesting")
from backtesting.lib import crossover  # noqa: E402


def sma(values: object, n: int) -> pd.Series:
    return pd.Series(values).rolling(n).mean()


class SmaCross(backtesting.Strategy):
    """backtesting.py's README example: on a golden cross close and buy, on a death
    cross close and sell."""

    n1 = 10
    n2 = 20

    def init(self) -> None:
        self.sma1 = self.I(sma, self.data.Close, self.n1)
        self.sma2 = self.I(sma, self.data.Close, self.n2)

    def next(self) -> None:
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


def theirs(csv: Path) -> tuple[list[tuple], float]:
    data = pd.read_csv(csv, index_col=0, parse_dates=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open": ours say so too
        stats = backtesting.Backtest(data, SmaCross).run()
    t = stats["_trades"]
    trades = list(zip(t["EntryBar"], t["ExitBar"], t["Size"].abs().astype(float),
                      t["EntryPrice"], t["ExitPrice"], strict=True))
    return trades, float(stats["Equity Final [$]"])


def ours(csv: Path) -> tuple[list[tuple], float]:
    config = BacktestConfig(fill="next-open", sizing="all-in", cash=10_000.0)
    output = BacktestRunner(load_strategy("sma_cross", fast=10, slow=20), load_csv(csv),
                            config).run()
    trades = [(t.entry_bar, t.exit_bar, t.size, t.entry_price, t.exit_price)
              for t in output.trades]
    return trades, float(output.equity[-1])


@pytest.mark.parametrize("seed,trend,volatility", [
    (1, 0.0, 0.01),      # ranging
    (2, 0.0008, 0.01),   # trending up
    (3, -0.0006, 0.012),  # trending down
    (4, 0.0, 0.004),     # quiet range
    (5, 0.0003, 0.02),   # wild
])
def test_sma_cross_trades_like_backtesting_py(tmp_path: Path, seed: int, trend: float,
                                              volatility: float) -> None:
    csv = write_csv(random_walk(3000, seed, trend, volatility), tmp_path / "bars.csv")
    their_trades, their_equity = theirs(csv)
    our_trades, our_equity = ours(csv)
    assert len(their_trades) > 40
    assert [t[:3] for t in our_trades] == [t[:3] for t in their_trades]  # bars and sizes
    assert [t[3:] for t in our_trades] == [t[3:] for t in their_trades]  # prices, exactly
    assert our_equity == pytest.approx(their_equity, rel=1e-4)
