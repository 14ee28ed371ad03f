"""Checking edited settings with `ibtrader.config`'s own rules, and saving them to TOML.

`check(base, texts)` builds a `Settings` with the edited values as text: every value goes
through the same parsing and checks as one read from a file or a variable, and every bad
one comes back at once, keyed by setting name. `save(path, values)` writes the values into
the TOML file with tomlkit, so a trader's comments and layout survive; a key the file
already holds in a table (`[ib] port = …`) is updated where it is.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit

from ibtrader.config import ENV_PREFIX, ConfigErrors, Settings


def check(base: Settings, texts: Mapping[str, str]) -> tuple[Settings | None, dict[str, str]]:
    """The settings with `texts` applied, or None and {setting: what is wrong}."""
    unknown = [name for name in texts if not hasattr(base, name)]
    if unknown:
        raise KeyError(f"not settings: {', '.join(unknown)}")
    try:
        return dataclasses.replace(base, **dict(texts)), {}
    except ConfigErrors as exc:
        return None, {error.key: error.message for error in exc.errors}


def overridden_by_environment(names: list[str],
                              env: Mapping[str, str] | None = None) -> list[str]:
    """The settings among `names` an IBTRADER_* variable sets (it wins over the file)."""
    env = os.environ if env is None else env
    return [n for n in names if env.get(ENV_PREFIX + n.upper())]


def toml_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def save(path: Path, values: Mapping[str, Any]) -> None:
    """Write `values` ({setting: typed value}) into the TOML file at `path` (made if new)."""
    path = Path(path)
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    for name, value in values.items():
        table, key = _place(doc, name)
        target = doc if table is None else doc[table]
        target[key] = toml_value(value)  # type: ignore[index]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.replace(path)  # never a half-written config file


def _place(doc: tomlkit.TOMLDocument, name: str) -> tuple[str | None, str]:
    # where the file already keeps `name`: `[ib] port` for ib_port, else a flat key
    for table, content in doc.items():
        if isinstance(content, Mapping) and name.startswith(f"{table}_"):
            key = name.removeprefix(f"{table}_")
            if key in content:
                return table, key
    return None, name
