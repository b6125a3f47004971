"""Delayed (z⁻¹) edges through the real window: how they are drawn and hit, made by a drag
onto the neuron itself or a Shift-drag, toggled in the inspector (undoably, refused where a
cycle would close), kept by save and open, and a journey over the recurrent templates."""
import math

import numpy as np
from PySide6.QtCore import QPointF, Qt

from core.edits import SetValue
from core.layout import COLUMN_GAP, RECURRENT_COLUMN_GAP, RECURRENT_ROW_GAP, ROW_GAP
from core.project import Project
from core.templates import RECURRENT_TEMPLATES, layered
from core.training.progress import ValuesById
from gui import edit_tools
from gui.canvas.batched_edges import THRESHOLD
from gui.connect_dialog import ConnectDialog
from gui.canvas.edge_item import EdgeItem
from tests.gui.conftest import opened, wait_until
from tests.gui.test_canvas import drag, view_point


def elman_window(window):
    return opened(window, RECURRENT_TEMPLATES["elman_echo"].build(), "Elman")


def status(w) -> str:
    return w.statusBar().currentMessage()


def item_of(w, source: str, target: str) -> EdgeItem:
    return w.scene.edge_items[w.project.network.find_edge(source, target).id]


def hidden(w) -> list[str]:
    return [n.id for n in w.project.network.by_role("hidden")]


def distance_from_chord(path, a: QPointF, b: QPointF) -> float:
    """How far the path's middle lies off the straight line a-b."""
    m = path.pointAtPercent(0.5)
    dx, dy = b.x() - a.x(), b.y() - a.y()
    return abs(dy * (m.x() - a.x()) - dx * (m.y() - a.y())) / math.hypot(dx, dy)


def test_a_delayed_edge_is_a_curve_bowing_aside_and_its_reverse_bows_the_other_way(window):
    w = elman_window(window)
    h1, h2 = hidden(w)[:2]
    there, back = item_of(w, h1, h2), item_of(w, h2, h1)
    c1, c2 = w.scene.neuron_items[h1].scenePos(), w.scene.neuron_items[h2].scenePos()
    radius = w.scene.neuron_items[h1].radius()
    for item in (there, back):
        assert item.delayed
        assert distance_from_chord(item.path(), c1, c2) > radius  # clear of the column
    # on opposite sides of the column: neither hides the other
    assert (there.path().pointAtPercent(0.5).x() - c1.x()) * \
        (back.path().pointAtPercent(0.5).x() - c1.x()) < 0
    plain = item_of(w, w.project.network.inputs[0].id, h1)
    assert not plain.delayed and plain.shape().contains(plain.path().pointAtPercent(0.5))


def test_a_self_loop_is_a_loop_over_its_neuron_hit_on_its_line_not_inside(window, qtbot):
    w = elman_window(window)
    h = hidden(w)[0]
    loop, neuron = item_of(w, h, h), w.scene.neuron_items[h]
    box = loop.path().boundingRect()
    centre, r = neuron.scenePos(), neuron.radius()
    assert box.bottom() < centre.y() and box.top() < centre.y() - 1.8 * r  # above, round
    ends = loop.path().pointAtPercent(0), loop.path().pointAtPercent(1)
    assert all(abs(math.hypot(p.x() - centre.x(), p.y() - centre.y()) - r) < 1 for p in ends)
    on_line = loop.path().pointAtPercent(0.3)
    inside = QPointF(centre.x(), (box.bottom() + centre.y() - r) / 2 - 2)  # in the loop's hole
    assert loop.shape().contains(on_line)
    assert box.contains(inside) and not loop.shape().contains(inside)
    # a real click on its line selects it, and the inspector shows it delayed
    w.scene.clearSelection()
    qtbot.mouseClick(w.view.viewport(), Qt.LeftButton, pos=view_point(w, on_line))
    assert w.scene.selectedItems() == [loop]
    assert w.inspector.delayed.isChecked() and w.inspector.stack.currentIndex() == 2


