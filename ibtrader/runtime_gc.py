"""The app's garbage-collector policy: settle the heap once the engine is warm.

CPython's cyclic collector runs when allocations outnumber deallocations by a threshold
(700 by default), and every so often it walks the older generations: with 100 symbols'
history, aggregators and warmed strategies that is ~10^5 objects and a 1.5-2.7 ms pause,
landing wherever the allocation count happens to trip it - often in the burst of bar
closes at a minute boundary, right between a tick and its signal.

After the backfill, that heap is long-lived: it only grows bar by bar. `settle()`
collects once, moves every survivor to the permanent generation (`gc.freeze`: the
collector no longer walks it) and raises the young-generation threshold, so collections
are rarer and only walk what was allocated since. Garbage cycles among frozen objects
are not reclaimed until `unfreeze`; the engine's warm state lives as long as the app,
so nothing is lost. Reference counting still frees everything acyclic at once.

    settled = runtime_gc.settle()      # after history is loaded and strategies are warm
    ...
    runtime_gc.restore(settled)        # tests and benchmarks: back to the previous policy
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GcPolicy:
    """Thresholds for `gc.set_threshold` once the heap is settled."""

    gen0: int = 10_000  # net new container objects before a young collection
    gen1: int = 10  # young collections before a middle one
    gen2: int = 10  # middle collections before a full one (of what is not frozen)

    def __post_init__(self) -> None:
        for name in ("gen0", "gen1", "gen2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"gc policy: {name} must be a whole number >= 1, "
                                 f"got {value!r}")


DEFAULT_POLICY = GcPolicy()


@dataclass(frozen=True, slots=True)
class Settled:
    """What `settle` did: enough to report it and to undo it."""

    policy: GcPolicy
    previous: tuple[int, int, int]  # the thresholds before
    frozen: int  # objects in the permanent generation after the freeze
    collect_ms: float  # how long the one full collection took

    def describe(self) -> str:
        p = self.policy
        return (f"gc settled: {self.frozen:,} objects frozen after a {self.collect_ms:.0f} ms "
                f"collection; thresholds {self.previous} -> ({p.gen0}, {p.gen1}, {p.gen2})")


def settle(policy: GcPolicy = DEFAULT_POLICY) -> Settled:
    """Collect, freeze the survivors and apply `policy`'s thresholds. Call it once the
    long-lived state exists (history loaded, strategies warm), off any latency path:
    the collection walks the whole heap once (tens of ms for a large one)."""
    previous = gc.get_threshold()
    began = time.perf_counter()
    gc.collect()
    collect_ms = (time.perf_counter() - began) * 1_000.0
    gc.freeze()
    gc.set_threshold(policy.gen0, policy.gen1, policy.gen2)
    return Settled(policy, (previous[0], previous[1], previous[2]), gc.get_freeze_count(),
                   collect_ms)


def restore(settled: Settled) -> None:
    """Undo `settle`: the previous thresholds, and the frozen objects back in the oldest
    generation (where the next full collection can reclaim their cycles)."""
    gc.unfreeze()
    gc.set_threshold(*settled.previous)
