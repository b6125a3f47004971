"""Derived input features through real widgets: the inspector's Feature combo, undo, the
canvas text, the palette's TF Playground inputs."""
from PySide6.QtCore import QPoint, QPointF, QMimeData, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from core.engine import compile_plan
from core.features import PLAYGROUND, Feature
from core.templates import circles_features
from gui.canvas.neuron_item import glyph_text
from gui.canvas.view import MIME


def _choose(combo, text: str) -> None:
    """Pick the entry that starts with `text` as a user does: the popup's activated signal."""
    index = next(i for i in range(combo.count()) if combo.itemText(i).startswith(text))
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_choose_a_feature_in_the_inspector_then_undo(xor_window, qtbot):
    w = xor_window
    net = w.project.network
    before = net.copy()
    w.scene.clearSelection()
    w.scene.neuron_items["n1"].setSelected(True)
    combo = w.inspector.feature
    assert combo.isEnabled()
    assert combo.currentIndex() == 0  # no feature: its own column
    labels = [combo.itemText(i).split("  ")[0] for i in range(1, combo.count())]
    assert {f.label for f in PLAYGROUND} <= set(labels)
    _choose(combo, "x1·x2")
    n = net.neurons["n1"]
    assert n.feature == Feature("product", (0, 1))
    assert n.label == "" and n.name == "x1·x2"  # the label "x1" would have hidden it
    assert compile_plan(net).features[0] == Feature("product", (0, 1))
    assert w.inspector.title.text().startswith("<b>Neuron x1·x2</b>")
    assert w.undo_stack.undoText() == "Set feature"
    w.scene.neuron_items["n1"].update()
    w.view.viewport().repaint()
    w.undo_stack.undo()  # one step restores both the feature and the label
    assert net.same_as(before)
    assert w.inspector.feature.currentIndex() == 0
    w.undo_stack.redo()
    assert net.neurons["n1"].feature == Feature("product", (0, 1))


def test_the_feature_combo_is_for_inputs_only(xor_window):
    w = xor_window
    w.scene.clearSelection()
    w.scene.neuron_items["n3"].setSelected(True)  # a hidden neuron
    assert not w.inspector.feature.isEnabled()


def test_the_canvas_shows_the_feature_and_a_label_does_not_hide_it(window):
    window.files.new_from(circles_features(), "circles")
    net = window.project.network
    first = net.inputs[0]
    assert (first.name, glyph_text(first)) == ("x1²", "in")
    net.set_label(first.id, "radius part")
    assert glyph_text(net.neurons[first.id]) == "x1²"
    window.view.viewport().repaint()


def test_the_palette_offers_tf_playgrounds_inputs_and_drops_them(window, qtbot):
    titles = [window.palette.item(i).text() for i in range(window.palette.count())]
    assert [f"Input · {f.label}" for f in PLAYGROUND] == [t for t in titles
                                                          if t.startswith("Input · ")]
    item = next(window.palette.item(i) for i in range(window.palette.count())
                if window.palette.item(i).text() == "Input · sin x2")
    mime = window.palette.mimeData([item])
    target = window.view.viewport().rect().center() + QPoint(10, 10)
    vp = window.view.viewport()
    QApplication.sendEvent(vp, QDragEnterEvent(target, Qt.CopyAction, mime, Qt.LeftButton,
                                               Qt.NoModifier))
    QApplication.sendEvent(vp, QDropEvent(QPointF(target), Qt.CopyAction, mime, Qt.LeftButton,
                                          Qt.NoModifier))
    n = next(iter(window.project.network.neurons.values()))
    assert (n.role, n.feature, n.name) == ("input", Feature("sin", (1,)), "sin x2")
    window.palette.itemDoubleClicked.emit(item)  # double-click: the same, at the centre
    assert [m.feature for m in window.project.network.inputs] == [Feature("sin", (1,))] * 2
    bad = QMimeData()
    bad.setData(MIME, b"input:identity:cube:x")  # not our palette's: a plain input
    QApplication.sendEvent(vp, QDragEnterEvent(target, Qt.CopyAction, bad, Qt.LeftButton,
                                               Qt.NoModifier))
    QApplication.sendEvent(vp, QDropEvent(QPointF(target), Qt.CopyAction, bad, Qt.LeftButton,
                                          Qt.NoModifier))
    assert len(window.project.network.inputs) == 3
    assert window.project.network.inputs[-1].feature is None