def test_dragging_a_port_back_onto_its_neuron_makes_a_delayed_self_loop(xor_window, qtbot):
    w = xor_window
    net = w.project.network
    before, steps = net.copy(), w.undo_stack.count()
    n3 = w.scene.neuron_items["n3"]
    drag(qtbot, w, n3.port_pos(), n3.pos() + QPointF(-8, 4))
    edge = net.find_edge("n3", "n3")
    assert edge is not None and edge.delay == 1
    assert w.undo_stack.count() == steps + 1 and "z⁻¹" in status(w)
    assert w.scene.edge_items[edge.id].delayed
    w.undo_stack.undo()
    assert net.same_as(before) and edge.id not in w.scene.edge_items


def test_a_cycle_is_refused_naming_it_and_shift_drag_makes_it_delayed(xor_window, qtbot):
    w = xor_window
    net = w.project.network
    w.scene.connect_neurons("n3", "n4")
    n3, n4 = w.scene.neuron_items["n3"], w.scene.neuron_items["n4"]
    drag(qtbot, w, n4.port_pos(), n3.pos())
    assert net.find_edge("n4", "n3") is None
    message = status(w)
    assert "cycle (n3 -> n4 -> n3)" in message and "Shift-drag" in message
    vp = w.view.viewport()
    a, b = view_point(w, n4.port_pos()), view_point(w, n3.pos())
    qtbot.mousePress(vp, Qt.LeftButton, Qt.ShiftModifier, a)
    qtbot.mouseMove(vp, (a + b) / 2)
    qtbot.mouseMove(vp, b)
    qtbot.mouseRelease(vp, Qt.LeftButton, Qt.ShiftModifier, b)
    edge = net.find_edge("n4", "n3")
    assert edge is not None and edge.delay == 1 and w.scene.edge_items[edge.id].delayed


def test_shift_drag_from_an_output_neuron_makes_a_jordan_feedback_edge(xor_window, qtbot):
    """An output neuron has no port, but Shift-drag from its right edge starts a wire, and the
    edge it makes is delayed even if Shift is let go before the release; a plain drag from
    there starts no wire (it moves the neuron, as before)."""
    w = xor_window
    net = w.project.network
    out, hidden = w.scene.neuron_items["n5"], w.scene.neuron_items["n3"]
    assert net.neurons["n5"].role == "output" and net.neurons["n3"].role == "hidden"
    vp = w.view.viewport()
    a, b = view_point(w, out.port_pos()), view_point(w, hidden.pos())
    edges = len(net.edges)
    qtbot.mousePress(vp, Qt.LeftButton, Qt.ShiftModifier, a)
    qtbot.mouseMove(vp, (a + b) / 2)
    qtbot.mouseMove(vp, b)
    qtbot.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, b)
    edge = net.find_edge("n5", "n3")
    assert edge is not None and edge.delay == 1 and w.scene.edge_items[edge.id].delayed
    assert len(net.edges) == edges + 1
    w.undo_stack.undo()
    assert net.find_edge("n5", "n3") is None
    drag(qtbot, w, out.port_pos(), hidden.pos())  # no Shift: no wire from an output
    assert net.find_edge("n5", "n3") is None and len(net.edges) == edges


def click_delayed(w, qtbot) -> None:
    qtbot.mouseClick(w.inspector.delayed, Qt.LeftButton)


def test_the_inspector_toggles_a_delay_undoably_and_refuses_a_cycle(xor_window, qtbot):
    w = xor_window
    net = w.project.network
    w.scene.connect_neurons("n3", "n4")
    w.scene.connect_neurons("n4", "n3", delay=1)
    forward, back = net.find_edge("n3", "n4"), net.find_edge("n4", "n3")
    # turning the back edge's delay off would close n3 -> n4 -> n3: refused, box goes back
    steps = w.undo_stack.count()
    w.scene.clearSelection()
    w.scene.edge_items[back.id].setSelected(True)
    assert w.inspector.delayed.isChecked()
    click_delayed(w, qtbot)
    assert back.delay == 1 and w.inspector.delayed.isChecked()
    assert "cycle (n3 -> n4 -> n3)" in status(w) and w.undo_stack.count() == steps
    # the forward edge may be delayed: one undo step, and the line changes kind both ways
    item = w.scene.edge_items[forward.id]
    straight = distance_from_chord(item.path(), item.path().pointAtPercent(0),
                                   item.path().pointAtPercent(1))
    w.scene.clearSelection()
    item.setSelected(True)
    assert not w.inspector.delayed.isChecked()
    click_delayed(w, qtbot)
    assert forward.delay == 1 and item.delayed and w.undo_stack.count() == steps + 1
    bowed = item.path()
    w.undo_stack.undo()
    assert forward.delay == 0 and not item.delayed and not w.inspector.delayed.isChecked()
    assert distance_from_chord(item.path(), item.path().pointAtPercent(0),
                               item.path().pointAtPercent(1)) == straight
    w.undo_stack.redo()
    assert forward.delay == 1 and item.delayed and item.path() == bowed
    assert w.inspector.delayed.isChecked()


