"""Test-wide setup: Qt without a display (before any QApplication exists)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
