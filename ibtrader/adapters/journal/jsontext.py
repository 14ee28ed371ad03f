"""Journal values as JSON text: indicator values (named tuples, slotted objects, numpy
scalars) as plain objects, nan and infinities as null (JSON has no NaN)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def to_json(values: Mapping[str, Any]) -> str:
    """Indicator values as JSON: named tuples and dataclass-like values as objects,
    nan and infinities as null (JSON has no NaN)."""
    return json.dumps(_plain(values), separators=(",", ":"), allow_nan=False)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "_asdict"):  # a NamedTuple: SuperTrendValue, MACDValue, ...
        return _plain(value._asdict())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__slots__") and not isinstance(value, type):
        return {k: _plain(getattr(value, k)) for k in _slot_names(value)}
    if isinstance(value, int | float):  # numpy scalars
        return _plain(float(value))
    return str(value)


def _slot_names(value: Any) -> list[str]:
    names: list[str] = []
    for cls in type(value).__mro__:
        slots = getattr(cls, "__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    return [n for n in names if not n.startswith("_") and hasattr(value, n)]
