"""The strategy interface: what a trader writes, in one file, and what the engines call.

    class MyStrategy(Strategy):
        name = "my_strategy"
        params = (Param("period", int, 20, low=2, high=500, help="look-back in bars"),)
        bar_size = "1 hour"

        def indicators(self):
            return {"rsi": make_indicator("rsi", period=self.p.period)}

        def on_bar(self, ctx):
            rsi, before = ctx.values["rsi"], ctx.prev["rsi"]
            if before is not None and before < 30 <= rsi:
                return [self.signal(ctx, "buy", "RSI back above 30", values={"rsi": rsi})]
            return NO_SIGNALS

The same class runs in a backtest and live: an engine builds the indicators once, feeds
them each bar, and calls `on_bar` with a `BarContext`. `on_bar` is the hot path of every
backtest (called once per bar), so the context is a handful of plain attributes, and a
strategy should return the shared empty `NO_SIGNALS` when it has nothing to say.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ibtrader.core.indicators import Indicator

SIDES = ("buy", "sell", "exit")
PARAM_TYPES: tuple[type, ...] = (int, float, str, bool)
NO_SIGNALS: tuple[Signal, ...] = ()


@dataclass(frozen=True, slots=True)
class Param:
    """One typed strategy parameter with its default and its allowed values: a range
    [low, high] for numbers (either end may be open), or `choices`."""

    name: str
    type: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    help: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.startswith("_") or self.name == "as_dict":
            raise ValueError(f"param {self.name!r}: a name must be an identifier, not "
                             f"starting with _ (nor as_dict)")
        if self.type not in PARAM_TYPES:
            raise TypeError(f"param {self.name}: type must be int, float, str or bool, "
                            f"not {self.type!r}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"param {self.name}: low {self.low!r} is above high {self.high!r}")
        if (self.low is not None or self.high is not None) and self.type not in (int, float):
            raise ValueError(f"param {self.name}: bounds need an int or float param")
        for choice in self.choices:
            if type(choice) is not self.type and not (self.type is float
                                                      and type(choice) is int):
                raise ValueError(f"param {self.name}: choice {choice!r} is not a "
                                 f"{self.type.__name__}")
        # a default outside its own bounds is a bug in the strategy, caught at import
        try:
            default = self.check(self.default)
        except ValueError:
            raise ValueError(f"param {self.name}: the default {self.default!r} is not "
                             f"{self.allowed()}") from None
        object.__setattr__(self, "default", default)  # e.g. 2 -> 2.0 for a float param

    def allowed(self) -> str:
        """The allowed values, in words, for error messages and help texts."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.type is bool:
            return "true or false"
        kind = {int: "an integer", float: "a number", str: "text"}[self.type]
        if self.low is None and self.high is None:
            return kind
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{kind} in [{low}, {high}]"

    def check(self, value: Any, owner: str = "") -> Any:
        """`value` converted to the param's type (text such as "10" or "true" from a
        command line is parsed), or a ValueError naming the param and what is allowed."""
        try:
            converted = _convert(self.type, value)
        except ValueError:
            converted = None
        if self.choices and isinstance(converted, str):
            # "EMA" from a command line means "ema": match choices regardless of case
            folded = converted.strip().casefold()
            converted = next((c for c in self.choices if c.casefold() == folded), converted)
        if converted is None or not self._within(converted):
            where = f"{owner}: " if owner else ""
            raise ValueError(f"{where}{self.name} must be {self.allowed()}, got {value!r}")
        return converted

    def _within(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        if self.type in (int, float):
            if not math.isfinite(value):
                return False
            return not ((self.low is not None and value < self.low)
                        or (self.high is not None and value > self.high))
        return True


def _convert(kind: type, value: Any) -> Any:
    """`value` as `kind`, or None when it is not one. bool is never a number here, and a
    float with a fraction is never an int: both are mistakes worth reporting."""
    if isinstance(value, str) and kind is not str:
        return _parse(kind, value.strip())
    if kind is bool:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool):
        return None
    if kind is int:
        if isinstance(value, int):
            return value
        return int(value) if isinstance(value, float) and value.is_integer() else None
    if kind is float:
        return float(value) if isinstance(value, int | float) else None
    return value if isinstance(value, str) else None


def _parse(kind: type, text: str) -> Any:
    if kind is bool:
        words = {"true": True, "yes": True, "1": True, "on": True,
                 "false": False, "no": False, "0": False, "off": False}
        return words.get(text.lower())
    number = float(text)  # ValueError for words: the caller reports it
    return _convert(kind, int(number) if kind is int and number.is_integer() else number)


