"""`ObjectSink`: the outbox sink ("minio") that uploads objects into buckets.

A record says which bucket and key, and where the bytes are: inline (base64, for small
objects up to `INLINE_LIMIT`) or a local file path (charts, Parquet files: blobs do not
belong in the SQLite outbox). The key is deterministic (the caller's), so delivering a
record twice writes the same object twice: idempotent, as the outbox requires.

    record_id, kind, payload = object_record("charts", "decisions/D1.png", path=png)
    with journal.atomic():
        journal.record_decision(decision)
        journal.enqueue("minio", record_id, kind, payload)
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ibtrader.core.outbox import OutboxRecord, UndeliverableRecord

from .minio_store import check_key

INLINE_LIMIT = 256 * 1024  # bytes kept in the outbox row; bigger objects go by path


class _Bucket(Protocol):
    def put(self, key: str, data: bytes) -> None: ...


def object_record(bucket: str, key: str, *, data: bytes | None = None,
                  path: Path | str | None = None, content_type: str = "",
                  kind: str = "object") -> tuple[str, str, dict[str, Any]]:
    """(record_id, kind, payload) for `journal.enqueue("minio", ...)`: exactly one of
    `data` (at most INLINE_LIMIT bytes) or `path` (an existing local file)."""
    check_key(key)
    if (data is None) == (path is None):
        raise ValueError("an object record needs exactly one of data= or path=")
    payload: dict[str, Any] = {"bucket": bucket, "key": key, "content_type": content_type}
    if data is not None:
        if len(data) > INLINE_LIMIT:
            raise ValueError(f"object {bucket}/{key} is {len(data):,} bytes, more than "
                             f"{INLINE_LIMIT:,} kept inline: write it to a file, pass path=")
        payload["data_b64"] = base64.b64encode(data).decode("ascii")
    else:
        file = Path(path).absolute()  # type: ignore[arg-type]
        if not file.is_file():
            raise ValueError(f"object {bucket}/{key}: {file} is not a file")
        payload["path"] = str(file)
    return f"{bucket}/{key}", kind, payload


class ObjectSink:
    """Delivers object records to the store of their bucket (`MinioObjectStore`, or any
    `ObjectStore`). A record for a bucket it has no store for, or whose file is gone,
    is undeliverable; a store error is retried by the worker."""

    def __init__(self, buckets: Mapping[str, _Bucket], name: str = "minio") -> None:
        self.name = name
        self.buckets = dict(buckets)

    def deliver(self, record: OutboxRecord) -> None:
        p = record.payload
        store = self.buckets.get(p.get("bucket", ""))
        if store is None:
            raise UndeliverableRecord(f"no store for bucket {p.get('bucket')!r} "
                                      f"(have: {', '.join(sorted(self.buckets)) or 'none'})")
        key = p["key"]
        if "data_b64" in p:
            store.put(key, base64.b64decode(p["data_b64"]))
            return
        path = Path(p["path"])
        if not path.is_file():
            raise UndeliverableRecord(f"{path} is gone: object {p['bucket']}/{key} cannot "
                                      f"be uploaded")
        put_file = getattr(store, "put_file", None)
        if put_file is not None:  # streamed, multipart when large
            put_file(key, path, p.get("content_type", ""))
        else:
            store.put(key, path.read_bytes())
