"""`NocoMirror`: the journal's writes described as records for the "nocodb" outbox sink.

The journal calls it inside each write's transaction (see `core.outbox.JournalMirror`), so
a row reaches NocoDB if and only if it was committed locally. Only the tables the NocoDB
schema declares are mirrored (decisions, orders, order_events, executions, signals,
daily_performance); any other table gets no record. Each row is checked against the schema
here, where it is written: a column NocoDB would refuse fails the write in the tests that
write it, not hours later in the delivery worker. No I/O: the schema is read once, up front.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ibtrader.core.outbox import MirrorRecord, check_sink

from .schema import MirrorSchema
from .sink import default_schema, row_record


class NocoMirror:
    def __init__(self, schema: MirrorSchema | None = None, sink: str = "nocodb") -> None:
        self.schema = schema or default_schema()
        self.sink = check_sink(sink)

    def __repr__(self) -> str:
        return f"NocoMirror({self.sink!r}, tables={', '.join(self.schema.tables)})"

    def records(self, table: str, our_id: str,
                values: Mapping[str, Any]) -> Iterable[MirrorRecord]:
        if table not in self.schema.tables:
            return ()
        record_id, kind, payload = row_record(table, our_id, values, self.schema)
        return ((self.sink, record_id, kind, payload),)
