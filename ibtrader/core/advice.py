"""Asking strategies: a strategy whose decision comes from outside (an n8n workflow, say).

A plain strategy answers `on_bar` at once. An asking strategy instead builds a *question*
from the closed bar and its indicator values (pure), the engine hands it to an `Advisor`
(an adapter that does the I/O, off the loop, with a timeout) and gives the reply back to
the strategy's `answer` (pure again), which turns it into at most one Signal or raises
`AnswerError` saying what is wrong with it. The signal then goes through the same sizing
and risk checks as any other.

Backtests cannot ask anyone, so an asking strategy's `on_bar` refuses with a clear error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

from ibtrader.core.market import Bar
from ibtrader.core.strategy import BarContext, Signal, Strategy


class AdviceError(RuntimeError):
    """The advisor could not get an answer: unreachable, an HTTP error, not JSON, ..."""


class AnswerError(ValueError):
    """An answer that cannot become a signal; `code` names the case for logs and tests."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Advisor(Protocol):
    """Where an asking strategy's questions go. `ask` returns the decoded JSON reply or
    raises AdviceError; the engine bounds it by `timeout` seconds."""

    timeout: float

    async def ask(self, question: Mapping[str, Any]) -> Any: ...


class AskingStrategy(Strategy):
    """Base of strategies answered by an Advisor; see the module doc.

    `advisor_hint` is what a trader reads when no advisor is configured for it."""

    advisor_hint: ClassVar[str] = "no advisor is configured for it"

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        raise RuntimeError(f"{self.name} asks an outside workflow on each bar: it runs live "
                           f"only (the app, ibtrader signals), never in a backtest")

    def question(self, symbol: str, bar_size: str, bar: Bar, values: Mapping[str, Any],
                 position: float) -> dict[str, Any]:
        """The JSON-ready question about the closed `bar`."""
        raise NotImplementedError

    def answer(self, symbol: str, bar: Bar, values: Mapping[str, Any],
               reply: Any) -> Signal | None:
        """The signal the reply asks for, None for "no trade", or AnswerError."""
        raise NotImplementedError
