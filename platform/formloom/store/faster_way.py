"""Of two ways to the same answer, the one that has lately been the faster here.

Which of two plans costs less can turn on what no statistic shows. SQLite's bounded count of
a filtered list (store/query.py) either walks the entity's covering index (about 0.1 µs an
entry, entries that do not match included) or the driving filter's expression index and a
table row per match. A table row in the connection's page cache costs about 0.25 µs, one the
cache has to read again from the operating system 1-3 µs: on the benchmark's list of 10,000
records the covering walk took 0.62 ms warm and 1.3 ms cold, the usual count 0.36 ms warm
and 3.4 ms cold. A list people open again and again is warm; one opened once in a while is
not. So each way is timed where it runs, and the one whose recent times have the lower
median is used (a median: one request slowed by a collection or another thread does not
turn the choice), with the other tried again every RECHECK_EVERY calls so a change (a cache
grown cold, new data) is noticed. The answer is the same either way; only its cost differs.
"""
from __future__ import annotations

import time
from statistics import median
from typing import Callable, Hashable, TypeVar

T = TypeVar("T")

#: Every this many calls of a key the slower way runs once more, to see whether it still is.
RECHECK_EVERY = 32
#: A way's recent times kept, of which the median counts.
RECENT = 5
#: Keys kept at most (then all are forgotten and timed again).
KEPT_KEYS = 2_000


class FasterWay:
    """Times two ways per key and answers which to run next: 0 (the first way, tried first)
    or 1. Shared by a process's threads; a lost update under a race only costs a timing."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.kept: dict[Hashable, list] = {}      # key -> [way 0's recent times, way 1's, calls]

    def pick(self, key: Hashable) -> int:
        found = self.kept.get(key)
        if found is None or not found[0]:
            return 0
        if not found[1]:
            return 1
        found[2] += 1
        faster = 0 if median(found[0]) <= median(found[1]) else 1
        return 1 - faster if found[2] % RECHECK_EVERY == 0 else faster

    def took(self, key: Hashable, way: int, seconds: float) -> None:
        found = self.kept.get(key)
        if found is None:
            if len(self.kept) >= KEPT_KEYS:
                self.kept.clear()
            found = self.kept[key] = [(), (), 0]
        found[way] = (*found[way][1 - RECENT:], seconds)      # a new tuple: a reader never sees one change

    def run(self, key: Hashable, ways: tuple[Callable[[], T], Callable[[], T]]) -> T:
        """The answer of the way `pick` chooses, timed for the next choice."""
        way = self.pick(key)
        started = self.clock()
        answer = ways[way]()
        self.took(key, way, self.clock() - started)
        return answer
