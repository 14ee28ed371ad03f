"""`ibtrader gui` in its own process: the real window on the simulator, a screenshot with
live quotes, a clean exit; plain `ibtrader` opens it too (or, without a display, streams
quotes in the terminal)."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtGui import QImage

from ibtrader import cli


def test_gui_command_runs_the_window_and_exits_cleanly(tmp_path):
    shot = tmp_path / "gui.png"
    env = {**os.environ, "IBTRADER_DATA_DIR": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "QT_QPA_PLATFORM": "offscreen",
           "IBTRADER_WATCHLIST": "AAPL,MSFT", "IBTRADER_STRATEGIES": "",
           "IBTRADER_HISTORY_LOOKBACK": "1 min=1 D,5 mins=1 D,15 mins=1 D,1 hour=2 D,1 day=1 M"}
    done = subprocess.run([sys.executable, "-m", "ibtrader", "gui", "--seconds", "6",
                           "--screenshot", str(shot), "--report-startup"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "first-paint" in done.stdout and "engine-ready" in done.stdout
    assert "first-quotes" in done.stdout  # quotes reached the watchlist
    image = QImage(str(shot))
    assert image.width() > 600 and image.height() > 400
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7)}
    assert len(colours) > 20  # a painted window, not a blank one
    ini = tmp_path / "config" / "ibtrader" / "ibtrader.conf"
    assert ini.exists() and "MSFT" in ini.read_text()  # the watchlist kept for next time


def test_plain_ibtrader_opens_the_window_where_there_is_a_display(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert cli._default_command() == "gui"
    parser = cli.build_parser(["gui"])
    args = parser.parse_args(["gui", "--seconds", "1"])
    assert args.handler.__module__ == "ibtrader.commands.gui" and args.seconds == 1


def test_plain_ibtrader_without_a_display_streams_quotes_in_the_terminal(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(IBTRADER_DATA_DIR=str(tmp_path), IBTRADER_WATCHLIST="AAPL,MSFT")
    try:  # it streams until Ctrl-C: let it run a few seconds, then stop it
        subprocess.run([sys.executable, "-m", "ibtrader"], capture_output=True, text=True,
                       timeout=10, env=env)
        raise AssertionError("plain ibtrader ended by itself")
    except subprocess.TimeoutExpired as stopped:
        out = (stopped.stdout or b"").decode()
        err = (stopped.stderr or b"").decode()
    assert "showing live quotes in the terminal instead" in err
    assert "AAPL" in out and "MSFT" in out


def test_without_a_display_it_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["IBTRADER_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "ibtrader", "gui"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 1
    assert "no display to open the window on" in done.stderr and "xvfb-run" in done.stderr
