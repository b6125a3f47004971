"""A spin box for settings whose values span many orders of magnitude (an L1 of 4e-7, a
learning rate of 2000): it shows the value in its shortest exact form and keeps it as the
project holds it. A QDoubleSpinBox rounds what it holds to its fixed decimals: an L1 of 4e-7
showed 0.000000, a momentum of 0.9995 showed 0.999, and editing any other setting then wrote
the rounded value back."""
from __future__ import annotations

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox

DECIMALS = 15  # what the box keeps; what it shows is the shortest text of the value


class NumberBox(QDoubleSpinBox):
    def __init__(self, lo: float, hi: float, step: float, parent=None) -> None:
        super().__init__(parent)
        self.setDecimals(DECIMALS)
        self.setRange(lo, hi)
        self.setSingleStep(step)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt's name
        return f"{value:.10g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:  # "1e-" on its way to "1e-6", or "-"
            ok = stripped == "" or all(c in "0123456789.eE+-" for c in stripped)
            return (QValidator.Intermediate if ok else QValidator.Invalid), text, pos
        inside = self.minimum() <= value <= self.maximum()
        return (QValidator.Acceptable if inside else QValidator.Intermediate), text, pos
