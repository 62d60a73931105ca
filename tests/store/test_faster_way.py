"""Of two ways to the same answer, the one that has lately been the faster runs; the slower
one is tried again now and then (store/faster_way.py)."""
from __future__ import annotations

from formloom.store import faster_way
from formloom.store.faster_way import FasterWay


class Ways:
    """Two ways that take the given seconds on a clock they move themselves, and a log of
    which ran."""

    def __init__(self, first: float, second: float):
        self.now = 0.0
        self.costs = [first, second]
        self.ran: list[int] = []
        self.chooser = FasterWay(clock=lambda: self.now)

    def way(self, i: int):
        def run():
            self.ran.append(i)
            self.now += self.costs[i]
            return "the answer"
        return run

    def call(self, times: int = 1, key="list") -> None:
        for _ in range(times):
            assert self.chooser.run(key, (self.way(0), self.way(1))) == "the answer"


def test_the_first_way_runs_first_then_the_second_is_timed_once():
    ways = Ways(first=2.0, second=1.0)
    ways.call(2)
    assert ways.ran == [0, 1]


def test_then_the_faster_runs_and_the_slower_is_tried_again_every_so_often():
    ways = Ways(first=2.0, second=1.0)
    ways.call(2 + 3 * faster_way.RECHECK_EVERY)
    later = ways.ran[2:]
    assert later.count(0) == 3 and later.count(1) == 3 * faster_way.RECHECK_EVERY - 3
    assert [i for i, way in enumerate(later, start=1) if way == 0] == [faster_way.RECHECK_EVERY * k for k in (1, 2, 3)]


def test_the_first_way_keeps_running_while_it_is_the_faster():
    ways = Ways(first=1.0, second=3.0)
    ways.call(2 + faster_way.RECHECK_EVERY)
    assert ways.ran[2:].count(1) == 1 and ways.ran[-1] == 1


def test_a_way_that_became_slow_gives_way_once_most_of_its_recent_times_are():
    ways = Ways(first=1.0, second=2.0)
    ways.call(10)
    assert ways.ran[-1] == 0
    ways.costs[0] = 5.0     # say its pages left the cache
    ways.call(faster_way.RECENT // 2 + 1)
    assert ways.ran[-1] == 0        # not yet: a median of its recent times
    ways.call(3)
    assert ways.ran[-3:] == [1, 1, 1]
    ways.costs[0] = 0.5     # and came back: noticed over the next rechecks
    ways.call(faster_way.RECENT * faster_way.RECHECK_EVERY)
    assert ways.ran[-3:] == [0, 0, 0]


def test_one_slow_time_does_not_turn_the_choice():
    ways = Ways(first=1.0, second=2.0)
    ways.call(10)
    ways.costs[0] = 50.0    # a collection, another thread
    ways.call(1)
    ways.costs[0] = 1.0
    ways.call(5)
    assert ways.ran[-6:] == [0] * 6


def test_each_key_keeps_its_own_times():
    ways = Ways(first=2.0, second=1.0)
    ways.call(5, key="one list")
    ways.call(1, key="another")
    assert ways.ran[-1] == 0            # a new key starts with the first way


def test_keys_are_forgotten_past_the_limit(monkeypatch):
    monkeypatch.setattr(faster_way, "KEPT_KEYS", 3)
    ways = Ways(first=2.0, second=1.0)
    for key in range(5):
        ways.call(1, key=key)
    assert len(ways.chooser.kept) <= 3
