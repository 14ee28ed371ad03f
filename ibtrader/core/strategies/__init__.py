"""Strategies by name: the built-ins, and user strategies loaded from a folder.

    load_strategy("sma_cross", fast=5, slow=30)      # checked parameters
    STRATEGIES["supertrend"].params                  # what a GUI shows
    loaded, errors = load_user_strategies(folder)    # errors are reported, never raised
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ibtrader.core.strategy import Strategy

from .bollinger_breakout import BollingerBreakout
from .macd_cross import MacdCross
from .n8n_decision import N8nDecision
from .rsi_reversion import RsiReversion
from .sma_cross import SmaCross
from .supertrend import SuperTrendFollower

BUILT_INS: tuple[type[Strategy], ...] = (
    SmaCross, RsiReversion, MacdCross, BollingerBreakout, SuperTrendFollower,
)
# built-ins answered from outside (core/advice.py): live only, so not among the bar-by-bar
# BUILT_INS that backtests and benches run
ASKING_BUILT_INS: tuple[type[Strategy], ...] = (N8nDecision,)
_PROTECTED = frozenset((*BUILT_INS, *ASKING_BUILT_INS))

_registry: dict[str, type[Strategy]] = {c.name: c for c in (*BUILT_INS, *ASKING_BUILT_INS)}
STRATEGIES: Mapping[str, type[Strategy]] = MappingProxyType(_registry)


def register_strategy(cls: type[Strategy], replace: bool = False) -> type[Strategy]:
    """Add a strategy class under its `name`. A name already taken by another class is
    refused unless `replace` (a user file loaded again), and built-ins are never replaced."""
    if not cls.name or not cls.name.isidentifier():
        raise ValueError(f"{cls.__name__}: a strategy needs a `name` that is an identifier, "
                         f"got {cls.name!r}")
    taken = _registry.get(cls.name)
    if taken is not None and taken is not cls and (not replace or taken in _PROTECTED):
        raise ValueError(f"the strategy name {cls.name!r} is already taken by "
                         f"{taken.__module__}.{taken.__qualname__}")
    _registry[cls.name] = cls
    return cls


def unregister_strategy(name: str) -> None:
    """Forget a user strategy (its file was deleted or broke); built-ins stay."""
    cls = _registry.get(name)
    if cls in _PROTECTED:
        raise ValueError(f"the built-in strategy {name!r} cannot be removed")
    _registry.pop(name, None)


def strategy_class(name: str) -> type[Strategy]:
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry))
        raise ValueError(f"unknown strategy {name!r}; known: {known}") from None


def load_strategy(name: str, **params: Any) -> Strategy:
    """A new strategy of that name, its parameters checked (ValueError says what's wrong)."""
    return strategy_class(name)(**params)


from .user import LoadError, load_user_strategies  # noqa: E402  (needs register_strategy)

__all__ = [
    "ASKING_BUILT_INS", "BUILT_INS", "STRATEGIES", "LoadError", "load_strategy",
    "load_user_strategies", "register_strategy", "strategy_class", "unregister_strategy",
]
