"""`ibtrader --selftest`: one line per check, stop at the first failure, never touch the
user's data; and the resource paths it checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ibtrader import resources, selftest

LINE = re.compile(r"^(ok (?P<name>[\w-]+) \((?P<ms>\d+) ms\): .+|FAIL (?P<failed>[\w-]+): .+)$")
CHECK_NAMES = [check.name for check in selftest.CHECKS]


def run_selftest(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m ibtrader --selftest` as a user would run it, with HOME in a temp folder and
    no IBTRADER_* variables from this machine."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IBTRADER_")}
    clean.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"),
                 XDG_CONFIG_HOME=str(home / "config"), QT_QPA_PLATFORM="offscreen", **env)
    return subprocess.run([sys.executable, "-m", "ibtrader", "--selftest"], env=clean,
                          capture_output=True, text=True, timeout=120)


def test_every_check_passes_here_and_the_users_data_is_untouched(tmp_path: Path) -> None:
    user_data = tmp_path / "user-data"
    done = run_selftest(tmp_path, IBTRADER_DATA_DIR=str(user_data))

    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert [LINE.match(line)["name"] for line in lines] == CHECK_NAMES  # type: ignore[index]
    assert f"data={user_data}" in lines[1]
    assert re.search(r"BUY 1 AAPL MKT filled 1 @ \d+\.\d+", done.stdout)
    assert "GET /api/v1/health -> 200" in done.stdout
    # the order, the paper account and the journal lived in a temp folder, now gone
    assert not user_data.exists() or not any(user_data.iterdir())


def test_a_broken_setting_fails_there_and_nothing_after_it_runs(tmp_path: Path) -> None:
    done = run_selftest(tmp_path, IBTRADER_BROKER="tws")

    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ok imports ")
    assert lines[1].startswith("FAIL settings: ")
    assert 'IBTRADER_BROKER="tws"' in lines[1] and "one of sim, ib" in lines[1]
    assert len(lines) == 2


def test_the_first_failure_stops_the_run_with_its_reason() -> None:
    ran: list[str] = []

    def passes(ctx: selftest.Context) -> str:
        ran.append("a")
        return "fine"

    def fails(ctx: selftest.Context) -> str:
        ran.append("b")
        raise selftest.CheckFailed("the gateway refused the order")

    def crashes(ctx: selftest.Context) -> str:
        raise KeyError("boom")

    def never(ctx: selftest.Context) -> str:
        ran.append("c")
        return "unreachable"

    out: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            out.append(text)

        def flush(self) -> None:
            pass

    ctx = selftest.Context(None, Path("."))
    checks = (selftest.Check("a", passes), selftest.Check("b", fails),
              selftest.Check("c", never))
    assert selftest.run_checks(checks, ctx, Out()) == 1  # type: ignore[arg-type]
    text = "".join(out).splitlines()
    assert ran == ["a", "b"]
    assert re.fullmatch(r"ok a \(\d+ ms\): fine", text[0])
    assert text[1] == "FAIL b: the gateway refused the order"

    out.clear()
    assert selftest.run_checks((selftest.Check("x", crashes),), ctx, Out()) == 1  # type: ignore[arg-type]
    assert "".join(out) == "FAIL x: KeyError: 'boom'\n"


def test_without_the_web_runtime_the_web_check_says_what_is_missing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ibtrader.web.runtime", None)  # import now fails

    with pytest.raises(selftest.CheckFailed, match=r"web server is not in this installation"):
        selftest.check_web(selftest.Context(None, tmp_path))


def test_a_blank_window_counts_too_few_colours(qapp: object) -> None:
    from PySide6.QtGui import QColor, QImage

    blank = QImage(640, 400, QImage.Format.Format_RGB32)
    blank.fill(QColor("#1e222a"))
    assert selftest._colours(blank) < selftest.MIN_COLOURS


def test_resources_resolve_from_the_source_tree() -> None:
    assert not resources.is_frozen()
    assert resources.app_icon().read_bytes().startswith(b"\x89PNG")
    assert resources.chart_library().name == "lightweight-charts.js"
    assert resources.package_file("ibtrader.gui.resources", "styles", "dark.qss").is_file()
    assert (resources.package_folder("ibtrader.web", "static") / "index.html").is_file()
    assert resources.bundle_root() == Path(resources.__file__).resolve().parent.parent


def test_a_missing_resource_names_the_file_and_the_package() -> None:
    with pytest.raises(resources.ResourceMissing, match=r"styles/nope.qss of ibtrader.gui"):
        resources.package_file("ibtrader.gui.resources", "styles", "nope.qss")
    with pytest.raises(resources.ResourceMissing, match=r"install no-such-package"):
        resources.distribution_file("no_such_package", "x.js")


def test_in_the_bundle_files_are_found_under_its_folder(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "workflow.json").write_text("{}")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)

    assert resources.is_frozen()
    assert resources.bundle_root() == tmp_path
    assert resources.shared_file("workflow.json") == tmp_path / "resources" / "workflow.json"
    with pytest.raises(resources.ResourceMissing, match=r"resources/schema.json is missing"):
        resources.shared_file("schema.json")
