"""`ChartFiles`: where chart PNGs go — the local object folder, and MinIO's charts bucket.

Every chart is written to `<objects_dir>/<bucket>/<key>` first (the folder mirrors the
bucket, so a key names the same image in both). With MinIO configured, its upload is
queued in the journal's outbox (`queue_upload`, on the loop: one short SQLite write), and
the delivery worker sends it when the server is up: a chart is never lost to an outage.

URLs are presigned locally, with the region from the settings: signing never waits for the
server (the minio client would otherwise ask the server for the bucket's region once).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from ibtrader.adapters.objects.folder import FolderObjectStore
from ibtrader.adapters.objects.minio_store import MinioObjectStore, check_key
from ibtrader.adapters.objects.object_sink import object_record

log = logging.getLogger(__name__)

PNG = "image/png"
URL_EXPIRY = timedelta(hours=24)
OUTBOX_SINK = "minio"  # the ObjectSink's name: see app.remote_sinks


class _Journal(Protocol):
    def atomic(self) -> Any: ...
    def enqueue(self, sink: str, record_id: str, kind: str, payload: dict[str, Any]) -> None: ...


class ChartFiles:
    def __init__(self, objects_dir: Path | str, bucket: str = "charts", *,
                 journal: _Journal | None = None, remote: MinioObjectStore | None = None,
                 url_expiry: timedelta = URL_EXPIRY) -> None:
        """`journal`: the outbox to queue uploads in; `remote`: the charts bucket, for
        presigned URLs and direct uploads. Without them charts stay local."""
        if remote is not None and remote.bucket != bucket:
            raise ValueError(f"chart bucket {bucket!r} but the MinIO store is for "
                             f"{remote.bucket!r}")
        self.bucket = bucket
        self.folder = FolderObjectStore(Path(objects_dir) / bucket)
        self.journal = journal
        self.remote = remote
        self.url_expiry = url_expiry

    def __repr__(self) -> str:
        return f"ChartFiles({self.folder.root}, remote={self.remote!r})"

    @property
    def uploads(self) -> bool:
        return self.remote is not None and self.journal is not None

    def path(self, key: str) -> Path:
        check_key(key)
        return self.folder.root.joinpath(*key.split("/"))

    # --- the worker's side (blocking) ------------------------------------------------------

    def save(self, key: str, png: bytes) -> None:
        """Write the PNG atomically (a reader never sees half of one)."""
        self.folder.put(key, png)

    def exists(self, key: str) -> bool:
        return self.folder.exists(key)

    def get(self, key: str) -> bytes:
        return self.folder.get(key)

    def upload_now(self, key: str) -> bool:
        """PUT the saved PNG to the bucket now (for a chart someone fetches at once by its
        URL); False without MinIO. Raises the store's error when the server fails."""
        if self.remote is None:
            return False
        self.remote.put_file(key, self.path(key), PNG)
        return True

    # --- the loop's side (quick) -------------------------------------------------------------

    def queue_upload(self, key: str) -> bool:
        """Queue the saved PNG's upload in the outbox; False when charts stay local."""
        if not self.uploads:
            return False
        record_id, kind, payload = object_record(self.bucket, key, path=self.path(key),
                                                 content_type=PNG, kind="chart")
        with self.journal.atomic():  # type: ignore[union-attr]
            self.journal.enqueue(OUTBOX_SINK, record_id, kind, payload)  # type: ignore[union-attr]
        return True

    def url(self, key: str) -> str | None:
        """A presigned GET URL of the key in the bucket (valid `url_expiry`); None without
        MinIO. Pure computation when the store has its region (see module doc)."""
        if self.remote is None:
            return None
        check_key(key)  # the same key rules as every store
        return self.remote.client.presigned_get_object(self.bucket, key,
                                                       expires=self.url_expiry)
