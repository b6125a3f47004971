"""Data and training settings as a form; each change is one undoable edit that takes effect
at the next training step."""
from __future__ import annotations


from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QSpinBox, QVBoxLayout, QWidget)

from core.datasets import GENERATORS
from core.losses import LOSSES
from core.settings import INITIALIZERS, OPTIMIZERS, SettingsError, DataSettings, TrainingSettings

DATA_FIELDS = [("generator", "Dataset", list(GENERATORS)), ("samples", "Samples", (4, 100000)),
               ("noise", "Noise", (0.0, 5.0, 0.05)), ("classes", "Classes (blobs)", (2, 10)),
               ("test_fraction", "Test share", (0.0, 0.9, 0.05)), ("standardize", "Standardise", None),
               ("seed", "Data seed", (0, 2**31 - 1))]
TRAIN_FIELDS = [("loss", "Loss", list(LOSSES)), ("optimizer", "Optimiser", list(OPTIMIZERS)),
                ("learning_rate", "Learning rate", (1e-6, 1000.0, 0.01)),
                ("momentum", "Momentum", (0.0, 0.999, 0.05)),
                ("batch_size", "Batch size (0 = all)", (0, 100000)),
                ("l2", "L2 weight decay", (0.0, 10.0, 0.001)), ("l1", "L1", (0.0, 10.0, 0.001)),
                ("dropout", "Dropout", (0.0, 0.9, 0.05)),
                ("clip_norm", "Clip gradient norm (0 = off)", (0.0, 1e6, 0.5)),
                ("initializer", "Initialiser", list(INITIALIZERS)), ("seed", "Seed", (0, 2**31 - 1))]


class SettingsPanel(QWidget):
    changed = Signal(str, object)  # "data" or "training", the new settings object

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.widgets: dict[tuple[str, str], QWidget] = {}
        self._loading = False
        layout = QVBoxLayout(self)
        for group, fields in (("data", DATA_FIELDS), ("training", TRAIN_FIELDS)):
            box = QGroupBox("Data" if group == "data" else "Training")
            form = QFormLayout(box)
            for name, label, spec in fields:
                widget = self._widget(group, name, spec)
                self.widgets[(group, name)] = widget
                form.addRow(label, widget)
            layout.addWidget(box)
        layout.addStretch(1)
        self.data, self.training = DataSettings(), TrainingSettings()

    def _widget(self, group: str, name: str, spec) -> QWidget:
        if spec is None:
            w = QCheckBox()
            w.toggled.connect(lambda v: self._edited(group, name, v))
        elif isinstance(spec, list):
            w = QComboBox()
            w.addItems(spec)
            w.activated.connect(lambda i, w=w: self._edited(group, name, w.itemText(i)))
        elif len(spec) == 2:
            w = QSpinBox()
            w.setRange(*spec)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v: self._edited(group, name, v))
        else:
            w = QDoubleSpinBox()
            w.setRange(spec[0], spec[1])
            w.setSingleStep(spec[2])
            w.setDecimals(6 if spec[1] > 100 or spec[2] < 0.01 else 3)
            w.setKeyboardTracking(False)
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
