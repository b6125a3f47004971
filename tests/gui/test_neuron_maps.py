"""The canvas's maps view: every neuron shows its own output over the input plane inside it."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from core.edits import AddNeuron
from core.engine import forward
from core.network import Neuron
from core.project import save_project
from core.settings import DataSettings
from core.templates import autoencoder838, classifier_2881, xor
from gui.canvas.neuron_item import MAP_R, R
from gui.commands import apply_and_push
from gui.live.neuron_maps_view import RESOLUTION
from gui.map_colours import BINARY_LUT, SIGNED_LUT, lut_index
from tests.gui.conftest import opened, wait_until


def spiral_2881():
    project = classifier_2881()
    project.data = DataSettings(generator="spiral", samples=200, noise=0.05)
    return project


@pytest.fixture
def spiral_window(window):
    return opened(window, spiral_2881(), "Spiral 2-8-8-1")


def maps_on(w):
    view = w.training.maps
    view.action.setChecked(True)
    wait_until(lambda: view.latest is not None)
    return view


def engine_value(w, nid, i, j):
    """The engine's activation of nid at grid row i, column j, one point on its own."""
    grid = w.training.maps.latest.grid
    plan = w.training.live.plan
    point = np.array([[grid.xs[j], grid.ys[i]]])
    return forward(plan, w.training.live.params(), point).a[plan.row[nid], 0]


def pixel(image: QImage, i: int, j: int) -> tuple[int, int, int]:
    """The image's colour for map row i (row 0 at the bottom), column j."""
    c = image.pixelColor(j, image.height() - 1 - i)
    return c.red(), c.green(), c.blue()


def test_turning_maps_on_grows_every_neuron_and_paints_its_values(spiral_window):
    w = spiral_window
    scene, net = w.scene, w.project.network
    small = {nid: item.boundingRect() for nid, item in scene.neuron_items.items()}
    port = scene.neuron_items["n1"].port_pos()
    view = maps_on(w)
    assert w.training.maps.action.isEnabled() and view.legend.isVisible()
    for nid, item in scene.neuron_items.items():
        assert item.radius() == MAP_R > R
        assert item.boundingRect().width() > small[nid].width()
        assert item.map_image is not None and item.map_image.width() == RESOLUTION
    assert scene.neuron_items["n1"].port_pos().x() == pytest.approx(port.x() + MAP_R - R)
    maps = view.latest
    scale = maps.scale
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    inputs = [n.id for n in net.inputs]
    for nid in hidden[:3] + inputs:  # the shared scale: white at 0, blue +scale, orange -scale
        for i, j in ((0, 0), (5, 31), (20, 20), (39, 7)):
            value = engine_value(w, nid, i, j)
            assert maps.of(nid)[i, j] == pytest.approx(value, rel=1e-9, abs=1e-12)
            want = SIGNED_LUT[lut_index(np.array(value), -scale, scale)]
            assert pixel(scene.neuron_items[nid].map_image, i, j) == tuple(want)
    out = net.outputs[0].id
    for i, j in ((3, 3), (30, 12)):  # the output: the data panel's class colours
        p = engine_value(w, out, i, j)  # bce: the sigmoid output is p(class 1)
        want = BINARY_LUT[lut_index(np.array(p), 0.0, 1.0)]
        assert pixel(scene.neuron_items[out].map_image, i, j) == tuple(want)


def test_the_map_is_what_is_painted_inside_the_neuron(spiral_window):
    """Rendered on the canvas, x1's map (its own value: orange left, blue right) fills it."""
    w = spiral_window
    maps_on(w)
    item = w.scene.neuron_items[w.project.network.inputs[0].id]
    image = QImage(120, 120, QImage.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    centre = item.scenePos()
    w.scene.render(painter, QRectF(0, 0, 120, 120), QRectF(centre - QPointF(60, 60),
                                                              centre + QPointF(60, 60)))
    painter.end()
    for dx in (-18, 0, 18):  # pixels of the rendered neuron against its map's own pixels
        got = image.pixelColor(60 + dx, 60)
        j = int((dx + MAP_R) / (2 * MAP_R) * RESOLUTION)
        want = item.map_image.pixelColor(j, RESOLUTION // 2)
        assert abs(got.red() - want.red()) < 25 and abs(got.blue() - want.blue()) < 25
    left, right = image.pixelColor(60 - 18, 60), image.pixelColor(60 + 18, 60)
    assert left.red() > left.blue() and right.blue() > right.red()


def test_maps_follow_training(spiral_window):
    w = spiral_window
    view = maps_on(w)
    before = view.latest.maps.copy()
    w.controller.step(20)
    wait_until(lambda: view.latest is not None and not np.array_equal(view.latest.maps, before))
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 20)
    wait_until(lambda: np.allclose(view.latest.of("n5")[10, 10], engine_value(w, "n5", 10, 10)))


def test_turning_maps_off_restores_the_neurons(spiral_window):
    w = spiral_window
    small = {nid: item.boundingRect() for nid, item in w.scene.neuron_items.items()}
    view = maps_on(w)
    view.action.setChecked(False)
    assert not view.legend.isVisible() and view.latest is None
    for nid, item in w.scene.neuron_items.items():
        assert item.boundingRect() == small[nid] and item.map_image is None
    w.project.network.set_values({}, {"n3": 0.5})  # off: nothing is computed
    w.controller.step(3)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 3)
    assert view.latest is None


def test_hovering_still_shows_the_large_map_in_the_data_panel(spiral_window):
    w = spiral_window
    maps_on(w)
    w.scene.neuron_hovered.emit("n4")
    assert w.training.data_panel.hovered == "n4"


