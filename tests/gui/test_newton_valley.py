"""The narrow-valley template from the File menu, the Standardise check box that turns its
valley round, Newton's method chosen in the settings panel, and its refusal of a net too large
for the whole Hessian, said in the status bar. Real widgets, real clicks, a real training
process."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStyle, QStyleOptionButton

from core.curvature import TrainingLoss, spectrum
from core.engine import compile_plan
from core.project import Project
from core.settings import DataSettings, TrainingSettings
from core.templates import layered
from tests.gui.conftest import wait_until


def open_template(w, title: str) -> None:
    menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&File")
    templates = next(a.menu() for a in menu.actions() if a.text() == "New from &template")
    next(a for a in templates.actions() if a.text() == title).trigger()


def test_the_valley_opens_on_its_two_weights_and_standardise_turns_it_round(window, qtbot):
    w = window
    open_template(w, "Narrow valley (linear regression)")
    panel = w.training.surface_panel
    wait_until(lambda: panel.plane is not None, 20000)
    net, plan = w.project.network, panel.plan
    for d in (panel.plane.d1, panel.plane.d2):  # each axis is one weight of x1 or x2
        (i,) = np.flatnonzero(d)
        source = net.edges[plan.parameter_names()[i]].source
        assert net.neurons[source].label in ("x1", "x2")
    before = w.training.live.data
    box = w.training.settings.widgets[("data", "standardize")]
    option = QStyleOptionButton()
    box.initStyleOption(option)  # a check box without text takes clicks on its indicator
    indicator = box.style().subElementRect(QStyle.SE_CheckBoxIndicator, option, box)
    qtbot.mouseClick(box, Qt.LeftButton, pos=indicator.center())
    assert w.project.data.standardize
    wait_until(lambda: w.training.live.data is not before, 10000)
    x = w.training.live.data.x_train
    np.testing.assert_allclose(x.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(x.std(0), 1.0, rtol=1e-12)

    def condition(data):
        loss = TrainingLoss(plan, plan.inputs_from(data.x_train), data.y_train, "mse")
        return spectrum(loss, plan.flatten(plan.pack(net))).condition_number

    assert condition(before) > 50 * condition(w.training.live.data)
    w.undo_stack.undo()  # one undoable edit
    assert not w.project.data.standardize and not box.isChecked()


def test_newton_chosen_in_the_settings_panel_trains_the_valley_in_a_step(window, qtbot):
    w = window
    open_template(w, "Narrow valley (linear regression)")
    combo = w.training.settings.widgets[("training", "optimizer")]
    combo.activated.emit(combo.findText("newton"))
    assert w.project.training.optimizer == "newton"
    rate = w.training.settings.widgets[("training", "learning_rate")]
    rate.setValue(1.0)
    assert w.project.training.learning_rate == 1.0
    assert "Hessian" in combo.itemData(combo.findText("newton"), Qt.ToolTipRole)
    w.controller.step(1)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step >= 1, 20000)
    data = w.training.live.data
    a = np.hstack([data.x_train, np.ones((len(data.x_train), 1))])
    best = np.linalg.lstsq(a, data.y_train, rcond=None)[0].ravel()
    # lambda 0.001 against curvatures of 0.04 and up: within a few percent of the bottom
    plan = compile_plan(w.project.network)
    np.testing.assert_allclose(plan.flatten(plan.pack(w.project.network)), best, rtol=0.05,
                               atol=0.02)


def test_newton_on_a_net_too_large_says_so_in_the_status_bar(window, qtbot):
    w = window
    net = layered([2, 30, 14, 1], hidden="tanh", output="identity")  # 539 parameters
    project = Project(net, DataSettings(generator="plane", samples=50),
                      TrainingSettings(optimizer="newton"), "big")
    w.files.new_from(project, "big")
    w.controller.run()
    wait_until(lambda: "Newton's method" in w.statusBar().currentMessage(), 20000)
    assert "539 trainable parameters" in w.statusBar().currentMessage()
    assert not w.controller.running
