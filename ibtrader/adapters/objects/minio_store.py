"""`MinioObjectStore`: the `ObjectStore` port over a MinIO (or any S3) bucket, via `minio`.

Keys follow the folder store's rules (relative, "/"-separated, no "." or ".." parts), so a
key names the same object in both stores. The bucket is created on first use when it is
missing. Failures come out as errors that say what to fix: `ObjectStoreUnavailable` (the
server cannot be reached or answers 5xx), `ObjectStoreAuthError` (keys refused), and the
port's `KeyError` for a missing object. Calls block on the network: from the asyncio loop,
call them through `asyncio.to_thread` (the outbox's delivery worker has a thread of its own).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error, ServerError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from .folder import InvalidKey

T = TypeVar("T")

_AUTH_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                         "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed"})
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchObject"})


class ObjectStoreError(RuntimeError):
    """The object store failed; the message says which server, bucket and key, and why."""


class ObjectStoreUnavailable(ObjectStoreError):
    """The server cannot be reached, times out, or answers with a server error."""


class ObjectStoreAuthError(ObjectStoreError):
    """The server refuses the access key / secret key (or their rights on the bucket)."""


def check_key(key: str) -> str:
    parts = key.split("/") if isinstance(key, str) else [""]
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidKey(f"object key {key!r} must be relative, '/'-separated, without "
                         f"empty, '.' or '..' parts")
    return key


def split_endpoint(endpoint: str, secure: bool) -> tuple[str, bool]:
    """"host:port" as the minio client wants it; "http(s)://host:port" sets `secure`."""
    text = endpoint.strip()
    if "://" in text:
        url = urlsplit(text)
        if url.scheme not in ("http", "https") or not url.netloc or url.path not in ("", "/"):
            raise ValueError(f"MinIO endpoint {endpoint!r} must be host:port or "
                             f"http(s)://host:port, without a path")
        return url.netloc, url.scheme == "https"
    if not text or "/" in text:
        raise ValueError(f"MinIO endpoint {endpoint!r} must be host:port or "
                         f"http(s)://host:port")
    return text, secure


class MinioObjectStore:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str,
                 secure: bool = False, *, region: str | None = None,
                 connect_timeout: float = 3.0, read_timeout: float = 30.0,
                 retries: int = 1) -> None:
        host, secure = split_endpoint(endpoint, secure)
        if not bucket:
            raise ValueError("MinIO bucket name must not be empty")
        self.endpoint = f"{'https' if secure else 'http'}://{host}"
        self.bucket = bucket
        # the client's default is a 5-minute timeout and 5 retries: far too long for a
        # worker that has its own backoff; one quick retry rides out a dropped connection
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=10, cert_reqs="CERT_REQUIRED" if secure else "CERT_NONE",
            retries=urllib3.Retry(total=retries, backoff_factor=0.1,
                                  status_forcelist=[500, 502, 503, 504]))
        self.client = Minio(host, access_key=access_key or None, secret_key=secret_key or None,
                            secure=secure, region=region, http_client=http)
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MinioObjectStore({self.endpoint}, bucket={self.bucket!r})"

    # --- the port ----------------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        """One PUT of the whole object (S3 puts are atomic: all or nothing)."""
        check_key(key)
        self._call("put", key, lambda: self.client.put_object(
            self.bucket, key, io.BytesIO(data), len(data)))

    def put_file(self, key: str, path: Path | str, content_type: str = "") -> None:
        """Upload a local file (streamed; multipart above 5 MiB)."""
        check_key(key)
        self._call("put", key, lambda: self.client.fput_object(
            self.bucket, key, str(path), content_type=content_type or
            "application/octet-stream"))

    def get(self, key: str) -> bytes:
        check_key(key)

        def read() -> bytes:
            response = self.client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()
        return self._call("get", key, read)

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            self._call("stat", key, lambda: self.client.stat_object(self.bucket, key))
        except KeyError:
            return False
        return True

    def list(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix`, sorted."""
        return self._call("list", prefix or "*", lambda: sorted(
            o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix or None,
                                                            recursive=True)
            if o.object_name is not None))

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error (deletes are idempotent)."""
        check_key(key)
        self._call("delete", key, lambda: self.client.remove_object(self.bucket, key))

    def ensure_bucket(self) -> bool:
        """Create the bucket when it is missing; True when it was created."""
        with self._bucket_lock:
            if self._bucket_ready:
                return False
            created = self._translate("create bucket", "", self._make_bucket)
            self._bucket_ready = True
            return created

    # --- errors ------------------------------------------------------------------------------

    def _make_bucket(self) -> bool:
        if self.client.bucket_exists(self.bucket):
            return False
        try:
            self.client.make_bucket(self.bucket)
        except S3Error as exc:  # created by someone else in between
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            return False
        return True

    def _call(self, action: str, key: str, call: Callable[[], T]) -> T:
        self.ensure_bucket()
        return self._translate(action, key, call)

    def _translate(self, action: str, key: str, call: Callable[[], T]) -> T:
        where = f"{self.endpoint}/{self.bucket}/{key}".rstrip("/")
        try:
            return call()
        except S3Error as exc:
            if exc.code in _MISSING_CODES:
                raise KeyError(key) from None
            if exc.code in _AUTH_CODES:
                raise ObjectStoreAuthError(
                    f"MinIO {action} {where}: access refused ({exc.code}: {exc.message}); "
                    f"check minio_access_key / minio_secret_key and the key's rights") from None
            if exc.code == "NoSuchBucket":
                self._bucket_ready = False  # deleted behind our back: recreate next time
            raise ObjectStoreError(f"MinIO {action} {where}: {exc.code}: {exc.message}") from None
        except ServerError as exc:
            raise ObjectStoreUnavailable(f"MinIO {action} {where}: server error "
                                         f"{exc.status_code}: {exc}") from None
        except (Urllib3Error, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            # urllib3 makes a refused connection a kind of timeout: tell them apart
            if isinstance(reason, Urllib3Timeout) and not isinstance(reason, NewConnectionError):
                raise ObjectStoreUnavailable(f"MinIO {action} {where}: no answer in time "
                                             f"({exc}); the server is overloaded or hung"
                                             ) from None
            raise ObjectStoreUnavailable(f"MinIO {action} {where}: unreachable ({exc}); is "
                                         f"the server running at minio_endpoint?") from None
        except MinioException as exc:
            raise ObjectStoreError(f"MinIO {action} {where}: {exc}") from None
