"""Work shared among processes started afresh (spawn), each reporting once: what a partitioned
rebuild (service/replay/partitioned.py) and an import by several processes
(service/partitioned_import.py) hand out and wait for.

The processes are spawned, not forked: the caller holds pools, connections and their threads,
which a fork would copy half-made. Each runs `target(counters, *arguments)` and reports once,
by key, its return value or the traceback of what it raised. `counters` are integers the
processes share with the caller (one a slot, written without a lock: each slot has one writer),
for the progress the caller shows while it waits.

The caller learns of a failure as soon as it next collects: a process that raised, or one that
ended without a report (killed, or out of memory), raises `failed` with its traceback or exit
code; leaving the `with` block stops the processes still running."""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections.abc import Callable, Hashable, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
# How long the report of a process that has ended may take to arrive: a report is put on the
# queue before the process ends, and the queue's feeder thread flushes it on the way out.
END_WAIT_SECONDS = 5.0


class SpawnedProcesses(Generic[K]):
    """One spawned process per key, each running `target(counters, *arguments[key])`; their
    outcomes by key as they report (`collect`)."""

    def __init__(
        self,
        target: Callable[..., Any],
        arguments: Mapping[K, tuple[Any, ...]],
        *,
        counters: int,
        name: Callable[[K], str],
        failed: Callable[[str], Exception],
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.counters: Any = context.Array("q", counters, lock=False)
        self.outcomes: dict[K, Any] = {}
        self._results: Any = context.Queue()
        self._failed = failed
        self._processes = {
            key: context.Process(
                target=_run_and_report,
                args=(target, key, self.counters, self._results, arguments[key]),
                name=name(key),
                daemon=True,
            )
            for key in arguments
        }

    def __enter__(self) -> SpawnedProcesses[K]:
        for process in self._processes.values():
            process.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for process in self._processes.values():
            if process.pid is None:  # never started
                continue
            if kind is None and self.finished:  # it has reported: let it end on its own
                process.join(END_WAIT_SECONDS)
            if process.is_alive():
                process.terminate()
            process.join()
        self._results.close()

    @property
    def finished(self) -> bool:
        """Every process has reported."""
        return len(self.outcomes) == len(self._processes)

    def collect(self, wait: float) -> None:
        """Take the outcomes reported so far into `outcomes`, waiting up to `wait` seconds for
        the next; raise `failed` for a process that raised or ended without a report."""
        while not self.finished:
            try:
                key, outcome, error = self._results.get(timeout=wait)
            except queue.Empty:
                ended = [
                    key
                    for key, process in self._processes.items()
                    if key not in self.outcomes and process.exitcode is not None
                ]
                if not ended:
                    return
                try:  # what it put on the queue before it ended, if anything
                    key, outcome, error = self._results.get(timeout=END_WAIT_SECONDS)
                except queue.Empty:
                    process = self._processes[ended[0]]
                    raise self._failed(
                        f"{process.name} ended with {process.exitcode} and reported nothing"
                    ) from None
            if error is not None:
                raise self._failed(f"{self._processes[key].name} failed:\n{error}")
            self.outcomes[key] = outcome

    def wait(self, poll: float, on_poll: Callable[[], None] | None = None) -> dict[K, Any]:
        """Collect until every process has reported, calling `on_poll` every `poll` seconds
        meanwhile (to show progress); the outcomes by key."""
        while not self.finished:
            if on_poll is not None:
                on_poll()
            self.collect(wait=poll)
        if on_poll is not None:
            on_poll()
        return self.outcomes


def _run_and_report(
    target: Callable[..., Any], key: Any, counters: Any, results: Any, arguments: tuple[Any, ...]
) -> None:
    """In the spawned process: the work, then its one report (key, outcome, traceback)."""
    try:
        outcome = target(counters, *arguments)
    except BaseException:
        results.put((key, None, traceback.format_exc()))
        raise
    results.put((key, outcome, None))
