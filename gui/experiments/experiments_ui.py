"""Everything the window does with kept runs: recording them while the user trains, the Runs
panel (compare, rename, delete, restore weights), repeats with several seeds, sweeps and the
evaluation window, with the Experiments menu. Every change of the run log is an undoable
command on the window's stack; batches of runs train in background processes."""
from __future__ import annotations

import re
from dataclasses import replace

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget

from core.engine import compile_plan
from core.errors import RunError, SweepError, UserError, one_line, shorten
from core.experiments.add_runs import AddRuns
from core.experiments.evaluation import evaluate
from core.experiments.job import JobResult, SweepBase
from core.experiments.run import Run, check_name
from core.experiments.run_edits import DeleteRuns, RenameRun, restore_weights
from core.experiments.run_log import RunChange
from core.experiments.sweep import SweepSpec, check_jobs
from core.network import NetworkError
from gui.commands import apply_and_push
from gui.experiments.batch import Batch, default_workers
from gui.experiments.batch_window import BatchWindow
from gui.experiments.evaluation_view import EvaluationWindow
from gui.experiments.recording import RunRecording
from gui.experiments.runs_panel import RunsPanel
from gui.experiments.seeds_view import SeedsDialog, SeedsWindow
from gui.experiments.sweep_dialog import SweepDialog
from gui.experiments.sweep_view import SweepWindow
from gui.experiments.window_size import within_screen