def test_csv_import_leaves_inputs_with_features_as_drawn():
    from gui.csv_import import match_neurons

    net = circles_features().network
    assert match_neurons(net, "input", ["a", "b", "c"], 0.0) == []
    assert match_neurons(net, "output", ["class"], 0.0)  # the output is relabelled as before


def test_the_palette_offers_derived_inputs_only_for_two_column_data(window, qtbot):
    """As TF Playground: x1², x1·x2, sin x1 ... for data of two columns (XOR: shown); a
    template on 8 columns hides them, and a two-column one shows them again."""
    from core.templates import autoencoder838, xor

    def derived_shown():
        return [window.palette.item(i).text() for i in range(window.palette.count())
                if window.palette.item(i).text().startswith("Input · ")
                and not window.palette.item(i).isHidden()]

    assert derived_shown() == ["Input · x1", "Input · x2", "Input · x1²", "Input · x2²",
                               "Input · x1·x2", "Input · sin x1", "Input · sin x2"]
    window.files.new_from(autoencoder838(), "auto")
    assert window.dataset.n_inputs == 8 and derived_shown() == []
    assert not window.palette.item(0).isHidden()  # the plain input stays
    window.files.new_from(xor(), "xor")
    assert len(derived_shown()) == 7


def test_the_inspector_keeps_up_with_edits_of_a_784_input_net(window):
    """A neuron selected while a wide net changes (every training frame, every edit): the
    Feature combo is filled once, not once per change (seconds per edit on 784 inputs)."""
    import time

    from core.project import Project
    from core.templates import layered

    window.files.new_from(Project(layered([784, 4, 2])), "wide")
    net = window.project.network
    hidden = net.by_role("hidden")[0].id
    window.scene.clearSelection()
    window.scene.neuron_items[hidden].setSelected(True)
    combo = window.inspector.feature
    assert combo.count() == 1 and not combo.isEnabled()  # a hidden neuron: no choices made
    window.scene.clearSelection()
    window.scene.neuron_items[net.inputs[0].id].setSelected(True)
    assert combo.count() == 1 + 4 * 784 and combo.isEnabled()  # no products over 8 columns
    window.scene.clearSelection()
    window.scene.neuron_items[hidden].setSelected(True)
    assert combo.currentIndex() == 0 and not combo.isEnabled()
    start = time.perf_counter()
    for k in range(20):
        net.set_bias(hidden, 0.01 * k)
    assert time.perf_counter() - start < 1.0
    assert window.inspector.bias.value() == 0.19


def test_two_double_clicks_on_the_palette_do_not_stack_neurons(window, qtbot):
    """A neuron added at the centre of the view goes beside one already there (found under
    Xvfb: the second covered the first, and the net beneath)."""
    import math

    from gui import theme

    item = next(window.palette.item(i) for i in range(window.palette.count())
                if window.palette.item(i).text() == "Hidden · tanh")
    before = set(window.project.network.neurons)
    window.palette.itemDoubleClicked.emit(item)
    window.palette.itemDoubleClicked.emit(item)
    new = [window.project.network.neurons[n] for n in window.project.network.neurons
           if n not in before]
    assert len(new) == 2
    for n in new:
        for other in window.project.network.neurons.values():
            if other is not n:
                assert math.dist((n.x, n.y), (other.x, other.y)) >= 2 * theme.NEURON_RADIUS
