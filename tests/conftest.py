"""Test-wide setup: Qt without a display (before any QApplication exists), and QtWebEngine
ready for the Dashboard panel's tests: it must be imported before the QApplication is made,
and Chromium's sandbox refuses to run as root (containers, CI)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if hasattr(os, "geteuid") and os.geteuid() == 0:
    os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
try:
    import PySide6.QtWebEngineWidgets  # noqa: F401
except ImportError:  # without Qt (or its WebEngine) the tests that need it say so themselves
    pass

# fixtures every test package may use: a real S3 server on loopback (`s3_server`)
pytest_plugins = ["tests.integration.s3server"]
