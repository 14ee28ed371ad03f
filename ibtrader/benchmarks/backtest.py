"""`ibtrader bench backtest`: our backtest against backtesting.py on the same data and the
same strategy (SMA 10/20 crossover, next-open fills, all-in, no commission).

1. In one process over `bars` bars: backtesting.py's `Backtest.run` against our runner
   (indicators, loop and results included on both sides); the trades must be identical.
2. Whole commands over `command_bars` hourly bars in a CSV: `ibtrader backtest --csv F
   --json` in a subprocess against a subprocess running backtesting.py on the same file
   (process start, imports, CSV load, run, JSON out).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

FAST, SLOW = 10, 20

# The classic SmaCross of backtesting.py's README, with its defaults; run as a script.
REFERENCE_SCRIPT = """
import json, sys, warnings
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

def SMA(values, n):
    return pd.Series(values).rolling(n).mean()

class SmaCross(Strategy):
    n1, n2 = {fast}, {slow}
    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, self.n1)
        self.sma2 = self.I(SMA, self.data.Close, self.n2)
    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()

warnings.simplefilter("ignore")
data = pd.read_csv(sys.argv[1], index_col=0, parse_dates=True)
stats = Backtest(data, SmaCross).run()
print(json.dumps({{"final_equity": float(stats["Equity Final [$]"]),
                  "trades": int(stats["# Trades"])}}))
"""


@dataclass
class BacktestBench:
    bars: int
    trades: int
    same_trades: bool
    backtesting_py_s: float
    ours_s: float
    loop_ratio: float
    command_bars: int
    backtesting_py_command_s: float
    ours_command_s: float
    command_ratio: float
    command_same_result: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def lines(self) -> list[str]:
        per = 1e6 / self.bars
        return [
            f"in one process, {self.bars:,} bars, SMA({FAST})/SMA({SLOW}) cross, "
            f"{self.trades:,} trades, identical: {'yes' if self.same_trades else 'NO'}",
            f"  backtesting.py Backtest.run  {self.backtesting_py_s * 1e3:9.1f} ms "
            f"({self.backtesting_py_s * per:.2f} us/bar)",
            f"  ibtrader runner              {self.ours_s * 1e3:9.1f} ms "
            f"({self.ours_s * per:.2f} us/bar)",
            f"  ratio                        {self.loop_ratio:9.1f}x  (goal >= 15x)",
            f"whole command, {self.command_bars:,} hourly bars from CSV "
            f"(same result: {'yes' if self.command_same_result else 'NO'})",
            f"  python + backtesting.py      {self.backtesting_py_command_s:9.2f} s",
            f"  ibtrader backtest --json     {self.ours_command_s:9.2f} s",
            f"  ratio                        {self.command_ratio:9.1f}x  (goal >= 3x)",
        ]


def run_backtest_bench(bars: int = 100_000, command_bars: int = 300_000, seed: int = 7,
                       repeat: int = 3) -> BacktestBench:
    from ibtrader.backtest.synthetic import random_walk, write_csv

    series = random_walk(bars, seed)
    theirs_s, theirs = _best(lambda: _backtesting_py(series), repeat)
    ours_s, ours = _best(lambda: _ours(series), repeat)
    with tempfile.TemporaryDirectory() as folder:
        csv = write_csv(random_walk(command_bars, seed + 1), Path(folder) / "bars.csv")
        their_cmd_s, their_out = _best(lambda: _reference_command(csv), repeat)
        our_cmd_s, our_out = _best(lambda: _our_command(csv, folder), repeat)
    same_cmd = (their_out["trades"] == len(our_out["trades"])
                and abs(their_out["final_equity"] / our_out["final_equity"] - 1) < 1e-4)
    return BacktestBench(bars, len(ours), ours == theirs, theirs_s, ours_s, theirs_s / ours_s,
                         command_bars, their_cmd_s, our_cmd_s, their_cmd_s / our_cmd_s,
                         same_cmd)


def _best(work, repeat: int):  # type: ignore[no-untyped-def]
    """The fastest of `repeat` runs (the least disturbed by the machine) and its result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def _backtesting_py(series) -> list[tuple[int, int, int, float, float]]:  # type: ignore[no-untyped-def]
    import pandas as pd
    from backtesting import Backtest

    namespace: dict[str, object] = {}
    exec(REFERENCE_SCRIPT.split("warnings.simplefilter")[0].format(fast=FAST, slow=SLOW),
         namespace)
    frame = pd.DataFrame({"Open": series.open, "High": series.high, "Low": series.low,
                          "Close": series.close, "Volume": series.volume},
                         index=pd.to_datetime(series.time, unit="s"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(frame, namespace["SmaCross"]).run()
    t = stats["_trades"]
    return list(zip(t["EntryBar"].tolist(), t["ExitBar"].tolist(), t["Size"].abs().tolist(),
                    t["EntryPrice"].tolist(), t["ExitPrice"].tolist(), strict=True))


def _ours(series) -> list[tuple[int, int, int, float, float]]:  # type: ignore[no-untyped-def]
    from ibtrader.backtest.runner import BacktestConfig, BacktestRunner
    from ibtrader.core.strategies import load_strategy

    strategy = load_strategy("sma_cross", fast=FAST, slow=SLOW)
    output = BacktestRunner(strategy, series, BacktestConfig(sizing="all-in")).run()
    return [(t.entry_bar, t.exit_bar, int(t.size), t.entry_price, t.exit_price)
            for t in output.trades]


def _reference_command(csv: Path) -> dict:  # type: ignore[type-arg]
    code = REFERENCE_SCRIPT.format(fast=FAST, slow=SLOW)
    done = subprocess.run([sys.executable, "-c", code, str(csv)], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def _our_command(csv: Path, folder: str) -> dict:  # type: ignore[type-arg]
    command = [sys.executable, "-m", "ibtrader", "backtest", "--strategy", "sma_cross",
               "--param", f"fast={FAST}", "--param", f"slow={SLOW}", "--csv", str(csv),
               "--fill", "next-open", "--sizing", "all-in", "--commission", "0", "--json"]
    env = {**_environ(), "IBTRADER_DATA_DIR": folder}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout)


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
