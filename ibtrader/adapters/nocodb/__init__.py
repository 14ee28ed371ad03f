"""The journal mirror in NocoDB: a REST client, the tables from resources/nocodb/schema.json,
and the outbox sink "nocodb" that upserts rows keyed by our id."""

from ibtrader.adapters.journal.rows import decision_values, signal_values

from .client import NocoAuthError, NocoClient, NocoError, NocoRequestError, NocoUnavailable
from .mirror import MirrorMissing, MirrorReport, check_columns, ensure_mirror, find_mirror
from .schema import MirrorSchema, SchemaError, load_schema
from .sink import NocoSink, default_schema, row_record

__all__ = [
    "MirrorMissing", "MirrorReport", "MirrorSchema", "NocoAuthError", "NocoClient",
    "NocoError", "NocoRequestError", "NocoSink", "NocoUnavailable", "SchemaError",
    "check_columns", "decision_values", "default_schema", "ensure_mirror", "find_mirror",
    "load_schema", "row_record", "signal_values",
]
