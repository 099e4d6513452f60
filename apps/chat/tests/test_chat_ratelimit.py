"""apps.chat.ratelimit: sliding windows, atomic across threads (and, with Redis, processes)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from apps.chat import ratelimit
from apps.chat.ratelimit import Window


def _key() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_a_limit_holds_across_the_end_of_a_clock_aligned_window() -> None:
    # Fixed windows aligned to the clock gave the event after a window's end a fresh
    # count: two events just before a multiple of 5 s and one just after all passed.
    limits = [(_key(), Window(2, 5))]
    time.sleep(5 - time.time() % 5 + 4.7 if time.time() % 5 < 4.7 else 0)
    assert ratelimit.hit(limits) == []
    assert ratelimit.hit(limits) == []
    time.sleep(max(0.0, 5 - time.time() % 5) + 0.1)  # past the multiple of 5 s
    waits = ratelimit.hit(limits)
    assert len(waits) == 1 and 1 <= waits[0] <= 5


def test_an_event_is_let_through_again_once_the_oldest_leaves_the_window() -> None:
    limits = [(_key(), Window(2, 1))]
    assert ratelimit.hit(limits) == []
    assert ratelimit.hit(limits) == []
    assert ratelimit.hit(limits) == [1]  # over: told to wait (at least 1 s)
    time.sleep(1.2)  # all three (the refused one counts too) are older than the window
    assert ratelimit.hit(limits) == []
    assert ratelimit.hit(limits) == []
    assert ratelimit.hit(limits) == [1]


def test_concurrent_events_let_exactly_the_limit_through() -> None:
    limits = [(_key(), Window(5, 60))]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: ratelimit.hit(limits), range(40)))
    assert sum(1 for waits in results if not waits) == 5


def test_a_batch_counts_each_event_for_the_next_and_every_counter_of_each() -> None:
    per_identity, per_address = _key(), _key()
    first = [(per_identity + "a", Window(2, 60)), (per_address, Window(3, 60))]
    second = [(per_identity + "b", Window(2, 60)), (per_address, Window(3, 60))]
    found = ratelimit.hit_many([first, first, second, first, second])
    # a, a: within both; b: within both (the address's third); a: over its own and the
    # address's; b: over the address's only.
    assert [len(waits) for waits in found] == [0, 0, 0, 2, 1]


@pytest.mark.parametrize("events", [[], [[]]])
def test_nothing_to_count_is_no_error(events: list[list[tuple[str, Window]]]) -> None:
    assert ratelimit.hit_many(events) == [[] for _ in events]
