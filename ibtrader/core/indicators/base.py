"""What every indicator shares: the bar it reads, its interface, its typed parameters.

The contract (the `Indicator` protocol):
- `update(bar)` commits a closed bar and returns the new value;
- `preview(bar)` returns the value as if the forming bar closed now, leaving the state
  as it was, so a chart can redraw the forming bar on every tick;
- `value` is the last committed value, `None` while warming up; `ready` says it is not;
- `warmup` is the number of bars after which `value` is no longer `None` (the batch
  functions have NaN in those rows); after warm-up a value may still hold NaN where ta
  has NaN (a range of 0 in a stochastic window, touching Bollinger bands, a VWAP with
  no volume yet);
- `reset()` forgets every bar seen.

Inputs must be finite numbers and bars must have `high >= low`; the hot paths do not
check, because a check per update would cost as much as the update itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

V_co = TypeVar("V_co", covariant=True)

# Rolling sums are kept by adding the new value and subtracting the old one, which lets
# rounding errors pile up; they are recomputed exactly (math.fsum) every RESUM_EVERY
# updates or so: often enough that the error stays ~1e-13, rarely enough that the
# O(window) re-sum costs a nanosecond or two per update.
RESUM_EVERY = 256

# Upper bound of every window length: far beyond any chart's use, and it keeps a bad
# value from the GUI or a config file from allocating a huge ring buffer.
MAX_PERIOD = 10_000


class BarLike(Protocol):
    """Anything with OHLCV and a time: `core.market.Bar`, a namedtuple row, a test stub.

    `time` is epoch seconds (the app's convention) or a datetime; only session-anchored
    indicators (VWAP) read it.
    """

    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...
    @property
    def volume(self) -> float: ...
    @property
    def time(self) -> Any: ...


@runtime_checkable
class Indicator(Protocol[V_co]):
    """An incremental indicator: O(1) work per closed bar."""

    name: str
    warmup: int

    @property
    def value(self) -> V_co | None: ...
    @property
    def ready(self) -> bool: ...
    def update(self, bar: BarLike) -> V_co | None: ...
    def preview(self, bar: BarLike) -> V_co | None: ...
    def reset(self) -> None: ...


@runtime_checkable
class ValueIndicator(Indicator[V_co], Protocol[V_co]):
    """An indicator of one input series (the close), fed plain floats as well as bars."""

    def update_value(self, x: float) -> V_co | None: ...
    def preview_value(self, x: float) -> V_co | None: ...


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One typed, bounded parameter, described well enough for a GUI to build an editor."""

    name: str
    type: type  # int or float
    default: int | float
    min: int | float
    max: int | float
    min_exclusive: bool = False  # (min, max] rather than [min, max]
    doc: str = ""

    def range_text(self) -> str:
        left = "(" if self.min_exclusive else "["
        return f"{left}{self.min}, {self.max}]"

    def check(self, owner: str, value: object) -> int | float:
        """Return `value` normalised to the parameter's type, or raise a ValueError
        naming the indicator, the parameter and the allowed range."""
        kind = "an integer" if self.type is int else "a number"
        where = f"{owner}: {self.name} must be {kind} in {self.range_text()}"
        # bool is an int to Python, never a meaningful period or multiplier
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}, got {value!r}")
        if self.type is int and not (isinstance(value, int) or float(value).is_integer()):
            raise ValueError(f"{where}, got {value!r}")
        number = self.type(value) if math.isfinite(value) else value
        low_ok = number > self.min if self.min_exclusive else number >= self.min
        if not (low_ok and number <= self.max):  # also refuses nan
            raise ValueError(f"{where}, got {value!r}")
        return number


def wraps_per_resum(window: int) -> int:
    """How many trips round a ring of `window` slots between two exact re-sums."""
    return max(1, -(-RESUM_EVERY // window))


def period_param(name: str, default: int, minimum: int = 1, doc: str = "") -> ParamSpec:
    return ParamSpec(name, int, default, minimum, MAX_PERIOD, doc=doc)


def check_params(
    owner: str, specs: tuple[ParamSpec, ...], given: Mapping[str, object]
) -> dict[str, int | float]:
    """Validate `given` against `specs`: unknown names refused, defaults filled in."""
    known = {spec.name for spec in specs}
    unknown = sorted(set(given) - known)
    if unknown:
        allowed = ", ".join(spec.name for spec in specs) or "none"
        raise ValueError(f"{owner}: unknown parameter(s) {', '.join(unknown)}; allowed: {allowed}")
    return {spec.name: spec.check(owner, given.get(spec.name, spec.default)) for spec in specs}


class IndicatorBase:
    """Shared plumbing; subclasses keep their hot state in `__slots__` of their own."""

    __slots__ = ("value", "warmup")
    name = ""
    PARAMS: tuple[ParamSpec, ...] = ()

    value: Any
    warmup: int

    @property
    def ready(self) -> bool:
        return self.value is not None

    # The interface every indicator implements (see the `Indicator` protocol).
    def update(self, bar: BarLike) -> Any:
        raise NotImplementedError

    def preview(self, bar: BarLike) -> Any:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def params(self) -> dict[str, int | float]:
        """The parameters this instance was built with, by name (as the registry takes them)."""
        return {spec.name: getattr(self, spec.name) for spec in self.PARAMS}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args}) value={self.value!r}"


class ValueBar:
    """A bare close, for feeding a close indicator a series that is not a bar's."""

    __slots__ = ("close",)

    def __init__(self, close: float) -> None:
        self.close = close


class CloseIndicator(IndicatorBase):
    """An indicator of the close only, fed bars or plain floats.

    The hot path is `update(bar)` (bars are what the engine delivers); `update_value(x)`
    wraps `x` in a ValueBar rather than duplicate every update body.
    """

    __slots__ = ()

    def update_value(self, x: float) -> Any:
        return self.update(ValueBar(x))

    def preview_value(self, x: float) -> Any:
        return self.preview(ValueBar(x))
