"""Step-through mode: one sample forward, its gradient backward, and the update, one event at a
time, with the arithmetic in the formula panel and the numbers on the canvas.

On sequence data it follows one sequence over time instead (core.stepthrough.over_time): the
unrolled net stands in for the canvas (gui.stepthrough.time_stage) and the sequence chooser for
the sample chooser.

The walkthrough (core.stepthrough) is rebuilt whenever the document, the settings or the sample
change, so it always shows the network as it is; the position in it is kept where it still
exists. Training is paused on entering: the numbers are for the weights on the canvas.
"""
from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import (QDockWidget, QHBoxLayout, QLabel, QListWidget, QPushButton,
                               QSlider, QSplitter, QTextBrowser, QToolBar, QVBoxLayout,
                               QWidget)

from core.edits import SetValues
from core.network import NetworkError
from core.stepthrough import (StepThroughError, Walkthrough, column_names, fmt, target_meaning,
                              walkthrough)
from core.stepthrough.over_time import TimeWalkthrough, walkthrough_over_time
from core.training.live_state import LiveState
from gui.commands import apply_and_push
from gui.stepthrough.formula_view import event_html, refusal_html
from gui.stepthrough.overlay import StepOverlay
from gui.stepthrough.sample_chooser import SampleChooser
from gui.stepthrough.sequence_chooser import SequenceChooser
from gui.stepthrough.time_stage import TimeStage

PLAY_MS = 900  # per event while playing: time to read a line or two


