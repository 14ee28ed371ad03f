"""Vectorised pre-filters: the bars on which a strategy could possibly signal, found with
numpy over the batch indicator columns, so the runner can skip the others.

A pre-filter must return a superset of the bars where `on_bar` returns signals, whatever
the position; tests run each strategy with and without its filter and compare the
trades. Strategies without one here are called on every bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ibtrader.core.strategy import Strategy

Columns = Mapping[str, np.ndarray]  # float columns, NaN while warming up
PreFilter = Callable[[Strategy, Columns], np.ndarray]


def _strict_crosses(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bars i where a crossed b strictly, either way, between bar i-1 and bar i (NaN,
    i.e. warm-up, compares false as in the strategies)."""
    with np.errstate(invalid="ignore"):
        up = (a[:-1] < b[:-1]) & (a[1:] > b[1:])
        down = (a[:-1] > b[:-1]) & (a[1:] < b[1:])
    return np.flatnonzero(up | down) + 1


def sma_cross(strategy: Strategy, columns: Columns) -> np.ndarray:
    return _strict_crosses(columns["fast"], columns["slow"])


PRE_FILTERS: dict[str, PreFilter] = {"sma_cross": sma_cross}


def candidate_bars(strategy: Strategy, columns: Columns) -> list[int] | None:
    """Sorted bar numbers worth calling `on_bar` on, or None for every bar."""
    found = PRE_FILTERS.get(strategy.name)
    if found is None or not all(name in columns for name in strategy_columns(strategy)):
        return None
    return found(strategy, columns).tolist()


def strategy_columns(strategy: Strategy) -> tuple[str, ...]:
    return {"sma_cross": ("fast", "slow")}.get(strategy.name, ())