def test_several_edges_toggle_as_one_step_or_not_at_all(window, qtbot):
    w = elman_window(window)
    net = w.project.network
    h1, h2, h3 = hidden(w)[:3]
    picked = [net.find_edge(h1, h2), net.find_edge(h2, h3), net.find_edge(h2, h1)]
    w.scene.clearSelection()
    for e in picked:
        w.scene.edge_items[e.id].setSelected(True)
    steps = w.undo_stack.count()
    click_delayed(w, qtbot)  # off: the third would close h1 -> h2 -> h1
    assert [e.delay for e in picked] == [1, 1, 1] and w.undo_stack.count() == steps
    assert "cycle" in status(w)
    w.scene.edge_items[picked[2].id].setSelected(False)
    click_delayed(w, qtbot)
    assert [e.delay for e in picked] == [0, 0, 1] and w.undo_stack.count() == steps + 1
    w.undo_stack.undo()
    assert [e.delay for e in picked] == [1, 1, 1]


def test_save_and_open_keep_the_delays_and_their_drawing(window, tmp_path):
    w = elman_window(window)
    delays = {e.id: e.delay for e in w.project.network.edges.values()}
    path = tmp_path / "elman.json"
    assert w.files._write(path)
    w.files.new_from(RECURRENT_TEMPLATES["jordan_sine"].build(), "Jordan")
    assert w.files.open(path)
    net = w.project.network
    assert {e.id: e.delay for e in net.edges.values()} == delays
    assert all(w.scene.edge_items[eid].delayed == bool(d) for eid, d in delays.items())


def menu_action(w, title: str):
    for action in w.findChildren(type(w.undo_action)):
        if action.text() == title:
            return action
    raise AssertionError(f"no action {title!r}")


def test_journey_template_train_toggle_undo_another_template_undo(window, qtbot):
    w = window
    menu_action(w, "Elman net on echo").trigger()
    net = w.project.network
    assert net.is_recurrent and w.project.title == "Elman net on echo"
    w.controller.step(5)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step >= 5)
    w.controller.settle()
    h1, h2 = hidden(w)[:2]
    edge = net.find_edge(h1, h2)
    w.scene.clearSelection()
    w.scene.edge_items[edge.id].setSelected(True)
    click_delayed(w, qtbot)
    assert edge.delay == 0 and not w.scene.edge_items[edge.id].delayed
    w.undo_stack.undo()
    assert edge.delay == 1 and w.scene.edge_items[edge.id].delayed
    trained = net.to_dict()
    menu_action(w, "Self-loop 1.5 (exploding)").trigger()
    assert w.project.title == "Self-loop 1.5 (exploding)"
    loop = next(e for e in w.project.network.edges.values() if e.source == e.target)
    assert loop.delay == 1 and loop.weight == 1.5 and w.scene.edge_items[loop.id].delayed
    w.undo_stack.undo()
    assert w.project.title == "Elman net on echo" and w.project.network.to_dict() == trained
    assert all(item.delayed == bool(w.project.network.edges[eid].delay)
               for eid, item in w.scene.edge_items.items())


