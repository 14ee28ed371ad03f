"""What `/metrics` tells Prometheus: engine event rates and the latencies a trader feels.

One registry per web app (not prometheus_client's global one), so two apps in a process
(tests, a second window) never share or clash. Recording is a counter bump or a histogram
observation (~1 us): cheap enough for the engine's loop at its event rates.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST

# seconds; tick-to-signal lives in tens of microseconds, order round trips in milliseconds
FAST_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                0.1, 0.25, 0.5, 1.0)
SLOW_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter("ibtrader_engine_events", "Engine events seen by the web layer",
                              ["kind"], registry=r)
        self.tick_to_signal = Histogram(
            "ibtrader_tick_to_signal_seconds", "From the quote that closed a bar to its signal",
            buckets=FAST_BUCKETS, registry=r)
        self.order_round_trip = Histogram(
            "ibtrader_order_round_trip_seconds",
            "From an order sent to the broker's first answer (working, filled or rejected)",
            buckets=SLOW_BUCKETS, registry=r)
        self.api_latency = Histogram(
            "ibtrader_api_request_seconds", "Time to answer an API request",
            ["method", "endpoint"], buckets=FAST_BUCKETS, registry=r)
        self.api_requests = Counter("ibtrader_api_requests", "API requests answered",
                                    ["method", "endpoint", "status"], registry=r)
        self.streams = Gauge("ibtrader_event_streams_open", "Open event streams", registry=r)
        self.connected = Gauge("ibtrader_broker_connected", "1 while the broker is connected",
                               registry=r)
        self.data_age = Gauge("ibtrader_data_age_seconds", "Age of the newest quote",
                              registry=r)
        self.outbox_depth = Gauge("ibtrader_outbox_depth",
                                  "Records waiting for a remote service", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
