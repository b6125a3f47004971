"""Everything the window needs to train live: the run toolbar, the settings dock, the loss,
gradient, surface, sharpness, through-time and data panels, and the weights / gradients view of the canvas.

The panels (and the step-through mode) are handed `live`, the one LiveState (network, dataset,
settings, latest progress, plan, current parameters) that the TrainingController keeps."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (QApplication, QComboBox, QDockWidget, QLabel, QScrollArea, QSpinBox, QToolBar,
                               QWidget)

import numpy as np

from core.data.dataset import DataError, Dataset, make_dataset
from core.engine.one_sample import sample_activations
from core.network import NetworkError
from core.edits import SetSettings, SetValues, values_of
from core.initializers import initialize
from core.training.live_state import LiveState
from gui.canvas.edge_item import EdgeItem
from gui.canvas.neuron_item import NeuronItem
from gui.commands import EditCommand, TrainCommand
from gui.live.controller import TrainingController
from gui.live.data_panel import DataPanel
from gui.live.gradient_panel import GradientPanel
from gui.live.loss_panel import LossPanel
from gui.live.neuron_maps_view import NeuronMapsView
from gui.live.settings_dock import SettingsPanel
from gui.live.sharpness_panel import SharpnessPanel
from gui.live.surface_panel import SurfacePanel
from gui.live.through_time_panel import ThroughTimePanel
from core.training.progress import Progress, ValuesById

NO_VALUES = ValuesById((), np.zeros(0))  # the gradients view before any step


class TrainingUI(QObject):
    data_changed = Signal(object)  # the Dataset of a new run (None if it could not be made)
    weights_reset = Signal()  # Reset weights drew fresh weights from the initialiser and seed
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        project = window.project
        self.live = LiveState(project.network, self._make_dataset(), project.training)
        self.controller = TrainingController(self.live, self)
        self.controller.progress.connect(self._on_progress)
        self.controller.message.connect(self._on_message)
        self.controller.running_changed.connect(self._on_running_changed)
        self.controller.trained.connect(self._on_trained)
        # The user's own edits of values (an undo or redo of training, a weight typed in): the
        # surface's marker, arrows and figures follow the document, once per burst of edits.
        self._values_timer = QTimer(self, singleShot=True, interval=100)
        self.controller.edited.connect(self._on_user_edit)
        self._toolbar()
        self._docks()
        # Structure edits come in bursts (a pasted subgraph, a layer): react once.
        self._structure_timer = QTimer(self, singleShot=True, interval=300)
        self._structure_timer.timeout.connect(self._on_structure_changed)
        window.files.settle_requested.connect(self.controller.settle)
        window.files.saving.connect(self._before_save)
        window.files.saved.connect(self._after_save)
        self._run_after_save = False
        window.scene.selectionChanged.connect(self._on_selection_changed)
        window.scene.neuron_hovered.connect(lambda nid: self.data_panel.show_neuron(nid))
        project.network.changed.connect(self._on_network_changed)
        self.settings.load(project.data, project.training)
        self._give_scene_initializer()
        app = QApplication.instance()
        if app is not None:  # quitting without closing the window must still stop the thread
            app.aboutToQuit.connect(self.shutdown)

    # ----- building ------------------------------------------------------------------------------
    def _toolbar(self) -> None:
        w = self.window
        bar = QToolBar("Training", w)
        bar.setObjectName("training_toolbar")
        w.addToolBar(Qt.TopToolBarArea, bar)
        # Space is handled by the canvas: a tap runs or pauses, Space + drag pans.
        self.run_action = w.add_action(bar, "▶ Run", self.controller.toggle, "Ctrl+Space",
                                       "Run or pause training (Space on the canvas, or Ctrl+Space)")
        w.view.space_tapped.connect(self.controller.toggle)
        w.add_action(bar, "Step", lambda: self.controller.step(1), "Ctrl+Right", "One minibatch")
        w.add_action(bar, "Step epoch", self.controller.step_epoch, "Ctrl+Shift+Right", "One epoch")
        w.add_action(bar, "Reset weights", self.reset_weights, "Ctrl+R",
                  "Re-initialise every weight from the initialiser and seed")
        # The counter right after the buttons: on a narrow window the end of the toolbar
        # goes behind its overflow arrow, and the counter is what is watched while training.
        self.counter = QLabel("  step 0 · epoch 0  ")
        self.counter.setMinimumWidth(self.counter.fontMetrics().horizontalAdvance(
            "  step 0,000,000 · epoch 000,000  "))
        bar.addWidget(self.counter)
        bar.addSeparator()
        bar.addWidget(QLabel(" Show every "))
        self.speed = QSpinBox()
        self.speed.setRange(0, 10000)
        self.speed.setSpecialValueText("frame")
        self.speed.setSuffix(" steps")
        self.speed.setToolTip("Steps between screen updates: 'frame' trains as fast as it can and "
                              "redraws about 30 times a second; 1 shows every step")
        self.speed.valueChanged.connect(self.controller.set_steps_per_update)
        bar.addWidget(self.speed)
        bar.addSeparator()
        bar.addWidget(QLabel(" Edges show "))
        self.view_mode = QComboBox()
        self.view_mode.addItems(["weights", "gradients"])
        self.view_mode.currentTextChanged.connect(self._on_view_mode)
        bar.addWidget(self.view_mode)
        self.maps = NeuronMapsView(self.live, w.scene, w.view, self)
        bar.addAction(self.maps.action)
        bar.addSeparator()
        bar.addWidget(QLabel(" Colour by sample "))
        self.sample = QSpinBox()
        self.sample.setRange(-1, 1_000_000)
        self.sample.setSpecialValueText("none")
        self.sample.setValue(-1)
        self.sample.setToolTip("Colour every neuron by its activation for this training sample")
        self.sample.valueChanged.connect(lambda _: self._show_sample())
        bar.addWidget(self.sample)

    def _docks(self) -> None:
        w = self.window
        self.settings = SettingsPanel()
        self.settings.changed.connect(self._on_settings_edited)
        scroll = QScrollArea()
        scroll.setWidget(self.settings)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        # A dock of its own under the inspector: every label beside its value, and the
        # splitter between canvas and this column widens it.
        self.settings_dock = self._dock("Settings", scroll, Qt.RightDockWidgetArea, "settings")
        w.splitDockWidget(w.inspector_dock, self.settings_dock, Qt.Vertical)
        self.loss_panel = LossPanel()
        self.gradient_panel = GradientPanel()
        self.surface_panel = SurfacePanel(self.live, self.controller)
        self._values_timer.timeout.connect(self.surface_panel.catch_up)
        self.data_panel = DataPanel(self.live)
        docks = [self._dock(title, panel, Qt.BottomDockWidgetArea, name) for title, panel, name in
                 (("Loss", self.loss_panel, "loss"), ("Data", self.data_panel, "data"),
                  ("Loss surface", self.surface_panel, "surface"),
                  ("Gradients", self.gradient_panel, "gradients"))]
        w.splitDockWidget(docks[0], docks[2], Qt.Horizontal)
        w.tabifyDockWidget(docks[0], docks[1])
        w.tabifyDockWidget(docks[2], docks[3])
        # Not one of self.docks (the four the window sizes and bench/live_speed.py lays out):
        # a tab behind the loss surface, so off screen, where it costs training nothing.
        self.sharpness_panel = SharpnessPanel(self.live)
        self.sharpness_dock = self._dock("Sharpness", self.sharpness_panel,
                                         Qt.BottomDockWidgetArea, "sharpness")
        w.tabifyDockWidget(docks[3], self.sharpness_dock)
        self.sharpness_dock.visibilityChanged.connect(self.controller.set_sharpness)
        # The same for the gradient through time of recurrent nets: computed while on screen.
        self.through_time_panel = ThroughTimePanel(self.live)
        self.through_time_dock = self._dock("Through time", self.through_time_panel,
                                            Qt.BottomDockWidgetArea, "through_time")
        w.tabifyDockWidget(self.sharpness_dock, self.through_time_dock)
        self.through_time_dock.visibilityChanged.connect(self.controller.set_through_time)
        docks[0].raise_()
        docks[2].raise_()
        self.docks = docks
        w.resizeDocks(docks[:1] + docks[2:3], [330, 330], Qt.Vertical)

    def _dock(self, title: str, widget: QWidget, area, name: str) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        if hasattr(widget, "catch_up"):  # a live panel skips frames while out of sight
            dock.visibilityChanged.connect(lambda visible: visible and widget.catch_up())
        self.window.addDockWidget(area, dock)
        self.window.panels_menu.addAction(dock.toggleViewAction())
        return dock

    # ----- data ----------------------------------------------------------------------------------
    def _make_dataset(self) -> Dataset | None:
        """The project's data set, or None (said on the status bar) if it cannot be made."""
        w = self.window
        base = w.files.path.parent if w.files.path else Path.cwd()
        self._dataset_for = w.project.data
        try:
            return make_dataset(w.project.data, base)
        except DataError as exc:
            w.statusBar().showMessage(f"Data: {exc}", 10000)
            return None

    # ----- reactions ---------------------------------------------------------------------------
    def _on_progress(self, p: Progress) -> None:
        self.counter.setText(f"  step {p.step:,} · epoch {p.epoch:,}  ")
        self.loss_panel.show_progress(p)
        self.gradient_panel.show_progress(p)
        self.surface_panel.show_progress(p)
        self.sharpness_panel.show_progress(p)
        self.through_time_panel.show_progress(p)
        self.data_panel.refresh(p)
        self.maps.schedule()
        if self.view_mode.currentText() == "gradients":
            self.window.scene.set_gradients(p.gradients_by_id, changed_only=True)
        if self.sample.value() >= 0:
            self._show_sample()

    def _show_sample(self) -> None:
        """Colour the neurons by their activation for the chosen training sample (for
        sequence data: at its sequence's last step), with the current parameters."""
        data, index = self.live.data, self.sample.value()
        if index < 0 or data is None or len(data.x_train) == 0:
            self.window.scene.set_neuron_values(None)
            return
        try:
            plan = self.live.plan
        except NetworkError:
            return
        if plan.column_mismatch(data.n_inputs):
            return
        shown = sample_activations(plan, self.live.params(), data, index)
        self.window.scene.set_neuron_values(dict(zip(plan.order, shown.values.tolist())))
        index = min(index, len(data.x_train) - 1)
        what = f"training sample {index}" if shown.step is None else \
            f"training sequence {index} at its last step ({shown.step})"
        self.window.statusBar().showMessage(
            f"Neurons show their activation for {what}: inputs "
            f"{np.array2string(shown.inputs, precision=3)}, target "
            f"{np.array2string(shown.target, precision=3)}", 8000)

    def _before_save(self) -> None:
        """The file gets the weights on screen, and the training before them is an undo step
        of its own: saved mid-run, then Undo, the document was marked saved but was not."""
        self._run_after_save = self.controller.running
        self.controller.settle()

    def _after_save(self) -> None:
        p = self.window.project
        if self.settings.data != p.data:  # a relative CSV path, rewritten for another folder
            self.settings.load(p.data, p.training)
            if self._dataset_for is not None and \
                    replace(self._dataset_for, csv_path=p.data.csv_path) == p.data:
                self._dataset_for = p.data  # the same file, named from there: no new run
        if self._run_after_save:  # a save does not stop a run
            self._run_after_save = False
            self.controller.run()

    def _on_message(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 20000)

    def _on_running_changed(self, running: bool) -> None:
        self.run_action.setText("❚❚ Pause" if running else "▶ Run")

    def _on_trained(self, before, after, steps: int) -> None:
        net = self.window.project.network
        self.window.undo_stack.push(TrainCommand(SetValues(before, after, f"Train {steps} step(s)"),
                                                 net, self._new_run_from_document))

    def _new_run_from_document(self) -> None:
        """Training undone or redone: a new run from the weights as they now are."""
        self.controller.restart()
        self._reset_run_views()

    def _on_view_mode(self, mode: str) -> None:
        p = self.controller.latest
        grads = p.gradients_by_id if p is not None else NO_VALUES
        self.window.scene.set_gradients(grads if mode == "gradients" else None)

    def _on_selection_changed(self) -> None:
        try:
            items = self.window.scene.selectedItems()
        except RuntimeError:
            return
        names = [i.eid for i in items if isinstance(i, EdgeItem)] + \
            [f"bias:{i.nid}" for i in items if isinstance(i, NeuronItem)
             and i.neuron.role != "input"]
        if len(names) == 2:
            self.surface_panel.choose((names[0], names[1]))

    def _on_network_changed(self, change) -> None:
        if change.kind == "settings":  # an undo or redo of a settings edit
            self._apply_settings()
        elif change.kind == "reset":  # another document (Open, New, a template, their undo)
            self._on_document_replaced()
        elif change.structural:
            self._structure_timer.start()

    def _on_user_edit(self, change) -> None:
        if change.kind != "reset" and not change.structural:
            self._values_timer.start()

    def _on_settings_edited(self, group: str, new) -> None:
        self.controller.settle()  # the stretch so far is trained under the old settings
        p = self.window.project
        edit = SetSettings(p, group, getattr(p, group), new, f"Change {group} settings")
        edit.apply(p.network)
        self.window.undo_stack.push(EditCommand(edit, p.network))

    def _apply_settings(self) -> None:
        p = self.window.project
        self.settings.load(p.data, p.training)
        self.controller.set_settings(p.training)
        self.sharpness_panel.settings_changed()  # the rate's line
        self.surface_panel.settings_changed()  # the loss it draws
        self._give_scene_initializer()
        if p.data != self._dataset_for:
            data = self._make_dataset()
            if data is not None:
                self.controller.set_data(data)  # other data: a new run
                self._reset_run_views()

    def _give_scene_initializer(self) -> None:
        """Edges wired by hand get their weights the project's way."""
        t, scene = self.window.project.training, self.window.scene
        scene.initializer, scene.init_constant = t.initializer, t.init_constant

    def _on_document_replaced(self) -> None:
        """A new document starts clean everywhere: a training process holding it, and no
        curve, path, race, gradient or sample colouring of the one before."""
        w, p = self.window, self.window.project
        data = self._make_dataset()
        self.settings.load(p.data, p.training)
        self._give_scene_initializer()
        self.controller.load_document(p.network, data, p.training)
        self.sample.setValue(-1)
        w.scene.set_neuron_values(None)
        self._reset_run_views()

    def _reset_run_views(self) -> None:
        """A new run (another document, other data): every view of the old run is cleared."""
        self.counter.setText("  step 0 · epoch 0  ")
        self.loss_panel.reset()
        self.gradient_panel.reset()
        self.data_panel.reset()
        self.surface_panel.reset()
        self.sharpness_panel.reset()
        self.through_time_panel.reset()
        self.maps.data_changed()
        self.data_changed.emit(self.live.data)
        gradients = self.view_mode.currentText() == "gradients"
        self.window.scene.set_gradients(NO_VALUES if gradients else None)

    def _on_structure_changed(self) -> None:
        """A neuron or edge added or removed: pictures that could not be drawn may be now."""
        if not self.controller.running:
            self.data_panel.refresh()
            if self.surface_panel.plane is None:
                self.surface_panel.refit(automatic=True)

    def reset_weights(self) -> None:
        net, t = self.window.project.network, self.window.project.training
        self.controller.settle()
        new = initialize(net, t.initializer, t.seed, t.init_constant)
        before = values_of(net)
        edit = SetValues(before, (new[0], new[1]), "Reset weights")
        edit.apply(net)
        self.window.undo_stack.push(EditCommand(edit, net))
        self.controller.restart()
        self._reset_run_views()
        self.weights_reset.emit()

    def shutdown(self) -> None:
        if getattr(self, "_shut", False):
            return
        self._shut = True
        self.surface_panel.shutdown()
        self.controller.shutdown()
