"""A backtest job from JSON (the REST API's POST body), every field checked before a
worker process is spent on it: a bad field is a `JobInputError` naming it and saying what
is allowed, with every other bad field of the same body in `problems`.

    job_from_json({"strategy": "sma_cross", "params": {"fast": 5}, "symbol": "AAPL",
                   "start": "2024-01-01", "end": "2024-03-01", "bar_size": "1 hour"})
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ibtrader.backtest.job import BacktestJob
from ibtrader.backtest.runner import FILLS
from ibtrader.commands.backtest import parse_commission
from ibtrader.core.strategies import STRATEGIES

FIELDS = ("strategy", "params", "symbol", "csv", "bar_size", "start", "end", "cash",
          "commission", "fill", "sizing", "risk_pct")
SIZINGS = ("risk", "all-in")  # the Sizer's modes, the default first
MAX_BARS = 5_000_000  # ~10 years of minute bars: beyond that a job is a mistake


class JobInputError(ValueError):
    """`field` is the JSON field at fault ("params.fast" for a strategy parameter);
    `problems` lists (field, message) for every bad field found, this one first."""

    def __init__(self, field: str, message: str,
                 problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.problems = problems or ((field, message),)


def job_from_json(mapping: Any, *, csv_folder: Path | None = None) -> BacktestJob:
    """The job a JSON body describes; JobInputError naming every bad field. With
    `csv_folder`, a csv file must be a file name in that folder (a remote caller must not
    make the server read any file it can reach)."""
    if not isinstance(mapping, Mapping):
        raise JobInputError("body", "a backtest is a JSON object such as "
                                    '{"strategy": "sma_cross", "symbol": "AAPL", ...}')
    problems: list[tuple[str, str]] = []

    def bad(name: str, message: str) -> None:
        problems.append((name, message))

    values: dict[str, Any] = {}
    strategy = _strategy(mapping.get("strategy"), bad)
    if strategy is not None:
        values["strategy"] = strategy
        values["params"] = _params(strategy, mapping.get("params", {}), bad)
    values.update(_source(mapping, bad, csv_folder))
    start = _time(mapping.get("start"), "start", bad)
    end = _time(mapping.get("end"), "end", bad)
    values.update(start=start, end=end)
    if start is not None and end is not None and end <= start:
        bad("end", "the end must be after the start")
    if "symbol" in values:
        if start is None and "start" not in mapping:
            bad("start", "a backtest on the simulator's history needs a start")
        if end is None and "end" not in mapping:
            bad("end", "a backtest on the simulator's history needs an end")
        _range_size(values, strategy, bad)
    _settings(mapping, values, bad)
    for name in mapping:
        if name not in FIELDS:
            bad(str(name), f"unknown field; the fields are {', '.join(FIELDS)}")
    if problems:
        raise JobInputError(*problems[0], problems=tuple(problems))
    return BacktestJob(**values)


Bad = Any  # Callable[[str, str], None]: records a problem with a field


def _strategy(name: Any, bad: Bad) -> str | None:
    known = ", ".join(sorted(STRATEGIES))
    if not isinstance(name, str) or not name.strip():
        bad("strategy", f"name a strategy: one of {known}")
        return None
    if name.strip() not in STRATEGIES:
        bad("strategy", f"unknown strategy {name!r}; known: {known}")
        return None
    return name.strip()


def _params(strategy: str, given: Any, bad: Bad) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        bad("params", "parameters are a JSON object such as {\"fast\": 10}")
        return {}
    cls = STRATEGIES[strategy]
    declared = {p.name: p for p in cls.params}
    checked: dict[str, Any] = {}
    for name, value in given.items():
        param = declared.get(name)
        if param is None:
            bad(f"params.{name}", f"{strategy} has no parameter {name!r}; its parameters: "
                                  f"{', '.join(declared) or 'none'}")
            continue
        try:
            checked[name] = param.check(value)
        except ValueError:
            bad(f"params.{name}", f"must be {param.allowed()}, got {value!r}")
    if len(checked) == len(given):
        try:
            cls(**checked)  # the checks across parameters, e.g. fast below slow
        except ValueError as exc:
            bad("params", str(exc))
    return checked


def _source(mapping: Mapping[str, Any], bad: Bad,
            csv_folder: Path | None = None) -> dict[str, Any]:
    symbol, csv = mapping.get("symbol"), mapping.get("csv")
    bar_size = mapping.get("bar_size") or ""
    if (symbol is None) == (csv is None):
        bad("symbol", "give a symbol (the simulator's history) or a csv file, not both "
                      "and not neither")
        return {}
    if not isinstance(bar_size, str):
        bad("bar_size", "a bar size is text such as \"1 hour\"")
        bar_size = ""
    if csv is not None:
        path = Path(csv) if isinstance(csv, str) and csv.strip() else None
        if path is not None and csv_folder is not None:
            if path.name != csv or csv in (".", ".."):
                bad("csv", f"a file name in {csv_folder}, without folders")
                return {}
            path = csv_folder / path.name
        if path is None or path.suffix.lower() != ".csv":
            bad("csv", "the path of a .csv file of OHLCV bars")
        elif not path.is_file():
            bad("csv", f"{csv}: no such file")
        if bar_size:
            bad("bar_size", "a csv file's bars are used as they are: leave out the bar size")
        return {"csv": path}
    if not isinstance(symbol, str) or not symbol.strip():
        bad("symbol", "a symbol is text such as \"AAPL\"")
        return {}
    from ibtrader.backtest.sim_history import find_instrument

    try:
        find_instrument(symbol, dt.datetime.now(dt.UTC).date())
    except ValueError as exc:
        bad("symbol", str(exc))
    if bar_size:
        bar_size = _bar_size(bar_size, bad)
    return {"symbol": symbol.strip().upper(), "bar_size": bar_size}


def _bar_size(text: str, bad: Bad) -> str:
    from ibtrader.sim.market.history import HistoryRequestError, parse_bar_size

    try:
        parse_bar_size(text)
    except HistoryRequestError:
        bad("bar_size", f"{text!r} is not a bar size IB knows, e.g. \"1 min\", \"5 mins\", "
                        "\"1 hour\", \"1 day\"")
        return ""
    return text.strip()


def _range_size(values: Mapping[str, Any], strategy: str | None, bad: Bad) -> None:
    start, end = values.get("start"), values.get("end")
    bar_size = values.get("bar_size") or (STRATEGIES[strategy].bar_size if strategy else "")
    if start is None or end is None or not bar_size:
        return
    from ibtrader.sim.market.history import parse_bar_size

    bars = (end - start) / parse_bar_size(bar_size)
    if bars > MAX_BARS:
        bad("start", f"that range holds ~{bars:,.0f} bars of {bar_size}; at most "
                     f"{MAX_BARS:,} in one job: shorten it or use longer bars")


def _time(value: Any, name: str, bad: Bad) -> float | None:
    """Epoch seconds from ISO-8601 text (UTC without a zone) or a number of seconds."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and value >= 0:
            return float(value)
        bad(name, f"epoch seconds must be a finite number >= 0, got {value!r}")
        return None
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            stamp = None
        if stamp is not None:
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=dt.UTC)
            return stamp.timestamp()
    bad(name, f"an ISO-8601 date or time (2024-01-31, 2024-01-31T14:30:00Z) or epoch "
              f"seconds, got {value!r}")
    return None


def _settings(mapping: Mapping[str, Any], values: dict[str, Any], bad: Bad) -> None:
    cash = mapping.get("cash", 10_000.0)
    if _number(cash) and 0 < cash < 1e13:
        values["cash"] = float(cash)
    else:
        bad("cash", f"starting cash must be a number above 0, got {cash!r}")
    commission = mapping.get("commission", "ib")
    try:
        if isinstance(commission, bool) or not isinstance(commission, str | int | float):
            raise ValueError
        parse_commission(str(commission))
        values["commission"] = str(commission).strip()
    except ValueError:
        bad("commission", f"0, ib (IB tiered), or a percent of the traded value in [0, 10) "
                          f"such as \"0.1%\", got {commission!r}")
    for name, allowed in (("fill", FILLS), ("sizing", SIZINGS)):
        chosen = mapping.get(name, allowed[0])
        if chosen in allowed:
            values[name] = chosen
        else:
            bad(name, f"one of {', '.join(allowed)}, got {chosen!r}")
    risk = mapping.get("risk_pct", 1.0)
    if _number(risk) and 0 < risk <= 100:
        values["risk_pct"] = float(risk)
    else:
        bad("risk_pct", f"percent of equity risked per trade, in (0, 100], got {risk!r}")


def _number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))
