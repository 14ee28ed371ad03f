"""(being written)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    view._ibtrader_public = True  # type: ignore[attr-defined]
    return view


def install(app: Any, context: Any) -> None:
    pass
