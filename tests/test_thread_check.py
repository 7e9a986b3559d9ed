"""The suite's thread check (conftest.py): a test that leaves a thread running fails; one whose threads end passes."""

import threading

from conftest import threads_left


def test_the_thread_check_names_a_thread_a_test_left_running_and_not_one_that_finished():
    before = set(threading.enumerate())
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="left-running")
    thread.start()
    try:
        assert threads_left(before, 0.05) == ["left-running"]
    finally:
        stop.set()
    assert threads_left(before, 5.0) == []
    assert not thread.is_alive()
