"""The window at a laptop's size and a large screen's: every panel in its own space, the
canvas at least a third of the window, settings readable, layout remembered and reset."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QDockWidget, QLabel

from gui.main_window import MainWindow
from tests.gui.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]


def global_rect(widget) -> QRect:
    return QRect(widget.mapToGlobal(widget.rect().topLeft()), widget.size())


def lay_out(w, width, height):
    w.resize(width, height)
    wait_until(lambda: getattr(w, "_laid_out", False))
    w._size_panels()
    wait_until(lambda: w.view.viewport().width() > 0, 20000)
    from PySide6.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()


@pytest.mark.parametrize("size", [(1024, 700), (1600, 1000)])
def test_no_panel_draws_over_another_and_the_canvas_keeps_a_third(window, size):
    w = window
    lay_out(w, *size)
    visible = [d for d in w.findChildren(QDockWidget) if d.isVisible() and not d.isFloating()
               and not d.visibleRegion().isEmpty()]  # not a tab behind another
    assert {d.objectName() for d in visible} >= {"palette", "inspector", "settings", "loss",
                                                 "surface"}
    rects = {d.objectName(): global_rect(d) for d in visible}
    rects["canvas"] = global_rect(w.view)
    names = list(rects)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            overlap = rects[a].intersected(rects[b])
            assert overlap.width() <= 1 or overlap.height() <= 1, (a, b, rects[a], rects[b])
    for d in visible:  # a dock is never narrower than what its panel needs
        assert d.widget().width() >= d.widget().minimumSizeHint().width() - 1, d.objectName()
    viewport = w.view.viewport()
    assert viewport.width() * viewport.height() * 3 >= w.width() * w.height()


def test_every_setting_shows_its_label_beside_its_value_with_a_tooltip(window):
    w = window
    lay_out(w, 1024, 700)
    panel = w.training.settings
    from PySide6.QtWidgets import QGroupBox

    assert [b.title() for b in panel.findChildren(QGroupBox)] == \
        ["Data", "Model", "Optimiser", "Regularisation"]
    for (group, name), widget in panel.widgets.items():
        label = widget.parentWidget().layout().labelForField(widget)
        assert isinstance(label, QLabel) and label.text()
        # the label's text fits beside the field: nothing cut ("Loss  r", "Optimiser  s")
        assert label.width() >= label.fontMetrics().horizontalAdvance(label.text())
        assert widget.width() >= 80, name
        tip = widget.toolTip()
        assert len(tip) > 20 and ("From" in tip or "One of" in tip or "On or off" in tip), name
    assert "From 0 to 0.9" in panel.widgets[("training", "dropout")].toolTip()


def test_the_layout_is_remembered_and_reset(window, qtbot):
    w = window
    lay_out(w, 1400, 900)
    loss = w.training.docks[0]
    loss.hide()
    assert w.files.maybe_save()
    w.close()  # saves the arrangement
    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    wait_until(lambda: getattr(second, "_laid_out", False))
    assert not second.training.docks[0].isVisible()
    reset = next(a for a in second.menus["view"].actions() if a.text() == "&Reset layout")
    reset.trigger()
    assert second.training.docks[0].isVisible()
    assert second.training.settings_dock.isVisible()


def test_with_no_display_one_line_and_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "xvfb-run" in lines[0] and "display" in lines[0]


def test_every_live_plot_prints_plain_numbers_on_its_axes(window):
    """A loss of 0.0002 is "0.0002" on the axis, not "200" under a title changed to
    "loss (x0.001)" (a short panel cut that title to "loss (x0.")."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    w = window
    lay_out(w, 1600, 1000)
    plots = [p for p in w.findChildren(pg.PlotWidget)]
    assert len(plots) >= 6  # loss, accuracy, data, surface, gradients, sharpness, ...
    for plot in plots:
        item = plot.plot([0.0, 0.0001, 0.0002], [0.0, 0.0001, 0.0002])
        plot.enableAutoRange()
        plot.getPlotItem().setLogMode(False, False)
        for _ in range(3):
            QApplication.processEvents()
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            assert axis.autoSIPrefixScale == 1.0, (plot.parent(), side, axis.labelString())
            assert "(x" not in axis.labelString()
        plot.removeItem(item)


def test_a_legend_never_covers_most_of_its_plot_nor_runs_off_it(window):
    """Loss, Gradients and Sharpness legends: a column in a tall plot, one row or hidden in a
    short one (at 1024x700 the loss legend covered the curves, the sharpness one was cut)."""
    from PySide6.QtWidgets import QApplication

    w = window
    lay_out(w, 1600, 1000)
    t = w.training
    t.sharpness_dock.raise_()
    wait_until(lambda: not t.sharpness_panel.visibleRegion().isEmpty(), 20000)
    panels = [t.loss_panel.plot, t.sharpness_panel.plot]

    def check(plot, tall):
        box, legend = plot.getViewBox(), plot.getPlotItem().legend
        wait_until(lambda: box.height() > 0)
        for _ in range(3):
            QApplication.processEvents()
        rect = legend.mapRectToItem(box, legend.boundingRect())
        if tall:
            assert legend.isVisible()
        if legend.isVisible():
            assert rect.height() <= 0.5 * box.height() + 1
            assert rect.left() >= -1 and rect.right() <= box.width() + 1, (rect, box.width())
        return legend.isVisible()

    for plot in panels:
        plot.setFixedHeight(320)
        wait_until(lambda: plot.getViewBox().height() > 200)
        check(plot, tall=True)
        plot.setFixedHeight(70)
        wait_until(lambda: plot.getViewBox().height() < 60)
        check(plot, tall=False)
