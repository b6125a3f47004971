"""One window session across the recurrent features and two documents, checking the state at
every step: a recurrent template from the menu, training, the Through time panel, step-through
over time, a delay toggled and undone, evaluation, the ONNX export against the window's own
predictions, then a feed-forward document (nothing recurrent shows in it), Undo back to the
trained recurrent one, and training on. Each feature has its own tests; this is what lives
between them."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from PySide6.QtGui import QAction

from core.edits import SetValue
from core.engine.recurrent import sequence_predict
from core.losses import predictions
from core.templates import xor
from core.training.through_time import NEEDS
from core.training.trainer import inputs_of
from gui import export_actions
from tests.gui.conftest import wait_until
from tests.gui.test_journeys import settle_events
from tests.gui.test_through_time import drawn, expected_curve, show, step_to


def template_action(w, title: str) -> QAction:
    return next(a for a in w.findChildren(QAction) if a.text().replace("&", "") == title)


def weights(net) -> dict:
    return {e.id: e.weight for e in net.edges.values()}


def test_journey_elman_train_look_step_through_toggle_export_then_xor_and_back(window, tmp_path):
    w = window
    # 1. A recurrent template from File > New from template.
    template_action(w, "Elman net on echo").trigger()
    net = w.project.network
    delayed = [e for e in net.edges.values() if e.delay]
    assert len(delayed) == 16 and w.training.live.data.is_sequence
    assert all(e.id in w.scene.edge_items for e in delayed)  # each drawn as an edge of its own
    assert w.project.runs.runs == ()
    # 2. Train with the Through time tab on screen: its curve is the core's at the run's weights.
    show(w)
    step_to(w, 30)
    wait_until(lambda: len(drawn(w)) >= 1)
    report = w.controller.latest.through_time
    np.testing.assert_allclose(drawn(w)[-1], expected_curve(w, report), rtol=1e-10)
    wait_until(lambda: len(w.project.runs.runs) == 1 and w.project.runs.runs[0].steps == 30)
    trained = weights(net)
    # 3. Step-through over time, a few events, then back to the canvas.
    w.stepthrough.toggle_action.trigger()
    mode = w.stepthrough
    wait_until(lambda: mode.stage.showing)
    for _ in range(5):
        mode.next_action.trigger()
    assert mode.stage.view.isVisible() and not w.view.isVisible()
    w.stepthrough.toggle_action.trigger()
    wait_until(lambda: not mode.stage.showing)
    assert w.view.isVisible() and weights(net) == trained  # looking changed nothing
    # 4. A delay toggled off (an ordinary edge now) and undone: the edge's kind follows.
    across = next(e for e in delayed if e.source != e.target)
    w.scene.push(SetValue("delay", across.id, 1, 0))
    assert net.edges[across.id].delay == 0 and not w.scene.edge_items[across.id].delayed
    w.undo_stack.undo()
    assert net.edges[across.id].delay == 1 and w.scene.edge_items[across.id].delayed
    # 5. Evaluation of the weights on the canvas: one row per (sequence, step).
    view = w.experiments.evaluate()
    assert view is not None
    data = w.training.live.data
    assert view.report.train.predicted.shape == (data.x_train.shape[0] * data.x_train.shape[1], 1)
    view.close()
    # 6. ONNX out: it predicts at every step what the window's engine predicts.
    assert export_actions.export_weights_to(w, "onnx", tmp_path / "elman.onnx")
    plan = w.training.live.plan
    raw = data.x_train[:6]
    ours = predictions(w.project.training.loss,
                       sequence_predict(plan, plan.pack(net), inputs_of(plan, raw)))
    got = ort.InferenceSession(str(tmp_path / "elman.onnx")).run(
        None, {"x": raw.astype(np.float32)})[0]
    np.testing.assert_allclose(got, ours, rtol=1e-4, atol=1e-5)
    # 7. A feed-forward document: nothing of the recurrent run in any view.
    assert w.files.new_from(xor(), "XOR")
    settle_events()
    assert not w.training.live.data.is_sequence and not w.training.live.plan.recurrent
    assert drawn(w) == [] and w.training.through_time_panel.summary.text() == NEEDS
    assert w.project.runs.runs == ()
    assert not any(e.delay for e in w.project.network.edges.values())
    # 8. Undo: the trained Elman net again, its run kept; training goes on from its weights.
    w.undo_stack.undo()
    settle_events()
    assert weights(w.project.network) == trained
    assert len(w.project.runs.runs) == 1 and w.training.live.data.is_sequence
    assert drawn(w) == []  # a new run of this document: no curve of the one before yet
    step_to(w, 5)
    wait_until(lambda: len(drawn(w)) >= 1)
    np.testing.assert_allclose(drawn(w)[-1],
                               expected_curve(w, w.controller.latest.through_time),
                               rtol=1e-10)
    assert weights(w.project.network) != trained
    w.controller.settle()
