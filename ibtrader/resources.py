"""Where the app's own files are, the same way from a source tree, an installed wheel and
the PyInstaller bundle.

Files that belong to a package (style sheets, the icon, the web pages) are found through
`importlib.resources`, which PyInstaller supports for data files collected next to their
package in the bundle. Files that come from another distribution we never import (the chart
library's JavaScript) are found through the import system's spec, without running the
package's code; in the bundle that is the folder the spec collected them into.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib import resources
from pathlib import Path

ICON_PACKAGE = "ibtrader.gui.resources"
ICON_NAME = "ibtrader.png"  # drawn by scripts/make_icon.py, committed
CHART_JS_PACKAGE = "lightweight_charts"
CHART_JS = ("js", "lightweight-charts.js")


class ResourceMissing(LookupError):
    """A file the app needs is not where this installation keeps it."""


def is_frozen() -> bool:
    """True inside the PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def bundle_root() -> Path:
    """The folder the bundle unpacked its files into (`_internal` of a one-folder build);
    outside the bundle, the folder holding the `ibtrader` package."""
    if is_frozen():
        return Path(sys._MEIPASS)  # type: ignore[attr-defined]
    return Path(__file__).resolve().parent.parent


def package_file(package: str, *parts: str) -> Path:
    """A data file of one of our packages, as a real path (Qt and Flask want paths)."""
    try:
        ref = resources.files(package).joinpath(*parts)
    except ModuleNotFoundError as exc:
        raise ResourceMissing(f"package {package} is not in this installation") from exc
    path = Path(str(ref))
    if not path.is_file():
        raise ResourceMissing(f"{'/'.join(parts)} of {package} is missing ({path})")
    return path


def package_folder(package: str, *parts: str) -> Path:
    """A folder of data files of one of our packages (the web pages, say)."""
    try:
        path = Path(str(resources.files(package).joinpath(*parts)))
    except ModuleNotFoundError as exc:
        raise ResourceMissing(f"package {package} is not in this installation") from exc
    if not path.is_dir():
        raise ResourceMissing(f"the folder {'/'.join(parts)} of {package} is missing ({path})")
    return path


def shared_file(*parts: str) -> Path:
    """A file of the repository's resources/ folder (the N8N workflow, the NocoDB schema),
    which the bundle carries at its root."""
    path = bundle_root().joinpath("resources", *parts)
    if not path.is_file():
        raise ResourceMissing(f"resources/{'/'.join(parts)} is missing ({path})")
    return path


def distribution_file(package: str, *parts: str) -> Path:
    """A data file shipped by a package we do not import (its code is not needed)."""
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder).joinpath(*parts)
        if path.is_file():
            return path
    raise ResourceMissing(f"{'/'.join(parts)} of the package {package} is missing "
                          f"(install {package.replace('_', '-')})")


def app_icon() -> Path:
    """The app's icon as a PNG (the window icon; the build derives .ico and .icns)."""
    return package_file(ICON_PACKAGE, "icons", ICON_NAME)


def chart_library() -> Path:
    """TradingView Lightweight Charts, as the `lightweight-charts` package ships it."""
    return distribution_file(CHART_JS_PACKAGE, *CHART_JS)
