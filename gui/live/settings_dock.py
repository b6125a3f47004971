"""Data and training settings as a form in four groups (data, model, optimiser,
regularisation); each change is one undoable edit that takes effect at the next training step.
Every field says in its tooltip what it does and what values it takes."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QSpinBox,
                               QVBoxLayout, QWidget)

from core.data.generators import GENERATORS
from core.data.sequences import SEQUENCE_GENERATORS
from core.initializers import INITIALIZERS
from core.losses import LOSSES
from core.optimizers import Newton
from core.settings import (DECAYS, OPTIMIZERS, PRECISIONS, DataSettings, SettingsError,
                           TrainingSettings)
from gui.number_box import NumberBox

# (group of the project, field, label, widget spec, what it does). A spec is a list of choices
# or a registry whose keys are the choices (read when the panel is built), None for a check
# box, (lo, hi) for whole numbers or (lo, hi, step) for decimals.
GROUPS = {
    "Data": [
        ("data", "generator", "Dataset", {**GENERATORS, **SEQUENCE_GENERATORS},
         "The built-in data to train on (the last five are sequences, for recurrent nets)"),
        ("data", "samples", "Samples", (4, 100000), "How many points the generator makes"),
        ("data", "noise", "Noise", (0.0, 5.0, 0.05), "Standard deviation of the noise added "
         "to the points"),
        ("data", "classes", "Classes", (2, 10), "Number of Gaussian blobs (blobs data only)"),
        ("data", "test_fraction", "Test share", (0.0, 0.9, 0.05), "Share of the points held "
         "out for the test loss and accuracy"),
        ("data", "standardize", "Standardise", None, "Shift and scale each input to mean 0 and "
         "deviation 1 (fitted on the training part; exports apply the same)"),
        ("data", "seed", "Data seed", (0, 2**31 - 1), "Seed of the generator and of the "
         "train/test split"),
    ],
    "Model": [
        ("training", "loss", "Loss", LOSSES, "What training minimises"),
        ("training", "initializer", "Initialiser", INITIALIZERS, "How Reset weights and "
         "new edges draw their weights"),
        ("training", "init_constant", "Init scale", (-100.0, 100.0, 0.05), "The bound c of "
         "the uniform initialiser U(-c, c), or the value of the constant one"),
        ("training", "seed", "Seed", (0, 2**31 - 1), "Seed of the initialiser, batch order and "
         "dropout: one seed gives one run, bit for bit"),
    ],
    "Optimiser": [
        ("training", "optimizer", "Optimiser", OPTIMIZERS, "The update rule"),
        ("training", "learning_rate", "Learning rate", (1e-6, 1000.0, 0.01), "Step size of "
         "each update"),
        ("training", "momentum", "Momentum", (0.0, 0.999, 0.05), "Share of the last step kept "
         "(momentum and Nesterov only)"),
        ("training", "damping", "Damping λ", (0.0, 1e12, 0.001), "Newton only: λ in the step "
         "-(H + λI)⁻¹ g; 0 is plain Newton, a large λ a small gradient step. Newton computes "
         f"the whole Hessian every step: nets of at most {Newton.MAX_PARAMETERS} trainable "
         "parameters"),
        ("training", "adapt_damping", "Adapt λ", None, "Newton only: a step that would raise "
         "the minibatch's loss is rejected and λ x10; a step taken, λ x0.1. Off: λ as set, "
         "every step taken"),
        ("training", "batch_size", "Batch size", (0, 100000), "Samples per step: 0 = all "
         "(full batch), 1 = online"),
        ("training", "decay", "Rate decay", list(DECAYS), "How the learning rate shrinks over "
         "the steps"),
        ("training", "decay_rate", "Decay rate", (0.0, 1e6, 0.05), "Factor (step, exponential) "
         "or speed (inverse time) of the decay"),
        ("training", "decay_steps", "Decay steps", (1, 100_000_000), "Steps per decay period"),
        ("training", "precision", "Precision", list(PRECISIONS), "Number type training runs "
         "in: float64 keeps every digit the gradient check and step-through show; float32 "
         "trains faster on big nets, with about 7 significant digits"),
    ],
    "Regularisation": [
        ("training", "l2", "L2", (0.0, 10.0, 0.001), "Weight decay: adds l2·Σw² to the loss"),
        ("training", "l1", "L1", (0.0, 10.0, 0.001), "Adds l1·Σ|w| to the loss (pushes weights "
         "to exactly 0)"),
        ("training", "dropout", "Dropout", (0.0, 0.9, 0.05), "Share of hidden neurons switched "
         "off at each training step (inverted dropout)"),
        ("training", "clip_norm", "Clip norm", (0.0, 1e6, 0.5), "Largest global gradient norm; "
         "0 = off"),
        ("training", "clip_value", "Clip value", (0.0, 1e6, 0.5), "Largest |gradient| of any "
         "one parameter; 0 = off"),
        ("training", "max_norm", "Max-norm", (0.0, 1e6, 0.5), "Largest norm of each neuron's "
         "incoming weights; 0 = off"),
    ],
}
def _choice_tip(name: str, key: str) -> str | None:
    """The tooltip of one choice, from its registry entry."""
    if name == "loss":
        return LOSSES[key].title
    if name == "initializer":
        return INITIALIZERS[key]
    if name == "precision":
        return PRECISIONS[key]
    if name == "generator":
        return {**GENERATORS, **SEQUENCE_GENERATORS}[key].description
    if name == "optimizer":
        return OPTIMIZERS[key].title or None
    return None


class SettingsPanel(QWidget):
    changed = Signal(str, object)  # "data" or "training", the new settings object

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.widgets: dict[tuple[str, str], QWidget] = {}
        self._loading = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for title, rows in GROUPS.items():
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
            form.setRowWrapPolicy(QFormLayout.WrapLongRows)
            for group, name, label, spec, what in rows:
                widget = self._widget(group, name, spec)
                widget.setToolTip(f"{what}. {_range_text(spec)}")
                widget.setMinimumWidth(90)
                self.widgets[(group, name)] = widget
                form.addRow(label, widget)
                form.labelForField(widget).setToolTip(widget.toolTip())
            layout.addWidget(box)
        layout.addStretch(1)
        self.data, self.training = DataSettings(), TrainingSettings()

    def _widget(self, group: str, name: str, spec) -> QWidget:
        if spec is None:
            w = QCheckBox()
            w.toggled.connect(lambda v: self._edited(group, name, v))
        elif isinstance(spec, (list, dict)):
            w = QComboBox()
            w.addItems(list(spec))
            for i, key in enumerate(spec):
                tip = _choice_tip(name, key)
                if tip:
                    w.setItemData(i, tip, Qt.ToolTipRole)
            w.activated.connect(lambda i, w=w: self._edited(group, name, w.itemText(i)))
        elif len(spec) == 2:
            w = QSpinBox()
            lo, hi = _ranges(group).get(name, spec)
            w.setRange(max(lo, -2**31), min(hi, 2**31 - 1))  # (a QSpinBox holds 32 bits)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v: self._edited(group, name, v))
        else:
            # The range is the project's own (core.settings): a file may hold any value it
            # allows, and the box must show that value, not the nearest one it could hold.
            lo, hi = _ranges(group).get(name, spec[:2])
            w = NumberBox(lo, hi, spec[2])
            w.valueChanged.connect(lambda v: self._edited(group, name, v))
        return w

    def load(self, data: DataSettings, training: TrainingSettings) -> None:
        self.data, self.training = data, training
        self._loading = True
        try:
            for (group, name), w in self.widgets.items():
                value = getattr(data if group == "data" else training, name)
                if isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                elif isinstance(w, QComboBox):
                    w.setCurrentText(str(value))
                else:
                    w.setValue(value)
        finally:
            self._loading = False

    def _edited(self, group: str, name: str, value) -> None:
        if self._loading:
            return
        current = self.data if group == "data" else self.training
        if getattr(current, name) == value:
            return
        try:
            new = type(current).from_dict({**current.to_dict(), name: value})
        except SettingsError as exc:
            self.load(self.data, self.training)
            self.window().statusBar().showMessage(str(exc), 6000)
            return
        self.changed.emit(group, new)


def _ranges(group: str) -> dict:
    return (DataSettings if group == "data" else TrainingSettings)._ranges


def _range_text(spec) -> str:
    if spec is None:
        return "On or off."
    if isinstance(spec, (list, dict)):
        return f"One of: {', '.join(spec)}."
    return f"From {spec[0]:g} to {spec[1]:g}."
