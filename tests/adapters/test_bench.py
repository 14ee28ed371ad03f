from __future__ import annotations

from ibtrader.adapters.ib.bench import measure_dispatch


def test_measure_dispatch_reports_each_layer_per_message(gateway, run) -> None:
    result = run(measure_dispatch("127.0.0.1", gateway.port, ["AAPL", "MSFT", "EURUSD"],
                                  seconds=1.0, warmup=0.3))
    assert result.symbols == 3
    assert result.messages > 20 and result.socket_reads > 3 and result.quotes > 3
    assert 0 < result.dispatch_us_per_message < result.read_us_per_message
    assert 0 < result.decode_us_per_message < result.read_us_per_message
    assert len(result.lines()) == 10
