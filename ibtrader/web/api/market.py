"""Market data: quotes (from the bridge's snapshot), bars with indicators, signals.

Bars and signals are read on the engine's loop (`bridge.call`); indicators are computed
here, in the server's thread, over the bars returned (pandas/ta never run on the loop).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from flask import Response, jsonify, request

from ibtrader.core.bars import DEFAULT_BAR_SIZES
from ibtrader.core.indicators import compute_batch, indicator_info, make_indicator
from ibtrader.core.market import Bar, Quote
from ibtrader.web.api import blueprint
from ibtrader.web.api.inputs import call, engine, invalid, not_found, query_int, query_text
from ibtrader.web.quote_cache import QuoteJsonCache
from ibtrader.web.serialize import bar_json, quote_json, signal_json

MAX_BARS = 5000
DEFAULT_BARS = 300
MAX_INDICATORS = 12
MAX_SYMBOLS = 200


@blueprint.get("/quotes")
def quotes() -> Response:
    held = engine().quotes()
    text = query_text("symbols", max_length=MAX_SYMBOLS * 16)
    if not text:
        return _quotes_response([q for _s, q in sorted(held.items())])
    wanted = list(dict.fromkeys(s.strip().upper() for s in text.split(",") if s.strip()))
    if len(wanted) > MAX_SYMBOLS:
        raise invalid("symbols", f"at most {MAX_SYMBOLS} symbols, got {len(wanted)}")
    missing = [s for s in wanted if s not in held]
    if missing:
        raise not_found("symbol", ", ".join(missing))
    return _quotes_response([held[s] for s in wanted])


_ENCODED_QUOTES = QuoteJsonCache()


def _quotes_response(quotes: list[Quote]) -> Response:
    return Response(_ENCODED_QUOTES.document(quotes), mimetype="application/json")


@blueprint.get("/quotes/<symbol>")
def quote(symbol: str) -> Response:
    found = engine().quotes().get(symbol.upper())
    if found is None:
        raise not_found("symbol", symbol.upper())
    return jsonify(quote_json(found))


# ----- bars ---------------------------------------------------------------------------------

class _NotSubscribed(Exception):
    pass


@blueprint.get("/bars/<symbol>")
def bars(symbol: str) -> Response:
    symbol = symbol.upper()
    bar_size = request.args.get("bar_size") or DEFAULT_BAR_SIZES[0]
    limit = query_int("limit", DEFAULT_BARS, 1, MAX_BARS)
    specs = parse_indicators(request.args.get("indicators") or "")
    bridge = engine()

    def read() -> tuple[Sequence[str], list[Bar] | None, Bar | None]:
        md = bridge.engine.market_data
        if bar_size not in md.bar_sizes:
            return md.bar_sizes, None, None
        try:
            return md.bar_sizes, md.history(symbol, bar_size)[-limit:], \
                md.forming(symbol, bar_size)
        except KeyError:  # the service does not stream this symbol
            raise _NotSubscribed() from None

    try:
        sizes, closed, forming = call(read)
    except _NotSubscribed:
        raise not_found("symbol", symbol) from None
    if closed is None:
        raise invalid("bar_size", f"must be one of {', '.join(sizes)}, got {bar_size!r}")
    return jsonify({"symbol": symbol, "bar_size": bar_size,
                    "bars": [bar_json(b) for b in closed],
                    "forming": bar_json(forming) if forming is not None else None,
                    "indicators": {label: series(name, params, closed)
                                   for label, (name, params) in specs.items()}})


def parse_indicators(text: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """ "sma:20,bbands:20:2.5,vwap" -> {"sma:20": ("sma", {"period": 20}), ...}: the
    parameters in the order the indicator lists them, checked as `make_indicator` does."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    items = [t.strip() for t in text.split(",") if t.strip()]
    if len(items) > MAX_INDICATORS:
        raise invalid("indicators", f"at most {MAX_INDICATORS}, got {len(items)}")
    for item in items:
        name, *values = (p.strip() for p in item.split(":"))
        try:
            info = indicator_info(name.lower())
            if len(values) > len(info.params):
                raise ValueError(f"{info.name} takes at most {len(info.params)} parameter(s) "
                                 f"({', '.join(p.name for p in info.params) or 'none'})")
            params: dict[str, Any] = {}
            for spec, value in zip(info.params, values, strict=False):
                params[spec.name] = _param(spec.type, spec.name, value)
            make_indicator(info.name, **params)  # checks ranges, says which and why
        except ValueError as exc:
            raise invalid("indicators", f"{item!r}: {exc}") from None
        out[item] = (info.name, params)
    return out


def _param(kind: type, name: str, text: str) -> int | float:
    try:
        return int(text) if kind is int else float(text)
    except ValueError:
        raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, "
                         f"got {text!r}") from None


def series(name: str, params: dict[str, Any], bars: Sequence[Bar]) -> list[dict[str, Any]]:
    """The indicator at every bar: {"time", "value"}, or {"time", field: value, ...} for
    one with several outputs; warm-up and other non-finite values are null."""
    if not bars:
        return []
    frame = pd.DataFrame({"time": [b.time for b in bars], "open": [b.open for b in bars],
                          "high": [b.high for b in bars], "low": [b.low for b in bars],
                          "close": [b.close for b in bars],
                          "volume": [b.volume for b in bars]})
    result = compute_batch(name, frame, **params)
    times = frame["time"].tolist()
    if isinstance(result, pd.Series):
        return [{"time": t, "value": _finite(v)} for t, v in zip(times, result.tolist(),
                                                                strict=True)]
    columns = {c: result[c].tolist() for c in result.columns}
    return [{"time": t, **{c: _finite(values[i]) for c, values in columns.items()}}
            for i, t in enumerate(times)]


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# ----- signals ------------------------------------------------------------------------------

@blueprint.get("/signals")
def signals() -> Response:
    limit = query_int("limit", 100, 1, 1000)
    symbol = query_text("symbol", max_length=32)
    symbol = symbol.upper() if symbol else None
    bridge = engine()
    records = call(lambda: bridge.engine.journal.signals(limit=limit, symbol=symbol))
    return jsonify({"signals": [signal_json(r) for r in records]})
