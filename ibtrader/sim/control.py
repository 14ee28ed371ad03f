"""A line-based control socket, so that faults can be injected into a running gateway
from another terminal (`ibtrader fault drop`). Bound to loopback only.

Protocol: the client sends one line (a fault in `ibtrader.sim.faults` syntax, or
`stats`); the server answers one line, `ok ...` or `error ...`, and closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING

from ibtrader.sim.faults import FaultSyntaxError, parse_fault

if TYPE_CHECKING:
    from ibtrader.sim.server import GatewayServer

log = logging.getLogger(__name__)


async def start_control(server: GatewayServer, port: int) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 5)).decode(errors="replace")
            writer.write((answer(server, line.strip()) + "\n").encode())
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    control = await asyncio.start_server(handle, "127.0.0.1", port)
    log.info("fault control listening on 127.0.0.1:%d", control.sockets[0].getsockname()[1])
    return control


def answer(server: GatewayServer, command: str) -> str:
    if command == "stats":
        return "ok " + json.dumps(asdict(server.stats))
    try:
        fault = parse_fault(command)
    except FaultSyntaxError as exc:
        return f"error {exc}"
    server.inject(fault)
    return f"ok {fault}"


def send_command(port: int, command: str, host: str = "127.0.0.1", timeout: float = 5.0) -> str:
    """Client side, for the CLI: send one command line and return the answer line."""

    async def exchange() -> str:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(command.encode() + b"\n")
        await writer.drain()
        reply = await asyncio.wait_for(reader.readline(), timeout)
        writer.close()
        return reply.decode().strip()

    return asyncio.run(exchange())
