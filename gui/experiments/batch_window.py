"""The window of one batch of runs (seeds or a sweep) while it trains and after: progress,
Cancel, a table with one row per run, and the plots the kind of batch draws (subclasses:
seeds_view, sweep_view). Each run that ends joins the document's run log at once, as one
undoable step per batch (core.experiments.add_runs), so Cancel keeps what finished."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from core.experiments.job import JobResult
from core.experiments.run import Run
from core.number_text import fmt
from gui.experiments.batch import Batch
from gui.experiments.window_size import within_screen

WAITING, TRAINING, NOT_RUN = "waiting…", "training…", "not run"
FIGURES = (("test_loss", "final test loss"), ("train_loss", "final train loss"),
           ("test_accuracy", "final test accuracy"), ("train_accuracy", "final train accuracy"))


def figure(run: Run | None, name: str) -> float | None:
    if run is None or run.final is None:
        return None
    return getattr(run.final, name)


class BatchWindow(QDialog):
    """`keep(result)` adds a finished run to the document and returns it as kept (with its id)
    or None when the document it belongs to is no longer open."""

    closed = Signal()

    def __init__(self, title: str, batch: Batch, keep: Callable[[JobResult], Run | None],
                 columns: tuple[str, ...], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAttribute(Qt.WA_DeleteOnClose, False)
        self.batch, self._keep = batch, keep
        self.jobs = list(batch.jobs)  # every job of the window (a retry's batch has some)
        self.results: dict[int, JobResult] = {}  # by job index, as kept (runs with their ids)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, len(batch.jobs))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the runs still training; the finished ones are kept")
        self.cancel_button.clicked.connect(self._on_cancel_or_close)
        # After a batch with failed runs (a worker that died) or a cancelled one: run those
        # again, or the rest, in this window; their runs join the same undo step when nothing
        # came between.
        self.retry_button = QPushButton()
        self.retry_button.hide()
        self.retry_button.clicked.connect(self.retry)
        self.table = QTableWidget(len(batch.jobs), len(columns))
        self.table.setHorizontalHeaderLabels(list(columns))
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        top = QHBoxLayout()
        top.addWidget(self.progress, 1)
        top.addWidget(self.retry_button)
        top.addWidget(self.cancel_button)
        self.plots = QWidget()  # filled by the subclass
        self.splitter = QSplitter(Qt.Vertical)
        self.splitter.addWidget(self.plots)
        self.splitter.addWidget(self.table)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)

    def resize_within_screen(self, width: int, height: int) -> None:
        """This size, or less on a small screen (a sweep's 1100 x 700 went off a laptop's)."""
        self.resize(*within_screen(self, width, height))

    def follow(self) -> None:
        """Show the jobs as waiting and follow the batch (the subclass calls this last)."""
        for i, job in enumerate(self.jobs):
            self.fill_row(i, JobResult(job), pending=WAITING)
        self._listen()
        self._say_progress()

    def _listen(self) -> None:
        self.batch.started.connect(self._on_started)
        self.batch.result.connect(self._on_result)
        self.batch.failed.connect(self._on_failed)
        self.batch.finished.connect(self._on_finished)

    # ----- following the batch -------------------------------------------------------------
    def _on_started(self, job) -> None:
        if job.index not in self.results:
            self.fill_row(self.jobs.index(job), JobResult(job), pending=TRAINING)

    def _on_result(self, result: JobResult) -> None:
        if result.run is not None:
            run = self._keep(result)
            result = JobResult(result.job, run, result.error, result.attempts) \
                if run is not None else result
        self.results[result.job.index] = result
        self.progress.setValue(len(self.results))
        self.fill_row(self._row(result), result)
        self._say_progress()
        self.redraw()

    def _on_failed(self, text: str) -> None:
        self.status.setText(text)

    def _on_finished(self, cancelled: bool) -> None:
        for row, job in enumerate(self.jobs):  # stopped while training, or never started
            if job.index not in self.results:
                self.fill_row(row, JobResult(job), pending=NOT_RUN)
        self.cancel_button.setText("Close")
        self.cancel_button.setToolTip("")
        self._say_progress(finished=True, cancelled=cancelled)
        left, failed = self.jobs_left(), self.failed_count()
        if left:
            self.retry_button.setText(f"Retry {failed} failed" if len(left) == failed
                                      else f"Run the {len(left)} left")
            self.retry_button.setToolTip("Train these runs again in background processes, "
                                         "as they were set up")
        self.retry_button.setVisible(bool(left))

    def _on_cancel_or_close(self) -> None:
        self.cancel() if self.batch.running else self.close()

    def jobs_left(self) -> list:
        """The jobs without a kept run: failed, or never run (the batch was cancelled)."""
        return [j for j in self.jobs if j.index not in self.results
                or self.results[j.index].run is None]

    def failed_count(self) -> int:
        return sum(r.run is None for r in self.results.values())

    def retry(self) -> None:
        """Train the jobs left (failed, or not reached) again, as a batch of their own."""
        jobs = self.jobs_left()
        if not jobs or self.batch.running:
            return
        for job in jobs:
            self.results.pop(job.index, None)
            self.fill_row(self.jobs.index(job), JobResult(job), pending=WAITING)
        old = self.batch
        self.batch = Batch(old.base, jobs, old.workers, old.parent())
        self._listen()
        self.retry_button.hide()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the runs still training; the finished ones are kept")
        self.progress.setValue(len(self.results))
        self.batch.start()
        self._say_progress()

    def cancel(self) -> None:
        self.batch.cancel()
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling: the runs still training are stopped; the finished "
                            "ones are kept…")

    def _say_progress(self, finished: bool = False, cancelled: bool = False) -> None:
        total, done = len(self.jobs), len(self.results)
        failed = self.failed_count()
        text = f"{done} of {total} runs done"
        if failed:
            text += f", {failed} failed (hover its row for why)"
        if finished:
            text += ". Cancelled; the finished runs are kept." if cancelled else ". Finished."
            self.cancel_button.setEnabled(True)
        else:
            text += f", {self.batch.workers} at a time in background processes."
        self.status.setText(text + " Each run is also in the Runs panel.")

    def _row(self, result: JobResult) -> int:
        return next(i for i, job in enumerate(self.jobs) if job.index == result.job.index)

    def fill_row(self, row: int, result: JobResult, pending: str = "") -> None:
        """A job's row: its result, or for a job without one, `pending` as its status."""
        for column, text in enumerate(self.cells(result, pending)):
            item = QTableWidgetItem(text)
            if column >= self.first_number_column():
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            item.setToolTip(result.error or (result.run.note if result.run else "") or text)
            self.table.setItem(row, column, item)

    def finished_runs(self) -> list[tuple[JobResult, Run]]:
        return [(r, r.run) for _, r in sorted(self.results.items()) if r.run is not None]

    def done(self, result: int) -> None:
        """Closing the window (its close button, Esc, Close) stops its runs; the finished
        ones are kept. (QDialog closes through here, never through closeEvent alone.)"""
        if self.batch.running:
            self.batch.cancel()
        super().done(result)
        self.closed.emit()

    # ----- for the subclass ----------------------------------------------------------------
    def cells(self, result: JobResult, pending: str) -> list[str]:
        raise NotImplementedError

    def first_number_column(self) -> int:
        return 0

    def redraw(self) -> None:
        raise NotImplementedError


def to_train_if_no_test(combo, key: str, present: bool) -> bool:
    """A combo showing a test figure that no finished run has (no test part): switch it to
    the train figure. True when it switched (the switch redraws)."""
    if present or not key.startswith("test_"):
        return False
    index = combo.findData(key.replace("test_", "train_"))
    if index < 0:
        return False
    combo.setCurrentIndex(index)
    return True


def status_text(result: JobResult, pending: str) -> str:
    return pending or result.status


def number(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}%" if percent else fmt(value)
