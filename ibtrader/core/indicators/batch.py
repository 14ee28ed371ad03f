"""Indicators over a whole history frame, computed by `ta` (the reference the incremental
versions are tested against).

Conventions of the result:
- the caller's index is restored (ta gets a RangeIndex: with pandas 3 some ta
  indicators go wrong on other indexes, see STACK_NOTES);
- warm-up rows are NaN, including ATR's (ta writes 0.0 there) and for frames shorter
  than the warm-up (ta's ATR raises there);
- one output: a Series named after the indicator; several: a DataFrame whose columns are
  the fields of the incremental value (MACDValue, BollingerValue, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from ta.momentum import RSIIndicator, StochasticOscillator
from ta.trend import MACD, EMAIndicator, SMAIndicator
from ta.volatility import AverageTrueRange, BollingerBands
from ta.volume import OnBalanceVolumeIndicator, VolumeWeightedAveragePrice

from .frames import bar_times, require_columns
from .registry import indicator_info, make_indicator
from .volatility import supertrend_start, supertrend_step
from .volume import DAY_SECONDS

Params = dict[str, Any]
BatchResult = pd.Series | pd.DataFrame


def _sma(d: pd.DataFrame, p: Params) -> BatchResult:
    return SMAIndicator(d["close"], window=p["period"]).sma_indicator()


def _ema(d: pd.DataFrame, p: Params) -> BatchResult:
    return EMAIndicator(d["close"], window=p["period"]).ema_indicator()


def _rsi(d: pd.DataFrame, p: Params) -> BatchResult:
    return RSIIndicator(d["close"], window=p["period"]).rsi()


def _macd(d: pd.DataFrame, p: Params) -> BatchResult:
    m = MACD(d["close"], window_slow=p["slow"], window_fast=p["fast"], window_sign=p["signal"])
    return pd.DataFrame({"macd": m.macd(), "signal": m.macd_signal(), "hist": m.macd_diff()})


def _bbands(d: pd.DataFrame, p: Params) -> BatchResult:
    b = BollingerBands(d["close"], window=p["period"], window_dev=p["k"])
    return pd.DataFrame({
        "mid": b.bollinger_mavg(), "upper": b.bollinger_hband(), "lower": b.bollinger_lband(),
        "pct_b": b.bollinger_pband(), "width": b.bollinger_wband(),
    })


def ta_atr(d: pd.DataFrame, period: int) -> pd.Series:
    """ta's ATR with NaN (not 0.0) in the warm-up rows; all NaN when the frame is short."""
    if len(d) < period:
        return pd.Series(np.nan, index=d.index, name="atr")
    atr = AverageTrueRange(d["high"], d["low"], d["close"], window=period).average_true_range()
    atr.iloc[: period - 1] = np.nan
    return atr


def _atr(d: pd.DataFrame, p: Params) -> BatchResult:
    return ta_atr(d, p["period"])


def _stoch(d: pd.DataFrame, p: Params) -> BatchResult:
    s = StochasticOscillator(
        d["high"], d["low"], d["close"], window=p["period"], smooth_window=p["smooth"]
    )
    return pd.DataFrame({"k": s.stoch(), "d": s.stoch_signal()})


def _obv(d: pd.DataFrame, p: Params) -> BatchResult:
    return OnBalanceVolumeIndicator(d["close"], d["volume"]).on_balance_volume()


def _rolling_vwap(d: pd.DataFrame, p: Params) -> BatchResult:
    return VolumeWeightedAveragePrice(
        d["high"], d["low"], d["close"], d["volume"], window=p["window"]
    ).volume_weighted_average_price()


def _vwap(d: pd.DataFrame, p: Params) -> BatchResult:
    """Session-anchored VWAP (ta has none): cumulative sums restarted at each new
    session day, with the same operations as the incremental VWAP."""
    seconds = pd.Series(d["time"].to_numpy(), index=d.index)
    day = (seconds - p["session_start_hour"] * 3600.0) // DAY_SECONDS
    session = (day != day.shift()).cumsum()
    pv = (d["high"] + d["low"] + d["close"]) / 3.0 * d["volume"]
    cum_pv = pv.groupby(session).cumsum()
    cum_v = d["volume"].groupby(session).cumsum()
    return (cum_pv / cum_v).where(cum_v != 0)


def _supertrend(d: pd.DataFrame, p: Params) -> BatchResult:
    """SuperTrend on ta's ATR, with the rules of `volatility.supertrend_step`."""
    n, mult = p["atr_period"], p["multiplier"]
    atr = ta_atr(d, n).tolist()
    high, low, close = d["high"].tolist(), d["low"].tolist(), d["close"].tolist()
    out = np.full((len(d), 4), np.nan)
    if len(d) >= n:
        i = n - 1
        fu, fl, direction = supertrend_start(high[i], low[i], close[i], atr[i], mult)
        out[i] = (fl if direction > 0 else fu, direction, fu, fl)
        for i in range(n, len(d)):
            fu, fl, direction = supertrend_step(
                high[i], low[i], close[i], close[i - 1], atr[i], mult, fu, fl, direction
            )
            out[i] = (fl if direction > 0 else fu, direction, fu, fl)
    return pd.DataFrame(out, index=d.index, columns=["value", "direction", "upper", "lower"])


# name -> the computation proper, on a float frame with a RangeIndex (and a `time` column
# of epoch seconds for vwap) and checked parameters; compute_batch prepares both.
BATCH_FUNCTIONS: dict[str, Callable[[pd.DataFrame, Params], BatchResult]] = {
    "sma": _sma, "ema": _ema, "rsi": _rsi, "macd": _macd, "bbands": _bbands, "atr": _atr,
    "stoch": _stoch, "obv": _obv, "vwap": _vwap, "rolling_vwap": _rolling_vwap,
    "supertrend": _supertrend,
}


def compute_batch(name: str, frame: pd.DataFrame, **params: Any) -> BatchResult:
    """Indicator `name` over every row of `frame` (columns open/high/low/close/volume as
    needed, any index; session VWAP also needs times: a `time` column or a DatetimeIndex).

    Parameters are checked exactly as `make_indicator` checks them.
    """
    info = indicator_info(name)
    p = make_indicator(name, **params).params()
    require_columns(frame, info.inputs, name)
    columns = [c for c in info.inputs if c != "time"]
    data = frame[columns].astype(float).reset_index(drop=True)
    if "time" in info.inputs:
        times = bar_times(frame)
        if times is None:
            raise ValueError(
                f"{name}: needs bar times: give the frame a `time` column "
                "(epoch seconds or datetimes) or a DatetimeIndex"
            )
        data["time"] = times
    result = BATCH_FUNCTIONS[name](data, p)
    if isinstance(result, pd.Series):
        result = result.rename(name)
    result.index = frame.index
    return result
