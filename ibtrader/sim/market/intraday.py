"""One session day's seconds: a bridge from the previous close to the day's close.

Volatility clusters over minutes (an AR(1) log-volatility per minute), drifts persist
over segments of tens of minutes, and activity follows the day's hours (quiet when
closed, a U over the busiest stretch). Volume rises with activity, volatility and the
size of each second's move. Everything is vectorised; the only Python loop is over the
day's few dozen trend segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ibtrader.sim.market.paths import PathParams, ar1

SQRT12 = math.sqrt(12.0)
SHOCK_MEAN_ABS = SQRT12 / 4  # E|z| of the unit-variance uniform second shocks


@dataclass(frozen=True)
class Grid:
    """How prices and volumes are rounded."""

    min_tick: float
    sub_dollar_tick: float | None  # US stocks quote finer below $1
    volume_unit: float
    trade_size: float  # average size of one trade, for trade counts


@dataclass(frozen=True)
class DayInputs:
    n: int  # seconds in the day (23 or 25 hours on clock changes)
    log_prev: float
    log_close: float
    sigma: float
    activity: float  # the day's volatility relative to normal
    profile: np.ndarray  # activity_profile of the day
    profile_share: np.ndarray  # its cumulative sum over its total
    profile_norm: float  # the profile's sum on a normal trading day
    daily_volume: float


class Workspace:
    """Scratch buffers reused from day to day: fresh arrays of a day's length cost more
    in page faults than the arithmetic done on them."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, n: int, dtype: type = np.float64) -> np.ndarray:
        buffer = self._buffers.get(name)
        if buffer is None or len(buffer) < n:
            buffer = self._buffers[name] = np.empty(max(n, 90_000), dtype)
        return buffer[:n]


def activity_profile(n: int, trading: list[tuple[int, int]], busy: tuple[int, int] | None,
                     p: PathParams) -> np.ndarray:
    """Relative intensity per second of a day: quiet when closed, moderate in extended
    hours, a U over the busy stretch (brisk at its open and close, calmer at lunch).
    Spans are second offsets into the day."""
    profile = np.full(n, p.quiet_activity)
    for lo, hi in trading:
        profile[max(lo, 0):max(min(hi, n), 0)] = p.extended_activity
    if busy is not None:
        lo, hi = max(busy[0], 0), min(busy[1], n)
        if hi > lo:
            x = np.linspace(-1.0, 1.0, hi - lo)
            profile[lo:hi] = 0.7 + 1.2 * x * x
    return profile


def generate_day(rng: np.random.Generator, d: DayInputs, grid: Grid, p: PathParams,
                 ws: Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prices, volumes, trade counts) for each second of one day."""
    log_price, cluster, abs_shock = _log_prices(rng, d, p, ws)
    prices = _to_grid(log_price, grid)
    volumes = _volumes(rng, d, (cluster, abs_shock), grid.volume_unit, p, ws)
    counts = ws.get("counts", d.n)
    np.divide(volumes, grid.trade_size, out=counts)
    counts += 0.5
    np.floor(counts, out=counts)
    np.maximum(counts, 1.0, out=counts)
    return prices, volumes, counts.astype(np.int32)


def _log_prices(rng: np.random.Generator, d: DayInputs, p: PathParams,
                ws: Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log price, volatility factor, |shock|) per second, in workspace buffers."""
    n = d.n
    # second-to-second shocks are uniform with unit variance: a minute of them is already
    # Gaussian, the fat tails come from clustering, and uniforms are 4x cheaper to draw
    z = ws.get("shock", n)
    rng.random(out=z)
    z -= 0.5
    z *= SQRT12
    cluster = _clustering(rng, n, p, ws)
    # noise plus segment drifts together carry the day's variance, spread by activity
    sd = ws.get("sd", n)
    np.multiply(cluster, cluster, out=sd)
    sd *= d.profile
    g = p.segment_drift
    scale = d.sigma / math.sqrt(float(sd.sum()) * (1 + g * g))
    np.sqrt(sd, out=sd)
    sd *= scale
    steps = _segment_drifts(rng, n, p, ws.get("steps", n))
    steps += z
    steps *= sd
    log_price = ws.get("log_price", n)
    np.cumsum(steps, out=log_price)
    # the bridge: spread the gap to the day's close over the day in proportion to activity
    gap = float(log_price[-1]) - (d.log_close - d.log_prev)
    np.multiply(d.profile_share, gap, out=steps)
    log_price -= steps
    log_price += d.log_prev
    np.abs(z, out=z)
    return log_price, cluster, z


