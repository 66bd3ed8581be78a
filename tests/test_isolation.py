"""docflow.isolation.run_in_child: native code's crash or hang costs only the child."""

from __future__ import annotations

import os
import time

from docflow.isolation import run_in_child


def test_the_childs_answer_comes_back():
    assert run_in_child(lambda: b"read " + str(os.getpid()).encode(), timeout=10).startswith(b"read ")
    assert run_in_child(lambda: b"x", timeout=10) != b"read " + str(os.getpid()).encode()


def test_a_child_that_aborts_or_raises_gives_none_and_the_parent_goes_on():
    assert run_in_child(os.abort, timeout=10) is None  # what a native assertion does
    assert run_in_child(lambda: 1 / 0, timeout=10) is None  # type: ignore[arg-type, return-value]


def test_a_child_still_working_at_its_timeout_is_stopped():
    started = time.monotonic()
    assert run_in_child(lambda: time.sleep(60) or b"late", timeout=0.5) is None
    assert time.monotonic() - started < 5
