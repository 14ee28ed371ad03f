"""ib_async's outbound throttle, as the adapter configures it, against IB's 50 messages/s.

The socket is replaced by a recorder of send times; the throttle itself is ib_async's own
`Client.sendMsg`. IB counts at its end, after network and scheduling delays, so what
matters is how many messages any window slightly longer than one second can hold.
"""

from __future__ import annotations

import asyncio

from ib_async import IB

from ibtrader.adapters.ib.connection import check_throttle, new_ib
from tests.adapters.conftest import until


async def _send_times(ib: IB, count: int) -> list[float]:
    loop = asyncio.get_running_loop()
    sent: list[float] = []
    ib.client.conn.sendMsg = lambda _data: sent.append(loop.time())  # the socket, recorded
    for _ in range(count):
        ib.client.sendMsg("49\x001\x00")  # reqCurrentTime
    await until(lambda: len(sent) == count, timeout=5)
    return sent


def _most_in_window(times: list[float], length: float) -> int:
    return max(sum(1 for t in times if start <= t < start + length) for start in times)


def test_the_adapters_throttle_keeps_any_1_2_seconds_within_50_messages(run) -> None:
    ib = new_ib()
    check_throttle(ib)
    times = run(_send_times(ib, 120))
    assert _most_in_window(times, 1.0) <= 45
    assert _most_in_window(times, 1.2) <= 50  # 0.2 s of delivery jitter is harmless
    assert len(times) / (times[-1] - times[0]) > 35  # and it still moves ~40 messages/s


def test_ib_asyncs_default_bursts_put_90_messages_in_a_jittered_second(run) -> None:
    ib = IB()  # 45 per 1 s, sent in bursts on one-second boundaries
    times = run(_send_times(ib, 90))
    assert _most_in_window(times, 1.0) <= 45
    assert _most_in_window(times, 1.02) == 90  # 20 ms of jitter is enough
