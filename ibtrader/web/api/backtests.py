"""(being written)"""

from __future__ import annotations

from ibtrader.web.api import blueprint  # noqa: F401
