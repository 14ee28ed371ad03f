"""`ibtrader bench gateway`: is the simulated gateway ever the bottleneck of a TWS client?

The gateway runs in its own process (as a real TWS would), streaming quotes for N
symbols as fast as it is told to; one unmodified ib_async client subscribes to all of
them and counts what it decodes. Both processes' CPU time is read from /proc, so the
report compares the gateway's cost per message with ib_async's own decode cost per
message, measured in the same run: the peer that sets the pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class GatewayBenchResult:
    symbols: int
    seconds: float
    messages: int
    messages_per_second: float
    ticker_updates_per_second: float
    client_cpu_us_per_message: float
    gateway_cpu_us_per_message: float
    gateway_to_client_cost_ratio: float

    def lines(self) -> list[str]:
        return [
            f"symbols subscribed            {self.symbols}",
            f"measured for                  {self.seconds:.1f} s",
            f"messages delivered            {self.messages:,}",
            f"messages/s to one client      {self.messages_per_second:,.0f}",
            f"ticker updates/s decoded      {self.ticker_updates_per_second:,.0f}",
            f"ib_async CPU per message      {self.client_cpu_us_per_message:.2f} µs",
            f"gateway CPU per message       {self.gateway_cpu_us_per_message:.2f} µs",
            f"gateway cost / client cost    {self.gateway_to_client_cost_ratio:.2f}"
            "  (below 1: the client, not the simulator, sets the pace)",
        ]

    def as_dict(self) -> dict:
        return asdict(self)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def gateway_process(symbols: int, tick_interval: float, *, firehose: bool = False,
                    extra_args: tuple[str, ...] = ()):
    """A gateway in a child process on a free port; yields (port, pid, control_port)."""
    port, control = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, IBTRADER_DATA_DIR=tmp, IBTRADER_LOG_LEVEL="WARNING")
        cmd = [sys.executable, "-m", "ibtrader", "gateway", "--port", str(port),
               "--control-port", str(control), "--state", str(Path(tmp) / "state.sqlite"),
               "--tick-interval", str(tick_interval), "--extra-symbols", str(symbols),
               *(["--firehose"] if firehose else []), *extra_args]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_for_port(port, proc)
            yield port, proc.pid, control
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"the gateway exited early:\n{err}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise TimeoutError("the gateway did not start listening")


async def _stream(
    port: int, gateway_pid: int, symbols: list[str], seconds: float
) -> tuple[int, int, float, float]:
    """Messages and ticker updates received, client CPU and gateway CPU over `seconds`."""
    from ib_async import IB, Stock

    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=20)
    contracts = [Stock(s, "SMART", "USD") for s in symbols]
    await ib.qualifyContractsAsync(*contracts)
    for contract in contracts:
        ib.reqMktData(contract)
    await asyncio.sleep(3.0)  # the first quote of each symbol builds its price day: settle
    updates = 0

    def count(tickers: set) -> None:
        nonlocal updates
        updates += len(tickers)

    ib.pendingTickersEvent += count
    before_msgs = ib.client.connectionStats().numMsgRecv
    before_cpu, before_gateway = time.process_time(), cpu_seconds(gateway_pid)
    await asyncio.sleep(seconds)
    messages = ib.client.connectionStats().numMsgRecv - before_msgs
    cpu, gateway_cpu = time.process_time() - before_cpu, cpu_seconds(gateway_pid) - before_gateway
    ib.pendingTickersEvent -= count
    ib.disconnect()
    return messages, updates, cpu, gateway_cpu


def run_gateway_bench(symbols: int = 100, seconds: float = 10.0,
                      tick_interval: float = 0.01) -> GatewayBenchResult:
    names = [f"SIM{i:03d}" for i in range(symbols)]
    with gateway_process(symbols, tick_interval, firehose=True) as (port, pid, _control):
        messages, updates, client_cpu, gw_cpu = asyncio.run(_stream(port, pid, names, seconds))
    per_msg_client = client_cpu / max(messages, 1) * 1e6
    per_msg_gateway = gw_cpu / max(messages, 1) * 1e6
    return GatewayBenchResult(
        symbols=symbols, seconds=seconds, messages=messages,
        messages_per_second=messages / seconds, ticker_updates_per_second=updates / seconds,
        client_cpu_us_per_message=per_msg_client, gateway_cpu_us_per_message=per_msg_gateway,
        gateway_to_client_cost_ratio=per_msg_gateway / per_msg_client if per_msg_client else 0,
    )
