"""`ibtrader gateway` and `ibtrader fault` as a trader runs them, in separate processes."""

from __future__ import annotations

import asyncio
import json

from ib_async import IB, MarketOrder, Stock

from ibtrader.benchmarks.gateway import gateway_process
from ibtrader.cli import main


def test_fault_command_reaches_a_running_gateway(capsys):
    with gateway_process(symbols=0, tick_interval=0.25) as (port, _pid, control):
        assert main(["fault", "reject:from the command line", "--control-port",
                     str(control)]) == 0
        assert capsys.readouterr().out.strip() == "ok reject:from the command line"

        async def place() -> list[tuple[int, str]]:
            ib = IB()
            await ib.connectAsync("127.0.0.1", port, clientId=5, timeout=10)
            errors: list[tuple[int, str]] = []
            ib.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
            [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            trade = ib.placeOrder(aapl, MarketOrder("BUY", 1))
            while not trade.isDone():
                await asyncio.sleep(0.05)
            ib.disconnect()
            return errors

        errors = asyncio.run(asyncio.wait_for(place(), 30))
        assert (201, "Order rejected - reason:from the command line") in errors
        assert main(["fault", "stats", "--control-port", str(control)]) == 0
        stats = json.loads(capsys.readouterr().out.strip().removeprefix("ok "))
        assert stats["messages_in"] > 0 and stats["pacing_violations"] == 0


def test_fault_command_refuses_a_bad_fault_without_sending(capsys):
    assert main(["fault", "meltdown", "--control-port", "1"]) == 2
    assert "unknown fault 'meltdown'" in capsys.readouterr().err


def test_fault_command_says_when_no_gateway_listens(capsys):
    assert main(["fault", "drop", "--control-port", "1"]) == 1
    assert "no gateway control on 127.0.0.1:1" in capsys.readouterr().err


def test_scheduled_fault_from_the_gateway_command_line():
    with gateway_process(symbols=0, tick_interval=0.25,
                         extra_args=("--fault", "drop@1.5")) as (port, _pid, _control):

        async def connect_and_wait() -> float:
            ib = IB()
            await ib.connectAsync("127.0.0.1", port, clientId=6, timeout=10)
            loop = asyncio.get_running_loop()
            started = loop.time()
            dropped = asyncio.Event()
            ib.disconnectedEvent += dropped.set
            await asyncio.wait_for(dropped.wait(), 10)
            return loop.time() - started

        assert asyncio.run(connect_and_wait()) < 5
