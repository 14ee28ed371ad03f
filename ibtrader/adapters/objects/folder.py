"""`FolderObjectStore`: the embedded default object store, one file per key under a folder.

Writes are atomic: the bytes go to a temporary file in the same folder, are flushed to
disk, then renamed over the key's file, so a reader (or a crash) sees the old object or the
new one, never half of one. Calls block on disk I/O: from the asyncio loop, call them
through `asyncio.to_thread`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_TEMP_SUFFIX = ".partial"


class InvalidKey(ValueError):
    """A key that cannot name an object: empty, absolute, or climbing out with ".."."""


class FolderObjectStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise InvalidKey(f"object key {key!r} must be relative, '/'-separated, "
                             f"without empty, '.' or '..' parts")
        if key.endswith(_TEMP_SUFFIX):
            raise InvalidKey(f"object key {key!r} must not end with {_TEMP_SUFFIX}")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                    suffix=_TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix`, sorted."""
        if not self.root.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                if p.is_file() and not p.name.endswith(_TEMP_SUFFIX))
        return sorted(k for k in keys if k.startswith(prefix))

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error (deletes are idempotent)."""
        self._path(key).unlink(missing_ok=True)
