"""User strategies: every .py file in a folder, imported one by one.

A file that fails (a syntax error, an exception at import, a parameter whose default is
outside its bounds, no Strategy subclass, a name another strategy has, defaults that do not
validate or indicators that cannot be built) is reported with the file, the line and the
error, and skipped; the others load. Loading the folder again (after an edit) replaces the
classes its files define, and forgets those whose file no longer defines them.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ibtrader.core.strategy import Strategy

MODULE_PREFIX = "ibtrader_user_strategies."

# name -> file of every user strategy registered, to know what a folder's reload replaces
_sources: dict[str, Path] = {}


@dataclass(frozen=True)
class LoadError:
    path: Path
    line: int | None  # the line in the user's file at fault, where known
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class _FileError(Exception):
    """A problem with a loaded file, at a known line."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def load_user_strategies(folder: Path | str) -> tuple[list[str], list[LoadError]]:
    """Import the strategies of every `*.py` file in `folder` (not those starting with
    "_") and register them by name. Returns (names loaded, errors); never raises for a
    broken file. A missing folder loads nothing."""
    from ibtrader.core.strategies import register_strategy, unregister_strategy

    folder = Path(folder).resolve()
    before = {name for name, path in _sources.items() if path.parent == folder}
    loaded: list[str] = []
    errors: list[LoadError] = []
    paths = sorted(folder.glob("*.py")) if folder.is_dir() else []
    owners: dict[str, Path] = {}  # name -> file, to refuse two files with one name
    for path in paths:
        if path.name.startswith("_"):
            continue
        try:
            classes = _checked_classes(_import(path))
            for cls in classes:
                if cls.name in owners:
                    raise _FileError(f"strategy name {cls.name!r} is already used by "
                                     f"{owners[cls.name].name}", _line_of(cls))
            for cls in classes:
                try:
                    register_strategy(cls, replace=True)
                except ValueError as exc:
                    raise _FileError(str(exc), _line_of(cls)) from None
                owners[cls.name] = _sources[cls.name] = path
                loaded.append(cls.name)
        except Exception as exc:  # a user's file may raise anything: report, go on
            errors.append(_describe(exc, path))
    for name in before - set(loaded):  # deleted, renamed or now broken: not runnable
        unregister_strategy(name)
        del _sources[name]
    return loaded, errors


def _import(path: Path) -> ModuleType:
    name = MODULE_PREFIX + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _checked_classes(module: ModuleType) -> list[type[Strategy]]:
    """The named Strategy classes the module defines, each built once with its defaults
    (with its indicators) so that mistakes show at load time, not in the middle of a run.
    A class without a `name` is taken for a helper base class, unless it is the only one."""
    defined = [obj for obj in vars(module).values()
               if isinstance(obj, type) and issubclass(obj, Strategy)
               and obj.__module__ == module.__name__]
    if not defined:
        raise _FileError("defines no Strategy subclass (class X(Strategy): ...)", None)
    named = [cls for cls in defined if "name" in vars(cls) and cls.name]
    if not named:
        cls = defined[0]
        raise _FileError(f"{cls.__name__} has no `name` (e.g. name = \"my_strategy\")",
                         _line_of(cls))
    for cls in named:
        if cls.on_bar is Strategy.on_bar:
            raise _FileError(f"{cls.__name__} does not define on_bar(self, ctx)", _line_of(cls))
        cls().indicators()
    return named


def _line_of(cls: type) -> int | None:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return None


def _describe(exc: BaseException, path: Path) -> LoadError:
    if isinstance(exc, _FileError):
        return LoadError(path, exc.line, str(exc))
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError):
        return LoadError(path, exc.lineno, f"SyntaxError: {exc.msg}")
    here = path.resolve()
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).resolve() == here]
    return LoadError(path, frames[-1].lineno if frames else None, text)
