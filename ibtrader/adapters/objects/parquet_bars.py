"""Bars as Parquet files in an object store: the history cache's storage format.

One object per (symbol, bar size, data kind, RTH or not). A file that cannot be read back
as bars (truncated, not Parquet, wrong columns, times out of order) raises
`CorruptBarFile`; the caller reports it and fetches again, it never stops the app.
"""

from __future__ import annotations

import io
import itertools

import pyarrow as pa
import pyarrow.parquet as pq

from ibtrader.core.market import Bar
from ibtrader.core.ports import CorruptData, ObjectStore

FORMAT_VERSION = b"1"
_SCHEMA = pa.schema([
    ("time", pa.float64()), ("open", pa.float64()), ("high", pa.float64()),
    ("low", pa.float64()), ("close", pa.float64()), ("volume", pa.float64()),
    ("wap", pa.float64()), ("count", pa.int64()),
], metadata={b"ibtrader.bars": FORMAT_VERSION})


class CorruptBarFile(CorruptData):
    """A cached bar file that cannot be read back; `key` names it."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"cached bars {key!r} are unreadable: {reason}")
        self.key = key
        self.reason = reason


def encode_bars(bars: list[Bar]) -> bytes:
    columns = {name: [getattr(b, name) for b in bars] for name in _SCHEMA.names}
    table = pa.Table.from_pydict(columns, schema=_SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def decode_bars(key: str, data: bytes) -> list[Bar]:
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptBarFile(key, f"not a Parquet file ({exc})") from None
    missing = [n for n in _SCHEMA.names if n not in table.column_names]
    if missing:
        raise CorruptBarFile(key, f"columns missing: {', '.join(missing)}")
    try:
        table = table.select(_SCHEMA.names).cast(_SCHEMA.remove_metadata())
    except (pa.ArrowException, ValueError) as exc:
        raise CorruptBarFile(key, f"columns of the wrong type ({exc})") from None
    columns = [table.column(n).to_pylist() for n in _SCHEMA.names]
    rows = list(zip(*columns, strict=True))
    if any(None in row for row in rows):
        raise CorruptBarFile(key, "empty cells")
    bars = [Bar(*row) for row in rows]
    for earlier, later in itertools.pairwise(bars):
        if later.time <= earlier.time:
            raise CorruptBarFile(key, f"bar times out of order at {later.time:.0f}")
    return bars


class ParquetBarStore:
    """Loads and saves bar lists under `bars_key` in an object store (blocking I/O)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def load(self, key: str) -> list[Bar] | None:
        """The cached bars, None when nothing is cached; raises `CorruptBarFile`."""
        try:
            data = self.store.get(key)
        except KeyError:
            return None
        return decode_bars(key, data)

    def save(self, key: str, bars: list[Bar]) -> None:
        self.store.put(key, encode_bars(bars))
