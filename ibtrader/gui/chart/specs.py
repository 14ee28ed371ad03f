"""Indicator specs as a trader types them: "sma:20", "bbands:20:2", "macd:12:26:9".

The numbers after the name are the indicator's parameters in the order of its ParamSpecs
(core.indicators registry); missing ones take their defaults. Parsing checks everything
make_indicator checks, so a bad spec fails here, with a message naming the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ibtrader.core.indicators import indicator_info, make_indicator


@dataclass(frozen=True, slots=True)
class StudySpec:
    """One parsed indicator spec."""

    text: str  # as given, normalised ("sma:20")
    name: str  # registry key
    params: dict[str, Any]
    overlay: bool  # drawn on the price plot (True) or in a panel of its own

    @property
    def label(self) -> str:
        """Short label for legends and the readout: "SMA 20", "MACD 12,26,9"."""
        values = ",".join(_fmt(v) for v in self.params.values())
        return f"{self.name.upper()} {values}".strip()


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def parse_spec(text: str) -> StudySpec:
    """"bbands:20:2" -> StudySpec(name="bbands", params={"period": 20, "k": 2.0}, ...)."""
    parts = [p.strip() for p in text.strip().lower().split(":")]
    if not parts[0]:
        raise ValueError(f"indicator spec {text!r}: expected name[:param...], e.g. sma:20")
    try:
        info = indicator_info(parts[0])
    except ValueError as e:
        raise ValueError(f"indicator spec {text!r}: {e}") from None
    values = parts[1:]
    if len(values) > len(info.params):
        names = ":".join(p.name for p in info.params) or "no parameters"
        raise ValueError(
            f"indicator spec {text!r}: {info.name} takes at most {len(info.params)} "
            f"parameter(s) ({names}), got {len(values)}"
        )
    params: dict[str, Any] = {}
    for spec, raw in zip(info.params, values, strict=False):
        try:
            params[spec.name] = spec.type(float(raw)) if spec.type is int else spec.type(raw)
        except (ValueError, OverflowError):
            raise ValueError(
                f"indicator spec {text!r}: {spec.name} must be a number, got {raw!r}"
            ) from None
        if spec.type is int and float(raw) != int(float(raw)):
            raise ValueError(f"indicator spec {text!r}: {spec.name} must be whole, got {raw!r}")
    try:
        full = make_indicator(info.name, **params).params()
    except ValueError as e:
        raise ValueError(f"indicator spec {text!r}: {e}") from None
    return StudySpec(":".join(parts), info.name, full, info.overlay)


def parse_specs(texts: list[str] | tuple[str, ...], *, overlay: bool) -> list[StudySpec]:
    """Parse a list and check each belongs where it is asked to go."""
    specs = [parse_spec(t) for t in texts]
    where = "an overlay" if overlay else "a panel"
    for s in specs:
        if s.overlay != overlay:
            other = "a panel" if overlay else "an overlay"
            raise ValueError(f"indicator spec {s.text!r}: {s.name} is {other}, not {where}")
    return specs