def test_a_big_nets_delayed_edges_are_drawn_apart_from_its_batched_lines(window):
    net = layered([40, 40, 2])
    hs = [n.id for n in net.by_role("hidden")]
    net.connect(hs[0], hs[0], 0.5, delay=1)
    net.connect(hs[1], hs[2], 0.5, delay=1)
    w = opened(window, Project(net), "big")
    scene, net = w.scene, w.project.network
    assert len(net.edges) > THRESHOLD and scene.batched is not None
    delayed = {e.id for e in net.edges.values() if e.delay}
    assert set(scene.edge_items) == delayed
    wait_until(lambda: scene.batched.drawn[1] == len(net.edges) - len(delayed))
    # toggled off, an edge joins the batch; undo brings its item back
    edge = net.find_edge(hs[1], hs[2])
    assert scene.push(SetValue("delay", edge.id, 1, 0))
    assert edge.id not in scene.edge_items
    wait_until(lambda: scene.batched.drawn[1] == len(net.edges) - 1)
    w.undo_stack.undo()
    assert scene.edge_items[edge.id].delayed
    wait_until(lambda: scene.batched.drawn[1] == len(net.edges) - 2)


def test_the_connect_dialogs_delayed_choice_makes_an_elman_layer_in_one_step(xor_window,
                                                                            monkeypatch):
    """Hidden neurons marked as sources and selected as targets, all to all, delayed: every
    pair including the self-loops, one undo step."""
    w = xor_window
    net = w.project.network

    def choose_delayed(dialog):
        dialog.delayed.setChecked(True)
        return True

    monkeypatch.setattr(ConnectDialog, "exec", choose_delayed)
    for nid in ("n3", "n4"):
        w.scene.neuron_items[nid].setSelected(True)
    w.mark_sources()
    steps = w.undo_stack.count()
    w.connect_to_selection()
    pairs = [(a, b) for a in ("n3", "n4") for b in ("n3", "n4")]
    assert all(net.find_edge(a, b).delay == 1 for a, b in pairs)
    assert w.undo_stack.count() == steps + 1 and "4 delayed edge(s)" in status(w)
    w.undo_stack.undo()
    assert all(net.find_edge(a, b) is None for a, b in pairs)


def test_auto_layout_spaces_a_recurrent_net_wider_and_a_feed_forward_one_as_before(xor_window):
    w = xor_window
    net = w.project.network

    def gaps() -> tuple[float, float]:
        n1, n2, n3 = (net.neurons[i] for i in ("n1", "n2", "n3"))
        return n3.x - n1.x, abs(n2.y - n1.y)

    edit_tools.auto_layout(w.scene)
    assert gaps() == (COLUMN_GAP, ROW_GAP)
    w.scene.connect_neurons("n3", "n3", delay=1)
    assert "z⁻¹" in w.scene.edge_tooltip(net.find_edge("n3", "n3").id)
    edit_tools.auto_layout(w.scene)
    assert gaps() == (RECURRENT_COLUMN_GAP, RECURRENT_ROW_GAP)


def test_smoke_delayed_edges_of_every_shape_repainted_many_times(xor_window):
    """Loops, bows, two neurons on one spot, selected, frozen, with maps, in the gradients
    view, zoomed in and out: painted without a warning or an error."""
    w = xor_window
    scene, net = w.scene, w.project.network
    scene.connect_neurons("n3", "n3", delay=1)
    scene.connect_neurons("n4", "n3", delay=1)
    scene.connect_neurons("n5", "n4", delay=1)
    n3 = net.neurons["n3"]
    scene.push(SetValue("edge_frozen", net.find_edge("n4", "n3").id, False, True))
    net.move_neuron("n4", n3.x, n3.y)  # on top of n3: the bow has no length
    for e in net.edges.values():
        if e.delay:
            scene.edge_items[e.id].setSelected(True)
    ids = tuple(net.edges)
    gradients = ValuesById(ids, np.linspace(-1.0, 1.0, len(ids)))
    for i in range(120):
        if i == 40:
            scene.set_maps_shown(True)
        if i == 80:
            scene.set_gradients(gradients)
        w.view.zoom(1.02 if i % 2 else 1 / 1.02)
        w.view.viewport().repaint()
    assert all(scene.edge_items[e.id].delayed == bool(e.delay) for e in net.edges.values())
