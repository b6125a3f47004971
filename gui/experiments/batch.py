"""A batch of runs (a repeat with several seeds, a sweep) trained in parallel background
processes through the core's executor (core.experiments.sweep.run_sweep, local processes),
its results handed to the GUI thread as signals as each run ends.

The thread here only waits on the worker processes (they train, each with one BLAS thread),
so the window never waits for a run and never competes with one for the GIL. Cancel stops
the workers within a fraction of a second and keeps every run that had finished.
"""
from __future__ import annotations

import os
import threading
from typing import Callable

from PySide6.QtCore import QObject, Signal

from core.errors import one_line
from core.experiments.job import Job, SweepBase, run_job

STOP_SECONDS = 5.0  # how long closing the window waits for a cancelled batch to wind down


def default_workers() -> int:
    """Every core but one, which the window's own training process and painting keep."""
    return max(1, (os.cpu_count() or 2) - 1)


class Batch(QObject):
    # What each worker runs (a module-level function: it goes to spawned processes by name);
    # tests put one here that takes its worker down.
    work: Callable = staticmethod(run_job)
    started = Signal(object)  # a core.experiments.job.Job, as it goes to a worker process
    result = Signal(object)  # a core.experiments.job.JobResult, as each job ends
    failed = Signal(str)  # the batch could not run at all (no worker process could start)
    finished = Signal(bool)  # every job reported, or stopped: True when cancelled

    def __init__(self, base: SweepBase, jobs: list[Job], workers: int, parent=None) -> None:
        super().__init__(parent)
        self.base, self.jobs, self.workers = base, jobs, max(1, workers)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.done = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, daemon=True, name="batch of runs")
        self._thread.start()

    def cancel(self) -> None:
        self._stop.set()

    def shutdown(self) -> None:
        """Cancel and wait for the workers to be stopped (the window is closing)."""
        self.cancel()
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)

    def _work(self) -> None:
        from core.experiments.sweep import local_executor, run_sweep

        try:
            run_sweep(self.base, self.jobs, lambda: local_executor(self.workers), self.workers,
                      on_result=self._report, should_stop=self._stop.is_set, work=self.work,
                      on_start=self.started.emit)
        except Exception as exc:  # noqa: BLE001 - said in the window, not a traceback
            self.failed.emit(f"The runs could not be started: {one_line(exc, 200)}")
        self.finished.emit(self._stop.is_set())

    def _report(self, result) -> None:
        self.done += 1
        self.result.emit(result)