def test_without_two_inputs_the_toggle_says_why(window, tmp_path):
    rows = ["a,b,c,label"] + [f"{i % 3},{i % 5},{i % 7},{i % 2}" for i in range(20)]
    (tmp_path / "three.csv").write_text("\n".join(rows) + "\n")
    project = classifier_2881()
    net = project.network
    apply_and_push(window.undo_stack, net, AddNeuron(Neuron("x3", "input", "identity", 0, "c",
                                                            -200.0, 0.0)))
    project.data = DataSettings(source="csv", csv_path=str(tmp_path / "three.csv"),
                                input_columns=["a", "b", "c"], target_columns=["label"])
    save_project(project, tmp_path / "three.json")
    assert window.files.load(tmp_path / "three.json")
    action = window.training.maps.action
    assert window.training.live.data.n_inputs == 3
    assert not action.isEnabled()
    assert "two inputs" in action.toolTip() and "3 inputs" in action.toolTip()


def test_structure_edits_undo_redo_and_open_while_on(spiral_window, tmp_path):
    w = spiral_window
    view = maps_on(w)
    net = w.project.network
    nid = w.scene.add_neuron_at("hidden", "tanh", QPointF(300, 300))
    w.scene.connect_neurons("n1", nid)
    wait_until(lambda: nid in view.latest.order)
    item = w.scene.neuron_items[nid]
    assert item.radius() == MAP_R and item.map_image is not None
    assert view.latest.of(nid)[4, 9] == pytest.approx(engine_value(w, nid, 4, 9))
    w.undo_stack.undo()
    w.undo_stack.undo()
    wait_until(lambda: nid not in view.latest.order)
    assert nid not in w.scene.neuron_items
    w.undo_stack.redo()
    wait_until(lambda: nid in view.latest.order)
    assert w.scene.neuron_items[nid].map_image is not None
    # Open another document while on: its own maps, on its own plan
    save_project(xor(), tmp_path / "xor.json")
    assert w.files.load(tmp_path / "xor.json")
    wait_until(lambda: view.latest is not None and view.latest.order == w.training.live.plan.order)
    assert len(view.latest.order) == len(net.neurons) == 5
    assert all(i.radius() == MAP_R and i.map_image is not None
               for i in w.scene.neuron_items.values())
    # A document whose data has more than two inputs turns the view off
    w.files.new_from(autoencoder838(), "8-3-8")
    assert not view.action.isEnabled() and not view.shown
    assert all(i.radius() == R and i.map_image is None for i in w.scene.neuron_items.values())
    w.undo_stack.undo()  # back to XOR: maps can be turned on again
    assert view.action.isEnabled()
    maps_on(w)
    assert len(view.latest.order) == 5


# ----- a recurrent net on sequences -----------------------------------------------------------
def elman_project(generator: str = "adding", inputs: int = 2):
    """An Elman net (tanh, every hidden neuron fed by every one a step earlier) on a sequence
    generator's data, 8 steps a sequence."""
    from core.project import Project
    from core.templates import layered

    net = layered([inputs, 3, 1], hidden="tanh", output="identity")
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    rng = np.random.default_rng(0)
    net.set_values({e: float(rng.normal(0, 0.8)) for e in net.edges}, {})
    net.connect_many([(a, b) for a in hidden for b in hidden], list(rng.normal(0, 0.7, 9)),
                     delays=[1] * 9)
    return Project(net, DataSettings(generator=generator, samples=20, task="regression",
                                     sequence_length=8))


def test_on_sequences_each_map_is_the_output_after_the_point_held_for_the_length(window):
    """Each map at grid points against the unrolling written out (tests/core/strategies),
    the legend saying what a point is, and the maps following training."""
    from tests.core.strategies import naive_sequence_outputs

    w = opened(window, elman_project(), "Elman on adding")
    view = maps_on(w)
    net, maps = w.project.network, view.latest
    assert maps.steps == 8
    assert "held there for 8 steps from state 0" in view.legend.note
    assert "output at step 8" in view.legend.note and "steps from state 0" in \
        view.action.toolTip()
    for i, j in ((0, 0), (5, 31), (20, 20), (39, 7)):
        walk = naive_sequence_outputs(net, [[maps.grid.xs[j], maps.grid.ys[i]]] * 8)[-1]
        for nid in maps.order:
            assert maps.of(nid)[i, j] == pytest.approx(walk[nid], rel=1e-9, abs=1e-12)
            want = SIGNED_LUT[lut_index(np.array(walk[nid]), -maps.scale, maps.scale)]
            if nid not in maps.output_ids:
                assert pixel(w.scene.neuron_items[nid].map_image, i, j) == tuple(want)
    assert view.legend.height() > 8 + view.legend.ROW + 2 * 10  # room for the note's lines
    before = maps.maps.copy()
    w.controller.step(5)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 5)
    wait_until(lambda: not np.array_equal(view.latest.maps, before))
    h = [n.id for n in net.neurons.values() if n.role == "hidden"][0]
    walk = naive_sequence_outputs(net, [[maps.grid.xs[10], maps.grid.ys[10]]] * 8)[-1]
    wait_until(lambda: view.latest.of(h)[10, 10] == pytest.approx(walk[h], rel=1e-9))


def test_a_recurrent_net_on_one_input_says_why_as_a_feed_forward_one_does(window):
    w = opened(window, elman_project("echo", inputs=1), "Elman on echo")
    action = w.training.maps.action
    assert not action.isEnabled()
    assert "two inputs" in action.toolTip() and "1 inputs" in action.toolTip()
