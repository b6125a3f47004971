"""Editing a big net while it trains (issue 14): the window keeps answering. Work too long for
one turn of the event loop is done in slices (gui/slices.py): the edge picture of a big graph
(held pixel for pixel to the lines drawn at once) and the autosave (held to the project as it
was when it began). On 784-64-10 (50,816 edges) an edit while training stops the window no
longer than a few training frames do. (Waits use wait_until, which runs a real event loop.)"""
import statistics
import time

import numpy as np
import pytest
from PySide6.QtCore import QEventLoop, QLineF, QPointF, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QTransform

from tests.gui.conftest import wait_until


def busy(seconds: float) -> None:
    """Work (not sleep) for a while, as a slice of a real job does."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_slices_run_a_job_between_events_and_close_a_dropped_one(qtbot):
    from gui.slices import Slices

    slices = Slices(budget=0.004)
    done, closed, finished = [], [], []
    slices.finished.connect(lambda: finished.append(1))

    def job(name, units):
        try:
            for k in range(units):
                busy(0.001)
                done.append((name, k))
                yield
        finally:
            closed.append(name)

    slices.start(job("first", 1000))
    wait_until(lambda: len(done) >= 3)
    slices.start(job("second", 20))  # drops the first: closed, no more of its units
    first = sum(1 for name, _ in done if name == "first")
    wait_until(lambda: finished)
    assert closed == ["first", "second"] and finished == [1]
    assert sum(1 for name, _ in done if name == "first") == first < 1000
    assert [k for name, k in done if name == "second"] == list(range(20))
    assert slices.turns >= 20 * 0.001 / 0.004 and not slices.running  # in several turns


def sample_lines(n: int, seed: int = 0) -> list[QLineF]:
    rng = np.random.default_rng(seed)
    ends = rng.uniform(-400, 1200, (n, 4))
    return [QLineF(a, b, c, d) for a, b, c, d in ends.tolist()]


def draw(width, height, transform, paint) -> QImage:
    image = QImage(width, height, QImage.Format_ARGB32_Premultiplied)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setWorldTransform(transform)
    paint(painter)
    painter.end()
    return image


def test_a_picture_drawn_in_slices_is_the_lines_drawn_at_once(qtbot):
    from gui.canvas.line_picture import LinePicture, draw_lines

    sets = ((sample_lines(3000, 1), QPen(QColor(40, 90, 200), 0)),
            (sample_lines(2000, 2), QPen(QColor(220, 90, 40), 0)))
    ready = []
    picture = LinePicture(lambda: ready.append(1))
    picture.set_lines(sets)
    view = QTransform().translate(13, -7).scale(0.43, 0.43)
    blank = draw(500, 300, view, lambda p: picture.paint(p, 500, 300, 1.0))  # begins a picture
    assert blank == draw(500, 300, view, lambda p: None)  # nothing yet: drawn in slices
    wait_until(lambda: ready)
    assert picture.slices.turns > 1
    shown = draw(500, 300, view, lambda p: picture.paint(p, 500, 300, 1.0))
    assert shown == draw(500, 300, view, lambda p: draw_lines(p, sets))
    # Zoomed: the old picture stays, mapped through the new view, until the new one is done.
    zoomed = QTransform(view).scale(1.2, 1.2)
    ready.clear()
    mapped = draw(500, 300, zoomed, lambda p: picture.paint(p, 500, 300, 1.0))
    assert mapped != shown and mapped != draw(500, 300, zoomed, lambda p: None)
    wait_until(lambda: ready)
    again = draw(500, 300, zoomed, lambda p: picture.paint(p, 500, 300, 1.0))
    assert again == draw(500, 300, zoomed, lambda p: draw_lines(p, sets))


def test_a_big_nets_autosave_is_made_between_events_and_holds_the_net_as_it_began(window):
    from core.edits import SetValue
    from core.initializers import initialize
    from core.project import Project
    from core.recovery import read_recovery
    from core.templates import layered

    w = window
    net = layered([150, 60, 10])
    net.set_values(*initialize(net, "he", 0))
    w.files.new_from(Project(net), "big")
    doc = w.project.network
    edge = next(iter(doc.edges))
    w.scene.push(SetValue("weight", edge, doc.edges[edge].weight, 0.25))  # unsaved now
    expected = w.project.snapshot()
    w.autosaver.autosave()
    w.scene.push(SetValue("weight", edge, 0.25, -0.5))  # while it is being made
    wait_until(lambda: not w.autosaver.busy, 20000)
    restored, _, _ = read_recovery()
    assert restored.same_as(expected) and not restored.same_as(w.project)
    assert w.autosaver._slices.turns > 1


def longest_stall(action, seconds: float = 1.2) -> tuple[float, float]:
    """Around `action`: the longest gap between ticks of a 5 ms timer (the time the window
    could not answer), and the most CPU time the window's thread spent between two ticks
    (the part of a stall its own code decides; the rest is waiting for a core)."""
    gaps, work, last = [], [], [(time.perf_counter(), time.thread_time())]

    def tick() -> None:
        now = (time.perf_counter(), time.thread_time())
        gaps.append(now[0] - last[0][0])
        work.append(now[1] - last[0][1])
        last[0] = now
    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)
    loop = QEventLoop()
    QTimer.singleShot(50, loop.quit)
    loop.exec()
    action()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    timer.stop()
    return max(gaps), max(work)


@pytest.fixture
def mnist_shaped(window, tmp_path):
    """784-64-10 on a 784-column CSV (random digits), open in the window."""
    from core.initializers import initialize
    from core.project import Project, save_project
    from core.settings import DataSettings, TrainingSettings
    from core.templates import layered

    rng = np.random.default_rng(0)
    columns = [f"p{i}" for i in range(784)]
    rows = [",".join(columns + ["digit"])] + [
        ",".join(f"{v:.2f}" for v in rng.random(784)) + f",d{rng.integers(10)}"
        for _ in range(120)]
    (tmp_path / "digits.csv").write_text("\n".join(rows) + "\n")
    net = layered([784, 64, 10], hidden="relu", output="identity")
    net.set_values(*initialize(net, "he", 0))
    data = DataSettings(source="csv", csv_path="digits.csv", input_columns=columns,
                        target_columns=["digit"], task="classification")
    save_project(Project(net, data, TrainingSettings(loss="softmax_ce", batch_size=32)),
                 tmp_path / "digits.json")
    window.resize(1400, 900)
    window.files.load(tmp_path / "digits.json")
    return window


def test_editing_a_784_64_10_net_while_it_trains_keeps_the_window_answering(mnist_shaped):
    """Each edit (add a neuron, wire it, delete a neuron with its 795 edges) and the autosave
    of the unsaved net stop the window no longer than a few training frames do, and the
    window's own work between two turns of its event loop stays under 0.2 s of CPU (the rest
    of a stall on a loaded machine is waiting for a core). Before: an edit cost 0.3-3 s, a
    frame 0.2-0.8 s, an autosave 0.8-2 s (README, 'Editing a big net while it trains')."""
    from PySide6.QtCore import QPointF

    from gui import edit_tools

    w = mnist_shaped
    net = w.project.network
    w.controller.run()
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step > 0, 60000)
    inputs = [n.id for n in net.neurons.values() if n.role == "input"]
    edits = {"add": [], "connect": [], "delete": [], "autosave": []}
    frames = []
    for k in range(2):
        frames.append(longest_stall(lambda: None))
        added = []
        edits["add"].append(longest_stall(
            lambda: added.append(w.scene.add_neuron_at("hidden", "tanh", QPointF(0, 0)))))
        edits["connect"].append(longest_stall(
            lambda: w.scene.connect_neurons(inputs[k], added[0])))

        def delete():
            w.scene.clearSelection()
            first = next(n.id for n in net.neurons.values() if n.role == "hidden")
            w.scene.neuron_items[first].setSelected(True)
            edit_tools.delete_selection(w.scene)
        edits["delete"].append(longest_stall(delete))
        edits["autosave"].append(longest_stall(w.autosaver.autosave))  # unsaved now
        frames.append(longest_stall(lambda: None))
        assert net.find_edge(inputs[k], added[0]) is not None
    step = w.controller.latest.step
    wait_until(lambda: w.controller.latest.step > step, 60000)  # still training, edits taken
    assert len([n for n in net.neurons.values() if n.role == "hidden"]) == 64
    print({kind: [(round(1000 * a), round(1000 * b)) for a, b in s] for kind, s in
           {**edits, "frames": frames}.items()})
    # The window's own work at once: at most 0.2 s of CPU (under 0.1 s here on 2 cores at
    # load 8; before, 0.08-0.2 s for an edit or a frame, 1.5 s for an autosave).
    assert max(cpu for stalls in (*edits.values(), frames) for _, cpu in stalls) < 0.2
    # What the user waits: an edit no longer than a few frames, or half a second.
    bound = max(0.5, 4 * statistics.median(wall for wall, _ in frames))
    assert all(wall < bound for stalls in edits.values() for wall, _ in stalls), (edits, frames)
    w.controller.settle()
