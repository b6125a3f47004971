"""Colours and sizes shared by the canvas and panels."""
from PySide6.QtGui import QColor

BACKGROUND = QColor("#f7f8fa")
GRID_MINOR = QColor("#eceef2")
GRID_MAJOR = QColor("#dde1e8")
POSITIVE = QColor("#2f6fde")  # weights > 0
NEGATIVE = QColor("#e0582b")  # weights < 0
SELECTION = QColor("#f2b600")
TEXT = QColor("#1f2430")
MUTED_TEXT = QColor("#5b6272")
ROLE_FILL = {"input": QColor("#e3f4e8"), "hidden": QColor("#ffffff"), "output": QColor("#fdeedd")}
ROLE_EDGE = {"input": QColor("#3c9a5f"), "hidden": QColor("#55607a"), "output": QColor("#d07a1c")}
NEURON_RADIUS = 24.0
PORT_RADIUS = 6.0
GRID = 20.0
MAP_NEURON_RADIUS = 29.0  # while the canvas shows every neuron's map inside it
