"""Run the engine's coroutines from Qt slots: a button click cannot await.

`spawn` schedules the coroutine on the running (qasync) loop, keeps a reference so it is
not garbage-collected mid-flight, and hands its result or its error to callbacks on the
same loop (the GUI thread). An error nobody handles is logged, never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, T], *, done: Callable[[T], object] | None = None,
          failed: Callable[[BaseException], object] | None = None,
          name: str = "gui") -> asyncio.Task[T]:
    task = asyncio.get_event_loop().create_task(coro, name=name)
    _running.add(task)

    def finished(t: asyncio.Task[T]) -> None:
        _running.discard(t)
        if t.cancelled():
            return
        error = t.exception()
        try:
            if error is None:
                if done is not None:
                    done(t.result())
            elif failed is not None:
                failed(error)
            else:
                log.error("%s failed", name, exc_info=error)
        except Exception:  # a view's bug must not hide the next results
            log.exception("showing the result of %s failed", name)

    task.add_done_callback(finished)
    return task

