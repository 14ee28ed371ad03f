"""Export a widget as it looks now to a PNG file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QWidget


def settle_layout() -> None:
    """Apply pending layout changes now (a panel just added, a longer symbol): what the event
    loop does before its next paint, without running any other event."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)


def save_png(widget: QWidget, path: Path) -> Path:
    if path.suffix.lower() != ".png":
        raise ValueError(f"export path must end in .png, got {path}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"export folder {path.parent} does not exist")
    settle_layout()
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"could not write the chart to {path}")
    return path
