"""Bars as exact aggregations of per-second series, vectorised with ufunc.reduceat.

A request is cut into contiguous spans (one per open session and day); each span is
reduced to partial bars, the partials are concatenated, and partials sharing a bar (a bar
that straddles a day or session boundary) are merged in a second reduceat pass.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Series(NamedTuple):
    """Per-second inputs of one span: what opens, highs, lows and closes a bar."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    count: np.ndarray


class Agg(NamedTuple):
    """Bars (or partial bars) as parallel arrays."""

    key: np.ndarray  # the bar's group: its aligned start
    time: np.ndarray  # its first included second (or the day start for daily bars)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    pv: np.ndarray  # sum of close-series price x volume, for the WAP
    count: np.ndarray
    seconds: np.ndarray  # how many seconds were aggregated
    sum_open: np.ndarray  # sums of the open and close series, for time-averaged bars
    sum_close: np.ndarray


def reduce_span(lo: int, series: Series, bar_seconds: int, averages: bool = False) -> Agg:
    """Partial bars of the seconds lo, lo+1, ... aligned to multiples of bar_seconds."""
    m = len(series.close)
    first_key = lo - lo % bar_seconds
    idx = np.concatenate(([0], np.arange(first_key + bar_seconds - lo, m, bar_seconds)))
    times = lo + idx
    return _reduce(series, idx, times - times % bar_seconds, times, averages)


def reduce_whole(lo: int, series: Series, key: int, averages: bool = False) -> Agg:
    """One partial bar of the whole span, grouped under `key`."""
    idx = np.zeros(1, dtype=np.int64)
    return _reduce(series, idx, np.array([key]), np.array([lo]), averages)


def _reduce(s: Series, idx: np.ndarray, keys: np.ndarray, times: np.ndarray,
            averages: bool) -> Agg:
    ends = np.append(idx[1:], len(s.close)) - 1
    volume = np.add.reduceat(s.volume, idx)
    pv = np.add.reduceat(s.close * s.volume, idx)
    zeros = np.zeros(len(idx))
    sum_open = np.add.reduceat(s.open, idx) if averages else zeros
    sum_close = np.add.reduceat(s.close, idx) if averages else zeros
    return Agg(keys.astype(np.int64), times.astype(np.int64), s.open[idx],
               np.maximum.reduceat(s.high, idx), np.minimum.reduceat(s.low, idx),
               s.close[ends], volume, pv, np.add.reduceat(s.count, idx).astype(np.int64),
               (ends - idx + 1).astype(np.int64), sum_open, sum_close)


Row = tuple  # one bar's values, in Agg's field order, as Python scalars: compact to cache
CLOSE = Agg._fields.index("close")


def only_row(agg: Agg) -> Row:
    return tuple(column[0].item() for column in agg)


def from_rows(rows: list[Row]) -> Agg:
    if not rows:
        return empty()
    return Agg(*(np.array(column) for column in zip(*rows, strict=True)))


def concat(parts: list[Agg]) -> Agg:
    if not parts:
        return empty()
    if len(parts) == 1:
        return parts[0]
    return Agg(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def empty() -> Agg:
    ints, floats = np.zeros(0, dtype=np.int64), np.zeros(0)
    return Agg(ints, ints, floats, floats, floats, floats, floats, floats, ints, ints,
               floats, floats)


def regroup(agg: Agg, keys: np.ndarray | None = None) -> Agg:
    """Merge consecutive rows with equal keys (given, or the rows' own)."""
    keys = agg.key if keys is None else keys
    if len(keys) < 2:
        return agg if keys is agg.key else agg._replace(key=keys)
    idx = np.concatenate(([0], np.flatnonzero(np.diff(keys)) + 1))
    if len(idx) == len(keys):
        return agg if keys is agg.key else agg._replace(key=keys)
    ends = np.append(idx[1:], len(keys)) - 1
    return Agg(keys[idx], agg.time[idx], agg.open[idx],
               np.maximum.reduceat(agg.high, idx), np.minimum.reduceat(agg.low, idx),
               agg.close[ends], np.add.reduceat(agg.volume, idx),
               np.add.reduceat(agg.pv, idx), np.add.reduceat(agg.count, idx),
               np.add.reduceat(agg.seconds, idx), np.add.reduceat(agg.sum_open, idx),
               np.add.reduceat(agg.sum_close, idx))


def clip_rows(agg: Agg, lo: int, hi: int) -> Agg:
    """Rows whose time lies in [lo, hi)."""
    keep = (agg.time >= lo) & (agg.time < hi)
    if keep.all():
        return agg
    return Agg(*(column[keep] for column in agg))
