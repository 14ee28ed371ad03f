"""Indicators by name, with typed parameter specs, for strategies, the GUI and configs.

    make_indicator("rsi", period=14)
    INDICATORS["macd"].params   -> (ParamSpec(name="fast", type=int, default=12, ...), ...)
    INDICATORS["macd"].outputs  -> ("macd", "signal", "hist")
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .averages import EMA, MACD, SMA, MACDValue
from .base import IndicatorBase, ParamSpec
from .oscillators import RSI, Stochastic, StochValue
from .volatility import ATR, BollingerBands, BollingerValue, SuperTrend, SuperTrendValue
from .volume import OBV, VWAP, RollingVWAP


@dataclass(frozen=True, slots=True)
class IndicatorInfo:
    """What a GUI or a strategy config needs to know to offer and build an indicator."""

    name: str  # registry key, e.g. "rsi"
    title: str  # for people, e.g. "Relative Strength Index"
    cls: type[IndicatorBase]
    params: tuple[ParamSpec, ...]
    outputs: tuple[str, ...]  # field names of the value; one name for a float value
    inputs: tuple[str, ...]  # bar fields it reads
    overlay: bool  # drawn on the price chart (True) or in a pane of its own (False)

    @property
    def defaults(self) -> dict[str, int | float]:
        return {p.name: p.default for p in self.params}


def _info(
    cls: type[IndicatorBase], title: str, outputs: tuple[str, ...], inputs: str, overlay: bool
) -> IndicatorInfo:
    return IndicatorInfo(cls.name, title, cls, cls.PARAMS, outputs, tuple(inputs.split()), overlay)


INDICATORS: MappingProxyType[str, IndicatorInfo] = MappingProxyType({
    i.name: i
    for i in (
        _info(SMA, "Simple Moving Average", ("sma",), "close", True),
        _info(EMA, "Exponential Moving Average", ("ema",), "close", True),
        _info(RSI, "Relative Strength Index (Wilder)", ("rsi",), "close", False),
        _info(MACD, "MACD", MACDValue._fields, "close", False),
        _info(BollingerBands, "Bollinger Bands", BollingerValue._fields, "close", True),
        _info(ATR, "Average True Range", ("atr",), "high low close", False),
        _info(Stochastic, "Stochastic Oscillator", StochValue._fields, "high low close", False),
        _info(VWAP, "VWAP (session)", ("vwap",), "high low close volume time", True),
        _info(RollingVWAP, "VWAP (rolling window)", ("rolling_vwap",),
              "high low close volume", True),
        _info(OBV, "On-Balance Volume", ("obv",), "close volume", False),
        _info(SuperTrend, "SuperTrend", SuperTrendValue._fields, "high low close", True),
    )
})


def indicator_info(name: str) -> IndicatorInfo:
    try:
        return INDICATORS[name]
    except KeyError:
        known = ", ".join(INDICATORS)
        raise ValueError(f"unknown indicator {name!r}; known: {known}") from None


def make_indicator(name: str, **params: Any) -> IndicatorBase:
    """A fresh incremental indicator; parameters are checked against the specs (unknown
    names, wrong types and values out of range raise ValueError saying which and why)."""
    info = indicator_info(name)
    allowed = {p.name for p in info.params}
    unknown = sorted(set(params) - allowed)
    if unknown:
        names = ", ".join(p.name for p in info.params) or "none"
        raise ValueError(f"{name}: unknown parameter(s) {', '.join(unknown)}; allowed: {names}")
    return info.cls(**params)