def _clustering(rng: np.random.Generator, n: int, p: PathParams, ws: Workspace) -> np.ndarray:
    """A volatility factor per second (mean square ~1): an AR(1) log-volatility per
    minute, held for the minute."""
    minutes = -(-n // 60)
    phi = math.exp(-1.0 / p.intraday_vol_minutes)
    s = p.intraday_vol_of_vol
    log_vol = ar1(rng.standard_normal(minutes) * s * math.sqrt(1 - phi * phi), phi,
                  float(rng.standard_normal()) * s)
    cluster = ws.get("cluster", minutes * 60)
    cluster.reshape(minutes, 60)[:] = np.exp(log_vol - s * s / 2)[:, None]
    return cluster[:n]


def _segment_drifts(rng: np.random.Generator, n: int, p: PathParams,
                    out: np.ndarray) -> np.ndarray:
    """Per-second drift in noise sigmas, constant within segments of tens of minutes and
    scaled so a segment drifts segment_drift noise-sigmas over its length."""
    k = int(n / p.segment_seconds * 3) + 8
    lengths = np.maximum(rng.exponential(p.segment_seconds, k).astype(np.int64), 1)
    drifts = (rng.standard_normal(k) * p.segment_drift / np.sqrt(lengths)).tolist()
    ends = np.minimum(np.cumsum(lengths), n).tolist()
    ends[-1] = n  # the last segment ends with the day
    lo = 0
    for value, hi in zip(drifts, ends, strict=True):
        out[lo:hi] = value
        lo = hi
        if lo >= n:
            break
    return out


def _volumes(rng: np.random.Generator, d: DayInputs,
             factors: tuple[np.ndarray, np.ndarray], unit: float, p: PathParams,
             ws: Workspace) -> np.ndarray:
    """Per-second volume in multiples of `unit` (at least one): the activity profile,
    busier when volatile and on big moves, with noise of sd volume_noise in log space."""
    cluster, abs_shock = factors
    volume = np.multiply(abs_shock, 0.6 / SHOCK_MEAN_ABS)  # the move factor averages 1
    volume += 0.4
    volume *= d.profile
    volume *= cluster
    # log-uniform noise: as good as lognormal here, and far cheaper to draw
    width = p.volume_noise * SQRT12
    noise = ws.get("noise", d.n, np.float32)
    rng.random(dtype=np.float32, out=noise)
    noise -= 0.5
    noise *= width
    np.exp(noise, out=noise)
    volume *= noise
    mean_noise = math.sinh(width / 2) / (width / 2)
    volume *= d.daily_volume * d.activity ** 0.8 / d.profile_norm / mean_noise / unit
    volume += 0.5
    np.floor(volume, out=volume)
    np.maximum(volume, 1.0, out=volume)
    volume *= unit
    return volume


def _to_grid(log_price: np.ndarray, grid: Grid) -> np.ndarray:
    """Prices on the tick grid, never zero. Dividing by the whole number of ticks per unit
    gives the float closest to the decimal, as Instrument.round_to_tick does."""
    prices = np.exp(log_price)
    cheap = prices < 1.0 if grid.sub_dollar_tick is not None else None
    per_unit = round(1.0 / grid.min_tick)
    prices *= per_unit
    prices += 0.5
    np.floor(prices, out=prices)
    prices /= per_unit
    floor = grid.min_tick
    if cheap is not None and grid.sub_dollar_tick is not None:
        floor = grid.sub_dollar_tick
        if cheap.any():
            fine = round(1.0 / grid.sub_dollar_tick)
            prices[cheap] = np.floor(np.exp(log_price[cheap]) * fine + 0.5) / fine
    np.maximum(prices, floor, out=prices)
    return prices
