"""A fresh asyncio loop per test, shared by the test packages' `run` fixtures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any


def loop_runner() -> Iterator[Callable[..., Any]]:
    """Runs coroutines to completion on a fresh loop, with a timeout (a fixture's body);
    cancels what is left over and closes the loop afterwards."""
    loop = asyncio.new_event_loop()

    def runner(coro, timeout: float = 30.0):
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))

    yield runner
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
