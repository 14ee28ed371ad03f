"""The installable bundle, built the way a release is (scripts/build.py on build.spec) from a
clean checkout, then run: `dist/ibtrader/ibtrader --selftest` must pass every check.

Slow (a few minutes: PyInstaller and the archive). Run it alone with
`pytest -m slow tests/packaging`. It builds from a `git clone` of HEAD, so uncommitted files
are not in it; IBTRADER_BUNDLE_SOURCE=worktree copies the working tree instead (to try a
change before committing it). The build uses this test's Python environment as it is
(`scripts/build.py --python`), which needs the `pack` extra (PyInstaller) installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from ibtrader import selftest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
NAME = "ibtrader"
EXE = NAME + (".exe" if sys.platform == "win32" else "")
NOT_COPIED = shutil.ignore_patterns(".venv", ".git", "build", "dist", "__pycache__",
                                    "*.egg-info", ".pytest_cache", ".ruff_cache",
                                    ".import_linter_cache")


def checkout(dest: Path) -> Path:
    if os.environ.get("IBTRADER_BUNDLE_SOURCE") == "worktree":
        shutil.copytree(ROOT, dest, ignore=NOT_COPIED)
    else:
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)],
                       check=True)
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout in which scripts/build.py has built dist/."""
    pytest.importorskip("PyInstaller", reason="needs the pack extra: pip install -e '.[pack]'")
    source = checkout(tmp_path_factory.mktemp("bundle") / "src")
    done = subprocess.run([sys.executable, str(source / "scripts" / "build.py"),
                           "--python", sys.executable], cwd=source, capture_output=True,
                          text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    return source


def frozen(built: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IBTRADER_")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"), QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONPATH", None)  # the bundle must need nothing from this environment
    return subprocess.run([str(built / "dist" / NAME / EXE), *args], env=env,
                          capture_output=True, text=True, timeout=300, cwd=home)


def test_the_frozen_app_passes_its_selftest(built: Path, tmp_path: Path) -> None:
    done = frozen(built, "--selftest", home=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(" ")[1] for line in lines] == [c.name for c in selftest.CHECKS]
    assert all(line.startswith("ok ") for line in lines), done.stdout
    assert "(frozen)" in done.stdout  # resources came from the bundle, not a source tree


def test_the_frozen_app_reports_the_package_version(built: Path, tmp_path: Path) -> None:
    done = frozen(built, "--version", home=tmp_path)

    assert done.stdout.strip() == f"{NAME} {version(NAME)}"


def test_the_archive_is_named_by_version_and_platform_and_holds_the_app(built: Path) -> None:
    archives = list((built / "dist").glob(f"{NAME}-*"))
    assert len(archives) == 1
    name = archives[0].name
    assert re.fullmatch(rf"{NAME}-{re.escape(version(NAME))}-[a-z]+-\w+\.(tar\.gz|zip)", name)
    if name.endswith(".zip"):
        with zipfile.ZipFile(archives[0]) as zf:
            assert f"{NAME}/{EXE}" in zf.namelist()
    else:
        with tarfile.open(archives[0]) as tf:
            member = tf.getmember(f"{NAME}/{EXE}")
            assert member.isfile() and member.mode & 0o100  # still executable when unpacked


def test_the_bundle_leaves_out_what_the_app_does_not_use(built: Path) -> None:
    inside = built / "dist" / NAME / "_internal"
    for package in ("pytest", "hypothesis", "schemathesis", "playwright", "backtesting",
                    "tkinter", "botocore"):
        assert not (inside / package).exists(), package
    assert (inside / "matplotlib").is_dir()  # the decision and fill charts are drawn with it
    qt = inside / "PySide6" / "Qt"
    locales = {p.name for p in (qt / "translations" / "qtwebengine_locales").iterdir()}
    assert locales == {"en-US.pak"}
    assert not list(qt.glob("lib/*Qt6Quick3D*")) and not (qt / "qml").exists()
    if sys.platform.startswith("linux"):  # the platforms the app runs on: X11 and offscreen
        platforms = {p.name for p in (qt / "plugins" / "platforms").iterdir()}
        assert {"libqxcb.so", "libqoffscreen.so"} <= platforms
        assert not any("wayland" in p for p in platforms)
