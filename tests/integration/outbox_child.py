"""A delivery worker in a process of its own, for the test that kills it with SIGKILL:
`python -m tests.integration.outbox_child JOURNAL ENDPOINT BUCKET`."""

from __future__ import annotations

import sys
import time

from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.adapters.objects.minio_store import MinioObjectStore
from ibtrader.adapters.objects.object_sink import ObjectSink
from ibtrader.services.delivery import DeliveryWorker


def main() -> None:
    journal, endpoint, bucket = sys.argv[1:4]
    store = MinioObjectStore(endpoint, "test", "test", bucket)
    DeliveryWorker(SqliteOutbox(journal), [ObjectSink({bucket: store})], batch=10,
                   idle_wait=0.02).start()
    print("started", flush=True)
    while True:  # until killed
        time.sleep(1)


if __name__ == "__main__":
    main()
