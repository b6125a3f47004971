"""Small dialogs for the bulk tools."""
from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFormLayout, QLabel, QSpinBox)

from core.activations import ACTIVATIONS

def ok_cancel(dialog: QDialog) -> QDialogButtonBox:
    """The dialog's OK and Cancel buttons, wired to accept and reject."""
    buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


MODES = [("all", "All to all"), ("one", "One to one (in order)"), ("random", "Random")]


class ConnectDialog(QDialog):
    def __init__(self, n_sources: int, n_targets: int, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect sources to targets")
        form = QFormLayout(self)
        form.addRow(QLabel(f"{n_sources} source(s) → {n_targets} target(s)"))
        self.mode = QComboBox()
        for key, title in MODES:
            self.mode.addItem(title, key)
        self.probability = QDoubleSpinBox()
        self.probability.setRange(0.0, 1.0)
        self.probability.setSingleStep(0.05)
        self.probability.setValue(0.5)
        self.probability.setEnabled(False)
        self.mode.currentIndexChanged.connect(
            lambda _: self.probability.setEnabled(self.mode.currentData() == "random"))
        self.delayed = QCheckBox("delayed (z⁻¹)")
        self.delayed.setToolTip("Each new edge carries its source's output of the previous "
                                "time step (an Elman net's hidden layer onto itself)")
        form.addRow("Pattern", self.mode)
        form.addRow("Probability", self.probability)
        form.addRow("Edges", self.delayed)
        form.addRow(ok_cancel(self))

    def values(self) -> tuple[str, float, int]:
        """The pattern, the probability (random only) and the edges' delay (0 or 1)."""
        return self.mode.currentData(), self.probability.value(), int(self.delayed.isChecked())


class LayerDialog(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a layer")
        form = QFormLayout(self)
        self.count = QSpinBox()
        self.count.setRange(1, 1000)
        self.count.setValue(4)
        self.role = QComboBox()
        self.role.addItems(["hidden", "input", "output"])
        self.activation = QComboBox()
        self.activation.addItems(list(ACTIVATIONS))
        self.activation.setCurrentText("tanh")
        form.addRow("Neurons", self.count)
        form.addRow("Role", self.role)
        form.addRow("Activation", self.activation)
        form.addRow(ok_cancel(self))

    def values(self) -> tuple[int, str, str]:
        return self.count.value(), self.role.currentText(), self.activation.currentText()
