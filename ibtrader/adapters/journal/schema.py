"""The journal's schema as numbered migrations, applied in order, each in one transaction.

A migration is never edited once released: a change is a new migration at the end.
Issue 4 appends orders, order_events and executions as version 2, issue 7 the outbox
as version 3 and the equity samples and daily performance as version 4 (and so on); the
`schema_migrations` table records which versions a file has, and when.

Conventions: ids are our own text ids (time-sortable, see core.decisions.new_id); times
are epoch seconds (REAL, UTC); prices REAL and NULL when absent; structured extras are
JSON text.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "signals and decisions", """
        CREATE TABLE signals (
            id          TEXT PRIMARY KEY,
            created     REAL NOT NULL,      -- when the engine received it
            bar_time    REAL NOT NULL,      -- start of the bar it was made on
            strategy    TEXT NOT NULL,
            bar_size    TEXT NOT NULL,
            symbol      TEXT NOT NULL,
            side        TEXT NOT NULL CHECK (side IN ('buy', 'sell', 'exit')),
            strength    REAL NOT NULL,
            reason      TEXT NOT NULL,
            stop        REAL,
            target      REAL,
            values_json TEXT NOT NULL       -- the indicator values behind it
        );
        CREATE INDEX signals_created ON signals (created);
        CREATE INDEX signals_symbol ON signals (symbol, created);

        CREATE TABLE decisions (
            id           TEXT PRIMARY KEY,
            signal_id    TEXT NOT NULL REFERENCES signals (id),
            created      REAL NOT NULL,
            updated      REAL NOT NULL,
            strategy     TEXT NOT NULL,
            symbol       TEXT NOT NULL,
            state        TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'dismissed',
                                                        'submitted', 'refused', 'expired')),
            side         TEXT NOT NULL,
            action       TEXT NOT NULL,
            quantity     REAL NOT NULL,
            closes       REAL NOT NULL,
            entry_price  REAL,
            stop         REAL,
            target       REAL,
            risk_amount  REAL NOT NULL,
            reason       TEXT NOT NULL,
            refusal_code TEXT NOT NULL,
            expires      REAL,
            detail_json  TEXT NOT NULL
        );
        CREATE INDEX decisions_created ON decisions (created);
        CREATE INDEX decisions_state ON decisions (state, created);

        -- every state a decision went through, in order: the audit trail
        CREATE TABLE decision_events (
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            decision_id TEXT NOT NULL REFERENCES decisions (id),
            time        REAL NOT NULL,
            state       TEXT NOT NULL,
            reason      TEXT NOT NULL
        );
        CREATE INDEX decision_events_decision ON decision_events (decision_id, seq);
    """),
    (2, "orders, order events and executions", """
        -- one row per order (a bracket's legs are orders of their own, naming their entry
        -- in parent_key); written before the order is sent, updated on every change
        CREATE TABLE orders (
            client_key   TEXT PRIMARY KEY,   -- our order ref, echoed by the broker
            created      REAL NOT NULL,
            updated      REAL NOT NULL,
            symbol       TEXT NOT NULL,
            side         TEXT NOT NULL,
            quantity     REAL NOT NULL,
            order_type   TEXT NOT NULL,
            state        TEXT NOT NULL,
            request_json TEXT NOT NULL,      -- the whole request, as sent (or last modified)
            broker_id    INTEGER NOT NULL,
            perm_id      INTEGER NOT NULL,
            filled       REAL NOT NULL,
            avg_price    REAL,
            commission   REAL NOT NULL,
            parent_key   TEXT NOT NULL,
            decision_id  TEXT NOT NULL,
            source       TEXT NOT NULL,
            adopted      INTEGER NOT NULL,   -- 1: placed outside the app, adopted
            last_error   TEXT NOT NULL
        );
        CREATE INDEX orders_state ON orders (state, created);
        CREATE INDEX orders_decision ON orders (decision_id);

        -- append-only: every change of every order, in order
        CREATE TABLE order_events (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            client_key   TEXT NOT NULL REFERENCES orders (client_key),
            time         REAL NOT NULL,
            kind         TEXT NOT NULL,
            state_before TEXT NOT NULL,
            state_after  TEXT NOT NULL,
            detail_json  TEXT NOT NULL
        );
        CREATE INDEX order_events_key ON order_events (client_key, seq);

        -- every execution once (its commission filled in when reported)
        CREATE TABLE executions (
            exec_id      TEXT PRIMARY KEY,
            client_key   TEXT NOT NULL,      -- '' for another client's order we never adopted
            broker_id    INTEGER NOT NULL,
            perm_id      INTEGER NOT NULL,
            symbol       TEXT NOT NULL,
            side         TEXT NOT NULL,
            quantity     REAL NOT NULL,
            price        REAL NOT NULL,
            time         REAL NOT NULL,
            commission   REAL,
            realized_pnl REAL
        );
        CREATE INDEX executions_time ON executions (time);
        CREATE INDEX executions_key ON executions (client_key);

        -- requests refused before anything was sent (validation, pricing, risk)
        CREATE TABLE order_refusals (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            time         REAL NOT NULL,
            client_key   TEXT NOT NULL,
            symbol       TEXT NOT NULL,
            request_json TEXT NOT NULL,
            problems_json TEXT NOT NULL      -- [[code, message], ...]
        );
        CREATE INDEX order_refusals_time ON order_refusals (time);
    """),
    (3, "outbox for remote sinks", """
        -- one row per (sink, our id): queued in the transaction that writes the local row,
        -- delivered by the delivery worker (services/delivery.py); see adapters/journal/outbox.py
        CREATE TABLE outbox (
            sink         TEXT NOT NULL,      -- "minio", "nocodb", "n8n"
            record_id    TEXT NOT NULL,      -- our stable id: the sink keys on it
            kind         TEXT NOT NULL,
            payload_json TEXT NOT NULL,
            created      REAL NOT NULL,      -- first queued (since last delivered)
            updated      REAL NOT NULL,
            rev          INTEGER NOT NULL,   -- +1 per re-queue: a delivery marks only its rev
            state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
            attempts     INTEGER NOT NULL,   -- failed deliveries since queued
            next_attempt REAL NOT NULL,
            claimed      INTEGER NOT NULL,   -- 1: a worker is sending it (lease: next_attempt)
            last_error   TEXT NOT NULL,
            delivered    REAL,
            PRIMARY KEY (sink, record_id)
        );
        CREATE INDEX outbox_due ON outbox (sink, next_attempt) WHERE state = 'pending';
        CREATE INDEX outbox_waiting ON outbox (sink, created) WHERE state = 'pending';
        CREATE INDEX outbox_delivered ON outbox (delivered) WHERE state = 'delivered';
        CREATE INDEX outbox_failed ON outbox (sink) WHERE state = 'failed';
    """),
    (4, "equity samples and daily performance", """
        -- the account's equity through the day (the daily curve): see services/performance.py
        CREATE TABLE equity_samples (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            time         REAL NOT NULL,
            account      TEXT NOT NULL,
            equity       REAL NOT NULL,      -- net liquidation, from the broker
            realized     REAL,               -- the book's realized P&L so far; NULL: unknown
            unrealized   REAL                -- of the open positions at their marks
        );
        CREATE INDEX equity_samples_account ON equity_samples (account, time);

        -- one row per account and session date (id "account:YYYY-MM-DD"), upserted each
        -- time the day is computed; the columns are the NocoDB mirror's
        CREATE TABLE daily_performance (
            id             TEXT PRIMARY KEY,
            session_date   TEXT NOT NULL,
            account        TEXT NOT NULL,
            equity         REAL,
            realized_pnl   REAL NOT NULL,
            unrealized_pnl REAL,
            trades         INTEGER NOT NULL,
            win_rate       REAL,
            max_drawdown   REAL NOT NULL,
            computed       REAL NOT NULL
        );
        CREATE INDEX daily_performance_date ON daily_performance (session_date, account);
    """),
)

LATEST = MIGRATIONS[-1][0]

BOOKKEEPING = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at REAL NOT NULL
    )
"""
