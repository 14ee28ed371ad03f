"""The daily process behind simulated prices, the model's parameters and seeding helpers.

Pure functions of their seeds. The daily process runs from `ANCHOR` for `HORIZON_DAYS`
session days, all at once (a few ms), and fixes every day's close and volatility; a day's
seconds (intraday.py) are a bridge from the previous close to that close, generated from
that day's own seed, so any second can be computed without the ones before it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass

import numpy as np

ANCHOR = dt.date(2015, 1, 1)
HORIZON_DAYS = 22_000  # to about 2075
DAILY_STREAM = 0xDA11  # keeps the daily process's seed apart from every day's seed
# volatility multiplier per regime (index: down, range, up); sell-offs are the wildest
_REGIME_VOL = np.array([1.3, 0.88, 0.98])
REGIME_NAMES = {-1: "down", 0: "range", 1: "up"}


@dataclass(frozen=True)
class PathParams:
    # daily process
    vol_persistence: float = 0.98  # AR(1) coefficient of the daily log-volatility
    vol_of_vol: float = 0.45  # stationary sd of the daily log-volatility
    tail_df: float = 6.0  # Student-t degrees of freedom of daily shocks (fat tails)
    trend_days: float = 12.0  # mean length of a trend regime
    range_days: float = 18.0  # mean length of a ranging regime
    trend_drift: float = 0.3  # a trend's daily drift, in daily sigmas
    range_share: float = 0.8  # part of a ranging day's variance that oscillates
    range_persistence: float = 0.6  # AR(1) coefficient of that oscillation (mean reversion)
    level_half_life: float = 500.0  # days; keeps a price near its level over the years
    # intraday
    intraday_vol_minutes: float = 15.0  # correlation time of intraday log-volatility
    intraday_vol_of_vol: float = 0.5
    segment_seconds: float = 1800.0  # mean length of an intraday trend segment
    segment_drift: float = 0.8  # sd of a segment's drift, in noise sigmas over the segment
    # activity (relative trading intensity; a busy session averages about 1)
    quiet_activity: float = 0.15  # outside trading hours
    extended_activity: float = 0.4  # trading hours outside the busy stretch
    volume_noise: float = 0.5  # sd of the per-second log-volume noise


def stable_hash(text: str) -> int:
    """A 64-bit hash that, unlike hash(), is the same in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def generator(*entropy: int) -> np.random.Generator:
    """SFC64, numpy's fastest bit generator, seeded from the entropy words."""
    words = [e & 0xFFFF_FFFF_FFFF_FFFF for e in entropy]
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(words)))


def ar1(noise: np.ndarray, phi: float, start: float) -> np.ndarray:
    """x[t] = phi * x[t-1] + noise[t] with x[-1] = start, without a Python loop per step:
    x[t] = phi^(t+1) * (start + sum_j noise[j] / phi^(j+1)), in blocks short enough that
    phi^-k stays far from overflow."""
    n = len(noise)
    out = np.empty(n)
    block = n if phi >= 1.0 else max(1, min(n, int(500.0 / -math.log(phi))))
    powers = phi ** np.arange(1, block + 1, dtype=float)
    x = start
    for lo in range(0, n, block):
        seg = noise[lo:lo + block]
        pw = powers[:len(seg)]
        out[lo:lo + len(seg)] = pw * (x + np.cumsum(seg / pw))
        x = float(out[lo + len(seg) - 1])
    return out


# ----- the daily process ------------------------------------------------------------------
@dataclass(frozen=True)
class DailyPath:
    log_close: np.ndarray  # per session day since ANCHOR
    sigma: np.ndarray  # the day's volatility (sd of its log-return)
    regime: np.ndarray  # -1 trending down, 0 ranging, +1 trending up
    activity: np.ndarray  # the day's volatility relative to normal, drives its volume


def regimes(rng: np.random.Generator, n: int, p: PathParams) -> np.ndarray:
    """A Markov chain: ranging, then a trend up or down, then ranging again, ..., with
    geometric durations."""
    m = n // 2 + 16
    kinds = (np.arange(m) + rng.integers(2)) % 2  # 1 = trending
    signs = np.where(rng.random(m) < 0.5, 1, -1)
    means = np.where(kinds == 1, p.trend_days, p.range_days)
    lengths = rng.geometric(1.0 / means)
    codes = np.repeat(kinds * signs, lengths)[:n]
    if len(codes) < n:  # only if the draws were absurdly short
        codes = np.concatenate([codes, np.zeros(n - len(codes), dtype=codes.dtype)])
    return codes.astype(np.int8)


def daily_path(rng: np.random.Generator, start_price: float, annual_vol: float,
               day_scale: np.ndarray, p: PathParams) -> DailyPath:
    """Closes for len(day_scale) days; day_scale is each day's share of a normal day's
    variance (closed days move less)."""
    n = len(day_scale)
    base = annual_vol / math.sqrt(365.25 * float(day_scale.mean()))
    s, phi = p.vol_of_vol, p.vol_persistence
    log_vol = ar1(rng.standard_normal(n) * s * math.sqrt(1 - phi * phi), phi,
                  float(rng.standard_normal()) * s)
    regime = regimes(rng, n, p)
    activity = np.exp(log_vol - s * s) * _REGIME_VOL[regime + 1]
    sigma = base * np.sqrt(day_scale) * activity
    df = p.tail_df
    shocks = rng.standard_t(df, n) / math.sqrt(df / (df - 2))
    share = np.where(regime == 0, p.range_share, 0.0)
    walk = sigma * (np.sqrt(1 - share) * shocks + regime * p.trend_drift)
    rho = p.range_persistence
    oscillation = ar1(sigma * np.sqrt(share * (1 - rho * rho)) * rng.standard_normal(n),
                      rho, 0.0)
    level = ar1(walk, 1.0 - math.log(2) / p.level_half_life, 0.0)
    return DailyPath(math.log(start_price) + level + oscillation, sigma, regime, activity)
