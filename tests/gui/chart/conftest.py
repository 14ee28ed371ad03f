"""Chart test helpers: deterministic bars, a shown 1600x900 chart, pixel counting."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import QWidget

from ibtrader.core.market import Bar
from ibtrader.gui.chart import ChartWidget
from ibtrader.gui.chart.export import settle_layout

START = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def make_bars(n: int, step: float = 60.0, start: float = START) -> list[Bar]:
    """A wave: runs of rising then falling bars, each bar opening at the last close."""
    bars, prev = [], 100.0
    for i in range(n):
        close = 100.0 + 8.0 * math.sin(i / 12.0) + 0.5 * math.sin(i / 2.3)
        high, low = max(prev, close) + 0.4, min(prev, close) - 0.4
        bars.append(Bar(start + i * step, prev, high, low, close, 1_000.0 + (i % 7) * 100))
        prev = close
    return bars


@pytest.fixture
def chart(qtbot):
    w = ChartWidget(tz=None)
    qtbot.addWidget(w)
    w.resize(1600, 900)
    w.show()
    qtbot.waitExposed(w)
    return w


def grab(widget: QWidget) -> QPixmap:
    """The widget as the next paint shows it (pending layout changes applied first)."""
    settle_layout()
    return widget.grab()


def rgb_array(image: QImage) -> np.ndarray:
    """Height x width x 3 (r, g, b) of a grabbed image."""
    img = image.convertToFormat(QImage.Format.Format_RGB32)
    h, w = img.height(), img.width()
    raw = np.frombuffer(img.constBits(), np.uint8).reshape(h, img.bytesPerLine() // 4, 4)
    return raw[:, :w, 2::-1]  # BGRA in memory -> RGB


def count_colour(pixels: np.ndarray, colour: str, tol: int = 6) -> int:
    c = QColor(colour)
    target = np.array([c.red(), c.green(), c.blue()], dtype=int)
    return int(np.all(np.abs(pixels.astype(int) - target) <= tol, axis=-1).sum())
