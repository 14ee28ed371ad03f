"""Builds the installable bundle: dist/ibtrader/ and dist/ibtrader-<version>-<platform>.tar.gz
(.zip on Windows), on Linux, Windows and macOS alike.

    python scripts/build.py                   # uses .venv (made if missing), installs .[pack]
    python scripts/build.py --python PY       # builds with an existing environment as it is
    python scripts/build.py --selftest        # then runs the bundle's `--selftest`

Steps: (1) the build environment: `.venv` in the checkout, created when missing, with the app
and its `pack` extra (PyInstaller) installed; (2) the icon files the platform wants (.ico on
Windows, .icns on macOS) drawn from the committed PNG with Pillow; (3) PyInstaller on
build.spec; (4) the archive. It prints the build time and the sizes. Only the standard library
is used at the top level, so any Python 3.11+ can start it; steps 2-4 run again inside the
build environment (`--stage=inside`), where Pillow and PyInstaller are.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tarfile
import time
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "ibtrader"
DIST = ROOT / "dist"
WORK = ROOT / "build"
ICONS = WORK / "icons"  # build.spec looks here
ICON_PNG = ROOT / "ibtrader" / "gui" / "resources" / "icons" / "ibtrader.png"
WINDOWS = sys.platform == "win32"
MACOS = sys.platform == "darwin"


# --- step 1: the build environment ---------------------------------------------------------

def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if WINDOWS else "bin/python")


def build_environment(python: str | None) -> Path:
    """The interpreter to build with: the one given (used as it is), else .venv's, made and
    filled with the app and PyInstaller."""
    if python:
        return Path(python)
    folder = ROOT / ".venv"
    if not venv_python(folder).exists():
        print(f"creating {folder}", flush=True)
        venv.EnvBuilder(with_pip=True).create(folder)
    interpreter = venv_python(folder)
    run([str(interpreter), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[pack]"])
    return interpreter


# --- step 2: icons -------------------------------------------------------------------------

def make_icons() -> Path | None:
    """The platform's icon file from the PNG (Linux bundles use none)."""
    from PIL import Image

    ICONS.mkdir(parents=True, exist_ok=True)
    image = Image.open(ICON_PNG)
    if WINDOWS:
        out = ICONS / f"{NAME}.ico"
        image.save(out, sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    elif MACOS:
        out = ICONS / f"{NAME}.icns"
        image.save(out)  # Pillow writes every size .icns holds from the 1024 px image
    else:
        return None
    return out


# --- step 3: PyInstaller -------------------------------------------------------------------

def pyinstaller() -> Path:
    env = dict(os.environ)
    # This checkout's sources are what gets frozen, even if the environment has another
    # copy of ibtrader installed (an editable install of a different checkout, say).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(DIST), "--workpath", str(WORK / "pyinstaller"),
         str(ROOT / "build.spec")], env=env)
    return DIST / NAME


# --- step 4: the archive -------------------------------------------------------------------

def platform_tag() -> str:
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower() or "unknown"
    return f"{system.removesuffix('2')}-{machine}"  # linux2 on old Pythons


def archive(bundle: Path, version: str) -> Path:
    """The folder (the .app on macOS) as one file a trader unpacks: a zip on Windows, a
    gzipped tar elsewhere (it keeps the executable bits and the .app's symlinks)."""
    top = DIST / f"{NAME}.app" if MACOS and (DIST / f"{NAME}.app").is_dir() else bundle
    stem = DIST / f"{NAME}-{version}-{platform_tag()}"
    if WINDOWS:
        out = stem.with_suffix(".zip")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path in sorted(top.rglob("*")):
                zf.write(path, path.relative_to(top.parent))
        return out
    out = Path(f"{stem}.tar.gz")
    with tarfile.open(out, "w:gz", compresslevel=6) as tf:
        tf.add(top, arcname=top.name)
    return out


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def selftest(bundle: Path) -> int:
    exe = bundle / (f"{NAME}.exe" if WINDOWS else NAME)
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return subprocess.run([str(exe), "--selftest"], env=env, check=False).returncode


def inside(args: argparse.Namespace) -> int:
    """Steps 2-4, run by the build environment's interpreter."""
    import importlib.util
    from importlib.metadata import version

    if importlib.util.find_spec("PyInstaller") is None:
        print(f"PyInstaller is not installed for {sys.executable}: "
              "pip install -e '.[pack]' there, or leave out --python", file=sys.stderr)
        return 2
    started = time.perf_counter()
    icon = make_icons()
    if icon:
        print(f"icon: {icon}", flush=True)
    bundle = pyinstaller()
    built = time.perf_counter()
    out = archive(bundle, version(NAME))
    done = time.perf_counter()
    mb = 1024 * 1024
    print(f"bundle:  {bundle} ({folder_size(bundle) / mb:.0f} MB unpacked)")
    print(f"archive: {out} ({out.stat().st_size / mb:.0f} MB)")
    print(f"time:    PyInstaller {built - started:.0f} s, archive {done - built:.0f} s")
    return selftest(bundle) if args.selftest else 0


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", metavar="PY",
                        help="build with this interpreter's environment, installing nothing")
    parser.add_argument("--selftest", action="store_true",
                        help="run the built app's --selftest (offscreen) at the end")
    parser.add_argument("--stage", choices=("outside", "inside"), default="outside",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage == "inside":
        return inside(args)
    interpreter = build_environment(args.python)
    command = [str(interpreter), str(Path(__file__).resolve()), "--stage=inside"]
    if args.selftest:
        command.append("--selftest")
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
