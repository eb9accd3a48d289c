"""Spawned processes that report once each (service/spawned.py), as a partitioned rebuild and an
import by several processes use them: outcomes by key, shared counters, and every way a
process can fail reaching the caller, with the others stopped."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from service.spawned import SpawnedProcesses


class Stopped(RuntimeError):
    """What the caller raises for a process that failed."""


def behave(counters: Any, slot: int, how: str, value: int = 0) -> str:
    """A spawned process's work: count to `value` in its slot, raise, end at once with exit
    code `value`, or keep running (its pid in its slot)."""
    if how == "count":
        for _ in range(value):
            counters[slot] += 1
        return f"slot {slot} counted {value}"
    if how == "raise":
        raise ValueError(f"slot {slot} cannot go on")
    if how == "exit":
        os._exit(value)
    counters[slot] = os.getpid()
    time.sleep(120)
    return "woke"


def spawned(arguments: dict[Any, tuple[Any, ...]]) -> SpawnedProcesses[Any]:
    return SpawnedProcesses(
        behave, arguments, counters=3, name=lambda key: f"process {key}", failed=Stopped
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_each_process_reports_its_outcome_by_key_and_shares_its_counter():
    polls: list[list[int]] = []
    processes = spawned({"a": (0, "count", 500), "b": (2, "count", 300)})
    with processes:
        outcomes = processes.wait(0.05, lambda: polls.append(list(processes.counters)))
    assert outcomes == {"a": "slot 0 counted 500", "b": "slot 2 counted 300"}
    assert list(processes.counters) == [500, 0, 300]
    assert polls[-1] == [500, 0, 300]  # told once more after the last report
    assert processes.finished


def test_a_process_that_raises_stops_the_caller_with_its_traceback_and_the_others():
    processes = spawned({"bad": (0, "raise"), "slow": (1, "sleep")})
    started = time.monotonic()
    with pytest.raises(Stopped) as stopped, processes:
        processes.wait(0.05)
    message = str(stopped.value)
    assert message.startswith("process bad failed:\nTraceback"), message
    assert "ValueError: slot 0 cannot go on" in message
    assert "in behave" in message
    assert time.monotonic() - started < 60  # the sleeper was stopped, not waited for
    if processes.counters[1]:  # it had started
        assert not alive(processes.counters[1])


def test_a_process_that_ends_without_a_report_is_named_with_its_exit_code():
    processes = spawned({"lost": (0, "exit", 3)})
    ended = r"^process lost ended with 3 and reported nothing$"
    with pytest.raises(Stopped, match=ended), processes:
        processes.wait(0.05)


def test_leaving_the_block_stops_the_processes_still_running():
    processes = spawned({0: (0, "sleep"), 1: (1, "sleep")})
    with processes:
        while not all(processes.counters[:2]):  # both have started
            processes.collect(wait=0.05)
        pids = list(processes.counters[:2])
    assert not any(alive(pid) for pid in pids)
    assert not processes.finished