class StepThroughMode(QObject):
    def __init__(self, window, live: LiveState, training) -> None:
        """`live`: the document, its data and settings as training has them; `training`: the
        TrainingController, paused on entering."""
        super().__init__(window)
        self.window = window
        self.live = live
        self.training = training
        self.walk: Walkthrough | TimeWalkthrough | None = None
        self.index = 0
        self.active = False
        self.overlay: StepOverlay | None = None
        self.stage = TimeStage(window)
        self._sequences = None  # the data the sequence chooser was last given
        self._build_panel()
        self._actions()
        self._rebuild_timer = QTimer(self, singleShot=True, interval=0)
        self._rebuild_timer.timeout.connect(self.rebuild)
        self._play_timer = QTimer(self, interval=PLAY_MS)
        self._play_timer.timeout.connect(self._play_tick)
        window.project.network.changed.connect(self._on_document_changed)
        self.chooser.changed.connect(self._schedule)
        self.sequence_chooser.changed.connect(self._schedule)

    # ----- building ------------------------------------------------------------------------------
    def _build_panel(self) -> None:
        self.chooser = SampleChooser()
        self.sequence_chooser = SequenceChooser()
        self.sequence_chooser.hide()
        self.back_button = QPushButton("◀ Back")
        self.next_button = QPushButton("Next ▶")
        self.play_button = QPushButton("Play")
        self.restart_button = QPushButton("First")
        self.restart_button.setToolTip("Back to the first event (Home)")
        self.back_button.setToolTip("One event back (Left arrow)")
        self.next_button.setToolTip("One event on (Right arrow)")
        self.play_button.setToolTip("Run through the events (P)")
        self.restart_button.clicked.connect(lambda: self.go(0))
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        self.play_button.clicked.connect(self.toggle_play)
        nav = QHBoxLayout()
        nav.setContentsMargins(0, 0, 0, 0)
        for b in (self.restart_button, self.back_button, self.next_button, self.play_button):
            nav.addWidget(b)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setToolTip("Drag to any event")
        self.slider.valueChanged.connect(self.go)
        self.formula = QTextBrowser()
        self.formula.setOpenLinks(False)
        self.formula.setMinimumHeight(170)
        self.events_list = QListWidget()
        self.events_list.setToolTip("Every event of this sample; click one to go there")
        self.events_list.currentRowChanged.connect(self._on_event_clicked)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.formula)
        split.addWidget(self.events_list)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        self.apply_button = QPushButton("Apply update")
        self.apply_button.setToolTip("Write the new weights and biases into the network "
                                     "(one undoable edit)")
        self.apply_button.clicked.connect(self.apply_update)
        self.status = QLabel()
        self.status.setWordWrap(True)
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.addWidget(self.chooser)
        layout.addWidget(self.sequence_chooser)
        layout.addLayout(nav)
        layout.addWidget(self.slider)
        layout.addWidget(split, 1)
        layout.addWidget(self.apply_button)
        layout.addWidget(self.status)
        self.panel = panel
        w = self.window
        self.dock = QDockWidget("Step-through", w)
        self.dock.setObjectName("stepthrough")
        self.dock.setWidget(panel)
        w.addDockWidget(Qt.RightDockWidgetArea, self.dock)
        w.tabifyDockWidget(w.inspector_dock, self.dock)
        self.dock.hide()
        self.dock.visibilityChanged.connect(self._on_dock_visibility)

    def _actions(self) -> None:
        w = self.window
        menu = w.menuBar().addMenu("&Step-through")
        w.menus["stepthrough"] = menu
        self.toggle_action = w.add_action(
            menu, "&Step through one sample or sequence", self.set_active, "F8",
            "Follow one sample (or one sequence, unrolled over time) forward and its gradient "
            "backward, one event at a time")
        self.toggle_action.setCheckable(True)
        self.toggle_action.setIconText("Step through")
        toolbar = w.findChild(QToolBar, "training_toolbar")
        if toolbar is not None:  # beside Run and Step, where a learner looks for it
            toolbar.addSeparator()
            toolbar.addAction(self.toggle_action)
        menu.addSeparator()
        self.next_action = w.add_action(menu, "&Next event", self.next, "Right")
        self.back_action = w.add_action(menu, "&Back one event", self.back, "Left")
        self.first_action = w.add_action(menu, "&First event", lambda: self.go(0), "Home")
        self.play_action = w.add_action(menu, "&Play / pause", self.toggle_play, "P")
        self.apply_action = w.add_action(menu, "&Apply update", self.apply_update, "Ctrl+Return")
        self._enable_keys(False)

    def _enable_keys(self, on: bool) -> None:
        # The arrows, Home and P belong to the canvas and text fields outside this mode.
        for action in (self.next_action, self.back_action, self.first_action, self.play_action,
                       self.apply_action):
            action.setEnabled(on)

    # ----- entering and leaving --------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        if on == self.active:
            self.toggle_action.setChecked(on)
            return
        self.active = on
        self.toggle_action.setChecked(on)
        self._enable_keys(on)
        if on:
            if self.training.running:
                self.training.pause()
            self.dock.show()
            self.dock.raise_()
            self.window.resizeDocks([self.dock], [520], Qt.Horizontal)
            self.rebuild()
            # Frame the network once the dock has taken its width: the labels need the room.
            QTimer.singleShot(50, self.window.view.fit)
        else:
            self._play_timer.stop()
            self.play_button.setText("Play")
            if self.overlay is not None and shiboken6.isValid(self.overlay) and \
                    self.overlay.scene() is not None:
                self.overlay.scene().removeItem(self.overlay)
            self.overlay = None
            self.stage.hide()
            self.dock.hide()

    def _on_dock_visibility(self, visible: bool) -> None:
        if not visible and self.dock.isHidden() and self.active:  # closed, not just tabbed away
            self.set_active(False)

    # ----- the walkthrough ---------------------------------------------------------------------
    def _on_document_changed(self, change) -> None:
        if change.kind == "reset":  # another document: its walkthrough starts at the beginning
            self.index = 0
        self._schedule()

    def _schedule(self) -> None:
        if self.active:
            self._rebuild_timer.start()

    def rebuild(self) -> None:
        if not self.active:
            return
        net = self.live.network
        training = self.live.settings
        data = self.live.data
        over_time = data is not None and data.is_sequence
        self.chooser.setVisible(not over_time)
        self.sequence_chooser.setVisible(over_time)
        self.apply_button.setVisible(not over_time)  # the update is one sample's
        if over_time:
            self._rebuild_over_time(data)
            return
        self.stage.hide()
        self.chooser.set_shape(column_names(net), [n.name for n in net.outputs],
                               self.live.data, target_meaning(training.loss))
        try:
            x, t = self.chooser.current()
            self.walk = walkthrough(net, x, t, training.loss, training.learning_rate)
        except (StepThroughError, NetworkError) as exc:
            self.walk = None
            self._refuse(str(exc))
            return
        self._show_events()
        self.status.setText(f"Loss on this sample: {fmt(self.walk.loss)}  ·  "
                            f"{training.loss}, learning rate {fmt(training.learning_rate)}")
        self.go(min(self.index, len(self.walk.events) - 1), force=True)

    def _rebuild_over_time(self, data) -> None:
        if data is not self._sequences:  # other data: its sequences, from the first
            self._sequences = data
            self.sequence_chooser.set_data(data)
        training, net = self.live.settings, self.live.network
        try:
            x, y = self.sequence_chooser.current()
            first, steps = self.sequence_chooser.window()
            self.walk = walkthrough_over_time(net, x, y, training.loss, training.sequence_loss,
                                              training.bptt_steps, first, steps)
        except (StepThroughError, NetworkError) as exc:
            self.walk = None
            self.stage.hide()
            self._refuse(str(exc))
            return
        self.stage.show(net, self.walk)
        self._show_events()
        self.status.setText(
            f"Loss over the shown steps: {fmt(self.walk.loss)}  ·  {training.loss}, at "
            f"{'every step' if training.sequence_loss == 'every' else 'the last step'}  ·  "
            f"{self.walk.window_text()}  ·  {self.walk.truncation_text()}")
        self.go(min(self.index, len(self.walk.events) - 1), force=True)

    def _show_events(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.walk.events) - 1)
        self.slider.blockSignals(False)
        self.events_list.blockSignals(True)
        self.events_list.clear()
        self.events_list.addItems([e.title for e in self.walk.events])
        self.events_list.blockSignals(False)

    def _refuse(self, message: str) -> None:
        self.formula.setHtml(refusal_html(message))
        self.events_list.clear()
        self.status.setText("")
        for widget in (self.back_button, self.next_button, self.play_button,
                       self.restart_button, self.slider, self.apply_button):
            widget.setEnabled(False)
        self._play_timer.stop()
        self._overlay().show_state("", (), (), {})

    def go(self, index: int, force: bool = False) -> None:
        if self.walk is None:
            return
        index = max(0, min(int(index), len(self.walk.events) - 1))
        if index == self.index and not force:
            return
        self.index = index
        event = self.walk.events[index]
        last = len(self.walk.events) - 1
        self.formula.setHtml(event_html(event, index, len(self.walk.events)))
        for widget, on in ((self.back_button, index > 0), (self.restart_button, index > 0),
                           (self.next_button, index < last), (self.play_button, True),
                           (self.slider, True), (self.apply_button, index == last)):
            widget.setEnabled(on)
        self.apply_button.setText("Apply update" if index == last else
                                  "Apply update (step to the end first)")
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.events_list.blockSignals(True)
        self.events_list.setCurrentRow(index)
        self.events_list.blockSignals(False)
        if isinstance(self.walk, TimeWalkthrough):
            self.stage.view.show_state(event, self.walk.revealed(index))
            return
        self._overlay().show_state(event.phase, event.neurons, event.edges,
                                    self.walk.revealed(index))

    def _overlay(self) -> StepOverlay:
        if self.overlay is None or not shiboken6.isValid(self.overlay):
            # New, Open and templates rebuild the canvas, deleting every item on it
            self.overlay = StepOverlay(self.window.scene)
            self.window.scene.addItem(self.overlay)
        return self.overlay

    def _on_event_clicked(self, row: int) -> None:
        if row >= 0:  # -1 while the list is refilled
            self.go(row)

    def next(self) -> None:
        if self.walk is not None:
            self.go(self.index + 1)

    def back(self) -> None:
        if self.walk is not None:
            self.go(self.index - 1)

    def toggle_play(self) -> None:
        if self._play_timer.isActive():
            self._play_timer.stop()
            self.play_button.setText("Play")
            return
        if self.walk is None:
            return
        if self.index >= len(self.walk.events) - 1:
            self.go(0)
        self._play_timer.start()
        self.play_button.setText("Pause")

    def _play_tick(self) -> None:
        if self.walk is None or self.index >= len(self.walk.events) - 1:
            self._play_timer.stop()
            self.play_button.setText("Play")
            return
        self.next()

    # ----- the update --------------------------------------------------------------------------
    def apply_update(self) -> None:
        if self._rebuild_timer.isActive():  # an edit is waiting: never apply stale numbers
            self._rebuild_timer.stop()
            self.rebuild()
        if not isinstance(self.walk, Walkthrough) or self.index != len(self.walk.events) - 1:
            return
        update = self.walk.update
        before = self.walk.loss
        edit = SetValues(update.old, update.new, "Apply step-through update")
        reason = apply_and_push(self.window.undo_stack, self.window.project.network, edit)
        if reason:  # the document refuses non-finite values
            self.status.setText(f"Nothing was changed: {reason}. With learning rate "
                                f"{fmt(update.learning_rate)} this step is too large; "
                                f"lower the learning rate.")
            return
        self.index = 0
        self.rebuild()  # now, so the message below reports the new loss
        self._rebuild_timer.stop()  # the edit's own change event asked for the same rebuild
        if self.walk is not None:
            self.status.setText(f"Applied (Ctrl+Z undoes it). Loss on this sample: "
                                f"{fmt(before)} → {fmt(self.walk.loss)}"
                                + _why_it_rose(update, before, self.walk.loss))


def _why_it_rose(update, before: float, after: float) -> str:
    """What the curvature along the step says about a step that raised the loss."""
    c = update.curvature
    if not after > before or c is None:
        return ""
    eta_c = update.learning_rate * c
    if eta_c > 2:
        return (f". It went up: along the step the curvature is {fmt(c)}, and η·c = "
                f"{fmt(eta_c)} > 2, so the step overshot the minimum and landed farther from "
                f"it than it started (the update's text says why).")
    return (f". It went up although η·c = {fmt(eta_c)} < 2: the loss is not a parabola this "
            f"far along the step (its curvature changed on the way).")
