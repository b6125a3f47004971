"""Work too long for one turn of the event loop, done a slice at a time between other events.

A job is a generator that yields after each small unit of work (a few hundred lines drawn, a
few thousand edges written). Each turn runs units until BUDGET seconds are used, then lets
the window answer input, timers and paints before the next turn. So the window never stops
for much longer than BUDGET, on a quiet machine or a loaded one: drawing 8,000 edges at once
took 75-180 ms, writing a 51k-edge project 0.8-2 s.
"""
from __future__ import annotations

import time
from typing import Iterator

from PySide6.QtCore import QObject, QTimer, Signal

BUDGET = 0.012  # seconds of work per turn of the event loop


class Slices(QObject):
    """Runs one job at a time; starting another drops the one running."""

    finished = Signal()  # the job ran to its end (not emitted for a dropped one)

    def __init__(self, parent: QObject | None = None, budget: float = BUDGET) -> None:
        super().__init__(parent)
        self.budget = budget
        self.turns = 0  # turns of the event loop the last job took (tests, benchmarks)
        self._job: Iterator | None = None
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._turn)

    @property
    def running(self) -> bool:
        return self._job is not None

    def start(self, job: Iterator) -> None:
        """Run `job` from the next turn on, in place of any job running."""
        self.cancel()
        self._job, self.turns = job, 0
        self._timer.start()

    def cancel(self) -> None:
        """Drop the running job (its generator is closed: its `finally` clauses run)."""
        job, self._job = self._job, None
        self._timer.stop()
        if job is not None and hasattr(job, "close"):
            job.close()

    def finish_now(self) -> None:
        """Run the rest of the job at once (before the window closes, say)."""
        if self._job is not None:
            self._turn(deadline=float("inf"))

    def _turn(self, deadline: float | None = None) -> None:
        job = self._job
        if job is None:
            return
        end = time.perf_counter() + self.budget if deadline is None else deadline
        self.turns += 1
        try:
            while time.perf_counter() < end:
                next(job)
        except StopIteration:
            if self._job is job:
                self._job = None
                self.finished.emit()
            return
        except BaseException:
            self._job = None  # a job that failed is over; the error goes on to the caller
            raise
        if self._job is job:
            self._timer.start()
