"""The canvas, palette and settings with an activation and a loss added at test time as one
registry entry each (tests/registry_extras.py; the core half is tests/core/...)."""
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPainter
from PySide6.QtWidgets import QApplication, QStyleOptionGraphicsItem

from gui.canvas.view import MIME
from tests.registry_extras import LOG_COSH, SWISH, added_entries


@pytest.fixture
def extended():
    with added_entries():
        yield


class RecordingPainter(QPainter):
    """A painter that keeps every text it draws."""

    def __init__(self, device) -> None:
        super().__init__(device)
        self.texts: list[str] = []

    def drawText(self, *args) -> None:
        self.texts.append(args[-1])
        super().drawText(*args)


def test_a_new_activation_is_offered_dropped_and_painted_with_its_glyph(extended, window,
                                                                        qtbot):
    kinds = [window.palette.item(i).data(Qt.UserRole) for i in range(window.palette.count())]
    assert f"hidden:{SWISH.name}" in kinds
    mime = QMimeData()
    mime.setData(MIME, f"hidden:{SWISH.name}".encode())
    target = window.view.viewport().rect().center() + QPoint(30, -20)
    vp = window.view.viewport()
    QApplication.sendEvent(vp, QDragEnterEvent(target, Qt.CopyAction, mime, Qt.LeftButton,
                                               Qt.NoModifier))
    QApplication.sendEvent(vp, QDropEvent(QPointF(target), Qt.CopyAction, mime, Qt.LeftButton,
                                          Qt.NoModifier))
    (nid, neuron), = window.project.network.neurons.items()
    assert neuron.activation == SWISH.name
    item = window.scene.neuron_items[nid]
    image = QImage(200, 200, QImage.Format_ARGB32)
    painter = RecordingPainter(image)
    painter.translate(100, 100)
    item.paint(painter, QStyleOptionGraphicsItem(), None)
    painter.end()
    assert SWISH.glyph in painter.texts
    window.view.viewport().repaint()  # the real paint through the view raises nothing either


def test_a_new_loss_is_a_training_setting(extended, window):
    combo = window.training.settings.widgets[("training", "loss")]
    assert combo.findText(LOG_COSH.name) >= 0
