"""nploss.parallel.map_in_order: the results in order, the calling thread working beside the
pool's, and nothing left running in the background once it returns or raises."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from nploss import parallel


@pytest.fixture
def threads():
    def use(n):
        parallel.set_num_threads(n)

    yield use
    parallel.set_num_threads(parallel._default_threads())


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("tasks", [None, 1, 2, 5])
@pytest.mark.parametrize("count", [0, 1, 2, 7, 40])
def test_results_come_in_the_order_of_the_items(threads, n, tasks, count):
    threads(n)
    assert parallel.map_in_order(lambda i: i * i, range(count), tasks=tasks) == [i * i for i in range(count)]


def test_the_calling_thread_works_beside_the_pool(threads):
    threads(2)
    both_inside = threading.Barrier(2)
    workers = []

    def item(i):
        workers.append(threading.get_ident())
        both_inside.wait(timeout=10)  # broken (an error) unless two threads hold an item at once
        return i

    assert parallel.map_in_order(item, range(2)) == [0, 1]
    assert threading.get_ident() in workers and len(set(workers)) == 2


def test_an_error_is_raised_once_every_thread_has_stopped(threads):
    threads(2)
    both_inside = threading.Barrier(2)
    finished = []
    caller = threading.get_ident()

    def item(i):
        both_inside.wait(timeout=10)
        if threading.get_ident() == caller:
            raise ValueError("the caller's item")
        time.sleep(0.2)  # the pool's item is still running when the caller's fails
        finished.append(i)

    with pytest.raises(ValueError, match="the caller's item"):
        parallel.map_in_order(item, range(2))
    assert len(finished) == 1  # map_in_order waited for it


def test_an_error_on_a_pool_thread_reaches_the_caller(threads):
    threads(2)
    both_inside = threading.Barrier(2)
    caller = threading.get_ident()

    def item(i):
        both_inside.wait(timeout=10)
        if threading.get_ident() != caller:
            raise KeyError("the pool's item")
        return i

    with pytest.raises(KeyError, match="the pool's item"):
        parallel.map_in_order(item, range(2))


def test_a_call_from_inside_a_pool_thread_does_not_wait_for_the_pool(threads):
    # the inner calls' helpers queue behind the very threads that wait for them: the callers do
    # the inner work themselves and cancel the helpers that never started
    threads(2)
    nested = parallel.map_in_order(lambda i: sum(parallel.map_in_order(lambda j: i * j, range(5))), range(4))
    assert nested == [10 * i for i in range(4)]


def test_after_an_error_no_thread_takes_more_work(threads):
    threads(2)
    done = []
    caller = threading.get_ident()

    def item(i):
        if threading.get_ident() == caller:
            raise ValueError("the caller's item")
        time.sleep(0.01)
        done.append(i)

    started = time.perf_counter()
    with pytest.raises(ValueError):
        parallel.map_in_order(item, range(200), tasks=200)
    assert len(done) < 100 and time.perf_counter() - started < 1.0  # not the 200 items' 2 s


def test_every_thread_gets_the_same_number_of_blocks(threads, monkeypatch):
    # 40 elements in pieces of at most 8 would be 5 blocks: one thread would work the last
    # alone while the other waits, so the blocks come in a multiple of the threads
    monkeypatch.setattr(parallel, "MIN_BLOCK_ELEMENTS", 1)
    monkeypatch.setattr(parallel, "MAX_BLOCK_ELEMENTS", 8)
    seen = np.zeros(40)
    calls = []

    def mark(block):
        calls.append(block)
        seen[block] += 1

    threads(2)
    parallel.for_each_block(mark, seen.shape, axis=0)
    assert len(calls) == 6
    np.testing.assert_array_equal(seen, 1)  # every element once
    calls.clear()
    threads(3)
    parallel.for_each_block(mark, (4,), axis=0)  # never more blocks than the axis is long
    assert len(calls) == 3
