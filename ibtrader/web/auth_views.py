"""(being written)"""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("auth", __name__)
