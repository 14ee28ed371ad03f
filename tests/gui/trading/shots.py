"""Looking at a grabbed widget: saved under tmp_path, then checked pixel by pixel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QWidget


def grab(widget: QWidget, path: Path) -> QImage:
    pixmap = widget.grab()
    assert pixmap.save(str(path)), f"could not save {path}"
    return QImage(str(path))


def colours(image: QImage, step: int = 2) -> set[int]:
    """The distinct colours on a grid of every `step`-th pixel."""
    return {image.pixel(x, y) for x in range(0, image.width(), step)
            for y in range(0, image.height(), step)}


def count_near(image: QImage, target: QColor, tolerance: int = 40, step: int = 1) -> int:
    """How many pixels are within `tolerance` (per channel) of `target`."""
    n = 0
    for x in range(0, image.width(), step):
        for y in range(0, image.height(), step):
            c = QColor(image.pixel(x, y))
            if (abs(c.red() - target.red()) <= tolerance
                    and abs(c.green() - target.green()) <= tolerance
                    and abs(c.blue() - target.blue()) <= tolerance):
                n += 1
    return n