class ExperimentsUI(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.project = window.project
        training = window.training
        self.recording = RunRecording(self.project, training.controller, self)
        training.weights_reset.connect(self.recording.weights_reset)
        self.panel = RunsPanel(self.project.runs)
        self.panel.rename_requested.connect(self.rename)
        self.panel.delete_requested.connect(self.delete)
        self.panel.restore_requested.connect(self.restore)
        self.dock = QDockWidget("Runs", window)
        self.dock.setObjectName("runs")
        self.dock.setWidget(self.panel)
        self.panel.pop_out_requested.connect(self.toggle_floating)
        self.dock.topLevelChanged.connect(self._on_dock_floating)
        window.addDockWidget(Qt.BottomDockWidgetArea, self.dock)
        window.tabifyDockWidget(training.docks[0], self.dock)
        training.docks[0].raise_()
        window.panels_menu.addAction(self.dock.toggleViewAction())
        self._menu()
        self.windows: list[BatchWindow] = []  # seeds and sweeps, open or running
        self.evaluations: list[EvaluationWindow] = []
        self._document = object()  # a new one per document: a batch's runs go to its own
        self.project.runs.changed.connect(self._on_runs_changed)

    def _menu(self) -> None:
        w = self.window
        menu = w.menuBar().addMenu("E&xperiments")
        menu.addAction(self.dock.toggleViewAction())
        self.seeds_action = w.add_action(menu, "Repeat with N &seeds…", self.ask_seeds, tip=(
            "Train this setup from several initialisations in parallel and see how far "
            "the runs spread"))
        self.sweep_action = w.add_action(menu, "S&weep…", self.ask_sweep, tip=(
            "Train over lists of values of one or two settings, times seeds, in parallel"))
        self.evaluate_action = w.add_action(menu, "&Evaluate…", self.evaluate, tip=(
            "Confusion matrices and per-class accuracy, or predictions against targets, for "
            "the selected run's weights or the canvas's"))
        # Short words on the panel's toolbar, so that at 1024 x 700 none goes behind its "»"
        # (the menu keeps the full names, the tooltips say what each does).
        for action, short in ((self.seeds_action, "Seeds…"), (self.sweep_action, "Sweep…"),
                              (self.evaluate_action, "Evaluate…")):
            action.setIconText(short)
            self.panel.toolbar.addAction(action)
        w.menus["experiments"] = menu

    def show_panel(self) -> None:
        """Bring the Runs panel into view (its tab chosen)."""
        self.dock.show()
        self.dock.raise_()

    def toggle_floating(self) -> None:
        """The Runs panel in a window of its own (readable on a laptop's screen), or back."""
        self.dock.show()
        self.dock.setFloating(not self.dock.isFloating())

    def _on_dock_floating(self, floating: bool) -> None:
        self.panel.set_floating(floating)
        if not floating:  # back in its tab group: in front, not behind the tab last shown
            QTimer.singleShot(0, self.dock.raise_)
        if floating:  # (its float button or a drag out too): not the strip it was docked as
            # List, plot and legend side by side, readable.
            width, height = within_screen(self.window, 900, 560)
            if self.dock.width() < width or self.dock.height() < height:
                self.dock.resize(max(width, self.dock.width()), max(height, self.dock.height()))
                centre = self.window.frameGeometry().center()
                self.dock.move(centre.x() - self.dock.width() // 2,
                               centre.y() - self.dock.height() // 2)

    def say(self, text: str, ms: int = 10000) -> None:
        self.window.statusBar().showMessage(text, ms)

    def _push(self, edit) -> bool:
        reason = apply_and_push(self.window.undo_stack, self.project.network, edit)
        if reason:
            self.say(reason)
        return reason is None

    # ----- the panel's requests ------------------------------------------------------------
    def rename(self, run_id: str, name: str) -> None:
        try:
            new = check_name(name)
        except RunError as exc:
            self.say(f"Not renamed: {exc}")
            return
        old = self.project.runs[run_id].name
        if new != old:
            self._push(RenameRun(self.project.runs, run_id, old, new))

    def delete(self, run_ids: list[str]) -> None:
        self._push(DeleteRuns(self.project.runs, list(run_ids)))

    def restore(self, run_id: str) -> None:
        """The run's final weights onto the canvas: one undo step (Ctrl+Z puts them back)."""
        self.window.training.controller.settle()  # the stretch so far is its own undo step
        run = self.project.runs[run_id]
        try:
            edit = restore_weights(self.project.network, run)
        except RunError as exc:
            self.say(str(exc))
            return
        if self._push(edit):
            self.say(f"Weights of {shorten(run.name or run.id, 60)} restored (Ctrl+Z puts the "
                     "weights before back)")

    # ----- batches: seeds and sweeps --------------------------------------------------------
    def base(self, epochs: int) -> SweepBase:
        """What every run of a batch starts from: this document as it is now."""
        data = self.window.training.live.data
        if data is None:
            raise UserError("There is no data to train on (the data settings could not be "
                            "used; see the Settings panel)")
        p = self.project
        return SweepBase(p.network.to_dict(), data, p.data, p.training, epochs)

    def refusal(self, spec: SweepSpec, epochs: int) -> str | None:
        """Why this batch cannot run, found before any process starts; None when it can."""
        try:
            check_jobs(self.base(epochs), spec.jobs())
        except (UserError, NetworkError) as exc:
            return one_line(exc)
        return None

    def ask_seeds(self) -> SeedsWindow | None:
        t = self.project.training
        dialog = SeedsDialog(t.seed, min(t.epochs, 1000) or 1, default_workers(), self.window)
        if not dialog.exec():
            return None
        return self.start_seeds(*dialog.values())

    def start_seeds(self, seeds: int, epochs: int, workers: int) -> SeedsWindow | None:
        first = self.project.training.seed
        spec = SweepSpec((), tuple(range(first, first + seeds)))
        label = self._batch_label("Seeds")
        return self._start(spec, epochs, workers, label, lambda batch, keep: SeedsWindow(
            f"{label}: {self._setup_text()} from {plural(seeds, 'seed')}", batch, keep,
            self.window))

    def ask_sweep(self) -> SweepWindow | None:
        dialog = SweepDialog(self.project.training, default_workers(), self.refusal, self.window)
        if not dialog.exec():
            return None
        return self.start_sweep(dialog.spec, dialog.epochs.value(), dialog.workers.value())

    def start_sweep(self, spec: SweepSpec, epochs: int, workers: int) -> SweepWindow | None:
        label = self._batch_label("Sweep")
        names = " × ".join(a.name for a in spec.axes)
        return self._start(spec, epochs, workers, label, lambda batch, keep: SweepWindow(
            f"{label}: {names} × {plural(len(spec.seeds), 'seed')}", batch, keep, spec.axes,
            self.window))

    def _start(self, spec: SweepSpec, epochs: int, workers: int, label: str, make):
        problem = self.refusal(spec, epochs)
        if problem:
            self.say(f"{label} not started: {problem}")
            return None
        batch = Batch(self.base(epochs), spec.jobs(), workers, self)
        document = self._document
        view = make(batch, lambda result: self._keep(document, label, result))
        view.closed.connect(lambda: self._forget(view))
        self.windows.append(view)
        batch.start()
        view.show()
        return view

    def _keep(self, document: object, label: str, result: JobResult) -> Run | None:
        """A finished run of a batch into the run log of the document it was started for."""
        if document is not self._document:
            return None
        run = replace(result.run, name=f"{label}: {result.job.name}")
        edit = AddRuns(self.project.runs, [run], batch=label, label=label)
        return edit.added[0] if self._push(edit) else None

    def _batch_label(self, kind: str) -> str:
        """'Seeds 3': one more than any such label in the log's run names."""
        numbers = [int(m.group(1)) for r in self.project.runs
                   if (m := re.match(rf"{kind} (\d{{1,9}}): ", r.name))]
        numbers += [int(m.group(1)) for v in self.windows
                    if (m := re.match(rf"{kind} (\d{{1,9}}): ", v.windowTitle()))]
        return f"{kind} {max(numbers, default=0) + 1}"

    def _setup_text(self) -> str:
        t = self.project.training
        return f"{t.optimizer}, learning rate {t.learning_rate:g}"

    def _forget(self, view: BatchWindow) -> None:
        if view in self.windows and not view.batch.running:
            self.windows.remove(view)

    # ----- evaluation -----------------------------------------------------------------------
    def evaluate(self) -> EvaluationWindow | None:
        """The selected run's weights (one run, with weights) or else the canvas's."""
        live, runs = self.window.training.live, self.panel.selected_runs()
        if live.data is None:
            self.say("Nothing to evaluate on: the data settings could not be used")
            return None
        try:
            if len(runs) == 1 and runs[0].weights is not None:
                network = self.project.network.copy()
                restore_weights(network, runs[0]).apply(network)
                plan = compile_plan(network)
                params, what = plan.pack(network), f"run “{runs[0].name or runs[0].id}”"
            else:
                plan, params, what = live.plan, live.params(), "the weights on the canvas"
            report = evaluate(plan, params, self.project.training.loss, live.data,
                              self.project.training.sequence_loss)
        except UserError as exc:
            self.say(f"Cannot evaluate: {exc}")
            return None
        view = EvaluationWindow(report, f"{what}, on {live.data.describe()}", self.window)
        self.evaluations = [e for e in self.evaluations if e.isVisible()] + [view]
        view.show()
        return view

    # ----- documents --------------------------------------------------------------------------
    def _on_runs_changed(self, change: RunChange) -> None:
        if change.kind != "reset":
            return
        # Another document: batches started for the one before stop, and nothing more of
        # theirs reaches this one's log.
        self._document = object()
        for view in list(self.windows):
            view.batch.cancel()
            view.close()

    def shutdown(self) -> None:
        for view in self.windows:
            view.batch.shutdown()


def plural(n: int, word: str) -> str:
    """'1 seed', '3 seeds'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
