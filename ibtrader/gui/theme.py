"""Themes: a Qt style sheet per theme, shipped in `gui/resources/styles/`, dark by default.

Views stay palette-neutral: they never hard-code background or text colours, so a theme
is one style sheet applied to the whole application. Only meaning-carrying colours (up,
down, connection states) are chosen in code, from `semantic_colour`, per theme.
"""

from __future__ import annotations

from importlib import resources

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

THEMES = ("dark", "light")
DEFAULT_THEME = "dark"

# Colours that mean something (gains, losses, states): readable on each theme's base.
_SEMANTIC: dict[str, dict[str, str]] = {
    "dark": {"up": "#26a69a", "down": "#ef5350", "ok": "#4caf50", "warn": "#ffb300",
             "bad": "#ef5350", "muted": "#8a909a"},
    "light": {"up": "#00897b", "down": "#d32f2f", "ok": "#2e7d32", "warn": "#ef6c00",
              "bad": "#c62828", "muted": "#6b717b"},
}


def style_sheet(name: str) -> str:
    """The style sheet of theme `name`; ValueError naming the themes for an unknown one."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}: choose one of {', '.join(THEMES)}")
    return (resources.files("ibtrader.gui.resources") / "styles" / f"{name}.qss").read_text(
        encoding="utf-8")


def apply_theme(app: QApplication, name: str) -> None:
    app.setStyleSheet(style_sheet(name))
    app.setProperty("ibtrader_theme", name)


def current_theme(app: QApplication | None = None) -> str:
    app = app or QApplication.instance()
    name = app.property("ibtrader_theme") if app is not None else None
    return name if name in THEMES else DEFAULT_THEME


def semantic_colour(role: str, theme: str | None = None) -> QColor:
    """The colour for `role` (up, down, ok, warn, bad, muted) on the current theme."""
    return QColor(_SEMANTIC[theme or current_theme()][role])
