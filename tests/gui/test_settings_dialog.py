"""The settings dialog: problems shown under their fields as you type (the config's own
checks), Save disabled until they are fixed; saving writes the TOML file, keeps a trader's
comments and tables, and the app reads the new values back."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialogButtonBox, QLineEdit

from ibtrader.config import load_settings
from ibtrader.gui.settings_dialog import SettingsDialog
from ibtrader.gui.settings_file import check, save
from tests.gui.conftest import gui_settings

ORIGINAL = """# my settings
watchlist = ["AAPL"]

[ib]
port = 4002  # paper
"""


def line(dialog: SettingsDialog, name: str) -> QLineEdit:
    widget = dialog.fields[name]
    assert isinstance(widget, QLineEdit)
    return widget


def test_bad_values_are_shown_under_their_fields_and_block_saving(qtbot, tmp_path):
    dialog = SettingsDialog(gui_settings(tmp_path), tmp_path / "config.toml")
    qtbot.addWidget(dialog)
    dialog.show()
    save_button = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    assert save_button.isEnabled()
    port = line(dialog, "ib_port")
    port.clear()
    qtbot.keyClicks(port, "99999")
    assert dialog.errors["ib_port"].text() == "must be a whole number from 1 to 65535"
    assert dialog.errors["ib_port"].isVisible() and not save_button.isEnabled()
    host = line(dialog, "ib_host")
    host.setText("localhost:4002")
    assert "no scheme, path or port" in dialog.errors["ib_host"].text()
    line(dialog, "max_order_value").setText("-5")
    assert set(dialog.problems) == {"ib_port", "ib_host", "max_order_value"}
    assert not dialog.save() and not (tmp_path / "config.toml").exists()
    port.setText("4001")
    host.setText("10.0.0.5")
    line(dialog, "max_order_value").setText("20000")
    assert dialog.problems == {} and save_button.isEnabled()
    dialog.grab().save(str(tmp_path / "settings_dialog.png"))


def test_saving_writes_only_the_changes_and_keeps_the_file_layout(qtbot, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(ORIGINAL)
    settings = load_settings(path, env={"IBTRADER_DATA_DIR": str(tmp_path / "data")})
    dialog = SettingsDialog(settings, path)
    qtbot.addWidget(dialog)
    line(dialog, "ib_port").setText("4001")
    line(dialog, "daily_loss_limit").setText("750")
    line(dialog, "strategies").setText("sma_cross:fast=5;slow=30, supertrend")
    broker = dialog.fields["broker"]
    assert isinstance(broker, QComboBox)
    broker.setCurrentText("ib")
    with qtbot.waitSignal(dialog.saved) as saved:
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Save),
                         Qt.MouseButton.LeftButton)
    assert saved.args == [str(path)]
    text = path.read_text()
    assert text.startswith("# my settings") and "port = 4001  # paper" in text
    assert "ib_port" not in text  # updated where the file keeps it, not added twice
    again = load_settings(path, env={"IBTRADER_DATA_DIR": str(tmp_path / "data")})
    assert again.ib_port == 4001 and again.daily_loss_limit == 750 and again.broker == "ib"
    assert again.strategies == ("sma_cross:fast=5;slow=30", "supertrend")
    assert again.watchlist == ("AAPL",)


def test_check_and_save_without_the_dialog(tmp_path):
    base = gui_settings(tmp_path)
    good, problems = check(base, {"ib_client_id": "7", "log_level": "debug"})
    assert problems == {} and good is not None
    assert good.ib_client_id == 7 and good.log_level == "DEBUG"
    _, problems = check(base, {"ib_client_id": "seven", "price_band_pct": "101"})
    assert set(problems) == {"ib_client_id", "price_band_pct"}
    save(tmp_path / "new" / "c.toml", {"ib_client_id": 7, "strategies_dir": tmp_path})
    loaded = load_settings(tmp_path / "new" / "c.toml", env={})
    assert loaded.ib_client_id == 7 and loaded.strategies_dir == tmp_path


def test_the_file_menu_opens_the_dialog_and_a_save_is_announced(qtbot, qsettings, tmp_path):
    from ibtrader.gui.main_window import MainWindow

    window = MainWindow(qsettings, gui_settings(tmp_path), tmp_path / "mine.toml",
                        use_tray=False)
    qtbot.addWidget(window)
    window.show()
    window.settings_action.trigger()
    dialog = window.settings_dialog
    assert dialog.isVisible() and dialog.config_file == tmp_path / "mine.toml"
    line(dialog, "max_orders_per_minute").setText("12")
    assert dialog.save()
    assert "max_orders_per_minute = 12" in (tmp_path / "mine.toml").read_text()
    assert "saved to" in window.notifications_panel.item(0).text()