class ParamValues:
    """A strategy's checked parameter values, read as attributes: `self.p.fast`.

    The values sit in the instance's own `__dict__`, so reading one is a plain attribute
    lookup (~20 ns); a `__getattr__` fallback costs ten times that, on every bar.
    """

    def __init__(self, values: Mapping[str, Any]) -> None:
        vars(self).update(values)

    def __getattr__(self, name: str) -> Any:  # only reached for a name that is not a param
        raise AttributeError(f"no parameter {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("strategy parameters are fixed once the strategy is built")

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def __repr__(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in vars(self).items())


class _SignalFields(NamedTuple):
    symbol: str
    side: str
    strength: float  # 0..1: how sure the strategy is
    reason: str
    values: Mapping[str, Any]
    stop: float | None
    target: float | None
    time: float  # epoch seconds of the bar it was made on


_new_tuple = tuple.__new__


class Signal(_SignalFields):
    """What a strategy concluded on one bar.

    side: "buy" or "sell" opens a position that way, reversing an opposite one; "exit"
    closes whatever is open. `stop` and `target` are prices for the exits of the position
    the signal opens; `values` are the indicator values behind it, for the journal.

    An immutable NamedTuple checked in `__new__`: a backtest builds one per trade, and this
    costs a third of a frozen dataclass with `__post_init__` (~0.3 us against ~1 us).
    """

    __slots__ = ()

    def __new__(cls, symbol: str, side: str, strength: float = 1.0, reason: str = "",
                values: Mapping[str, Any] | None = None, stop: float | None = None,
                target: float | None = None, time: float = 0.0) -> Signal:
        if not symbol:
            raise ValueError("a signal needs the symbol it is about")
        if side not in SIDES:
            raise ValueError(f"signal side must be buy, sell or exit, not {side!r}")
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"signal strength must be in [0, 1], got {strength!r}")
        return _new_tuple(cls, (symbol, side, strength, reason,
                                {} if values is None else values, stop, target, time))

    @classmethod
    def _make(cls, iterable: Iterable[Any]) -> Signal:
        # `_replace` builds through here: the checks apply to a changed signal too
        return cls(*iterable)


class BarContext:
    """What `on_bar` sees. An engine keeps one context per strategy and rewrites its
    attributes for each bar, so a strategy must not keep the context or its dicts.

    - `symbol`: the instrument's symbol;
    - `bar`: the bar (open, high, low, close, volume, time in epoch seconds);
    - `values` / `prev`: indicator values by the names `indicators()` gave, on this bar
      and on the bar before (None while an indicator warms up);
    - `position`: the signed quantity held (short below zero) as the bar closes;
    - `forming`: True when the bar has not closed yet (only for strategies that ask).
    """

    __slots__ = ("bar", "forming", "position", "prev", "symbol", "values")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bar: Any = None
        self.values: dict[str, Any] = {}
        self.prev: dict[str, Any] = {}
        self.position = 0.0
        self.forming = False


class Strategy:
    """Base class of every strategy; see the module doc for a whole example.

    Class attributes a subclass sets: `name` (the registry key), `title`, `params`,
    `bar_size` (IB's bar size text, e.g. "1 hour"), `sees_forming` (True to be called on
    forming bars as well; backtests only have closed bars). A strategy may also offer
    `candidate_bars`, so that backtests skip the bars where it cannot signal.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    bar_size: ClassVar[str] = "1 hour"
    sees_forming: ClassVar[bool] = False

    def __init__(self, **values: Any) -> None:
        self.p = ParamValues(self.check_params(values))
        self.validate()

    @classmethod
    def check_params(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """`given` checked against `params`, defaults filled in; a ValueError names the
        strategy, the parameter and what it allows."""
        owner = cls.name or cls.__name__
        known = {p.name for p in cls.params}
        unknown = sorted(set(given) - known)
        if unknown:
            allowed = ", ".join(p.name for p in cls.params) or "none"
            close = difflib.get_close_matches(unknown[0], known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"{owner}: unknown parameter(s) {', '.join(unknown)}{hint}; "
                             f"allowed: {allowed}")
        return {p.name: p.check(given[p.name], owner) if p.name in given else p.default
                for p in cls.params}

    def validate(self) -> None:
        """Checks across parameters (e.g. fast < slow); raise ValueError to refuse."""

    def indicators(self) -> dict[str, Indicator[Any]]:
        """Fresh indicators this strategy reads, by the names `ctx.values` will use.
        Build them with `ibtrader.core.indicators.make_indicator`."""
        return {}

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        """Signals for the bar in `ctx`; NO_SIGNALS (or any empty sequence) for none."""
        raise NotImplementedError

    def candidate_bars(self, values: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """Optional, for backtests: the bars on which `on_bar` could return signals, found
        at once with numpy, so that a backtest calls `on_bar` only there; None (this
        default) for every bar.

        `values` holds each indicator's value on every bar, by the names `indicators()`
        gave, as float columns with NaN while it warms up (only indicators of one value
        are there: return None when one you need is missing). Return the bar numbers,
        sorted, as an integer array. They must include every bar where `on_bar` would
        signal whatever the position, or the backtest misses trades; a few extra bars
        are harmless. Tests should run the strategy with and without it and compare.
        """
        return None

    def signal(self, ctx: BarContext, side: str, reason: str, *, strength: float = 1.0,
               values: Mapping[str, Any] | None = None, stop: float | None = None,
               target: float | None = None) -> Signal:
        """A signal for the context's symbol, stamped with its bar's time."""
        return Signal(ctx.symbol, side, strength, reason, values or {}, stop, target,
                      ctx.bar.time)

    def describe(self) -> str:
        return f"{self.name}({self.p!r})"
