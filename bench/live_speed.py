"""Training throughput with the window open and every panel on screen at once, against
headless training of the same project in the same run. Target (issue 14): at least 0.75 of
headless on the 2-core development machine.

The net is the 2-8-8-1 tanh classifier on the spiral data, minibatch 32. The four training
docks (Loss, Gradients, Loss surface, Data) are taken out of their tabs and laid side by side
under the canvas (what a user does by dragging a dock's title bar), so none is hidden behind
another. Paints are counted, not messages: an event filter on each panel's plot viewport and
on the canvas viewport counts QEvent.Paint. A panel that painted nothing is named.

Headless training runs in this process while the window is paused; live training runs in the
window's training process. The two take turns, ROUND_SECONDS each, ROUNDS times (on a shared
virtual machine the speed of one and the same loop drifts by a third from one second to the
next): the ratio is the median of the rounds' ratios. BLAS: 1 thread in this process
(threadpoolctl, as the window sets it), 1 in the training process.

The Sharpness panel is closed, so off, unless --sharpness lays it out as a fifth panel: then
the training process estimates lambda_max as it trains (its cost alone is
bench/sharpness_speed.py's).

    QT_QPA_PLATFORM=offscreen python bench/live_speed.py [--rounds N] [--sharpness]

Qt is imported inside functions: the training process runs this script's top level again
(multiprocessing does that) and must not load Qt.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.dataset import make_dataset  # noqa: E402
from core.settings import DataSettings  # noqa: E402
from core.templates import classifier_2881  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

ROUND_SECONDS = 1.0


def wait(condition) -> None:
    """Run the window's event loop until `condition()` (QTest.qWait would hold the GIL)."""
    from PySide6.QtCore import QEventLoop, QTimer

    while not condition():
        loop = QEventLoop()
        QTimer.singleShot(5, loop.quit)
        loop.exec()


def spiral_2881():
    project = classifier_2881()
    project.data = DataSettings(generator="spiral", samples=400, noise=0.05)
    return project


HEADLESS_BLOCK = 256  # steps per Trainer.advance call: the compiled kernel when it applies


def headless_round(trainer: Trainer) -> tuple[int, float]:
    """Training with no window, on the path the training process takes (Trainer.advance:
    the compiled kernel for this small net once it is compiled, else NumPy), in blocks larger
    than the process's own, with no evaluation: the fastest headless training, so the ratio
    does not flatter the window."""
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < ROUND_SECONDS:
        trainer.advance(HEADLESS_BLOCK)
        steps += HEADLESS_BLOCK
    return steps, time.perf_counter() - start


def live_round(window, wait) -> tuple[int, float]:
    controller = window.controller
    before = controller.fresh_progress()
    start = time.perf_counter()
    controller.run()
    wait(lambda: time.perf_counter() - start >= ROUND_SECONDS)
    controller.pause()
    elapsed = time.perf_counter() - start
    wait(lambda: not controller.running)
    steps = controller.fresh_progress().step - (before.step if before else 0)
    return steps, elapsed


def lay_out_side_by_side(window, sharpness: bool = False) -> list:
    """The four training docks (and the Sharpness dock if asked) next to each other in the
    bottom area, none tabbed; the docks laid out."""
    from PySide6.QtCore import Qt

    docks = list(window.training.docks)  # Loss, Data, Loss surface, Gradients
    extra = getattr(window.training, "sharpness_dock", None)  # (not in older trees)
    if sharpness:
        docks.append(extra)
    for dock in docks:  # out of the dock area (and so of their tabs), then back side by side
        window.removeDockWidget(dock)
    for dock in docks:
        window.addDockWidget(Qt.BottomDockWidgetArea, dock, Qt.Horizontal)
        dock.show()
    if extra is not None and not sharpness:  # closed (View > Panels): off screen, so off
        extra.hide()
    window.resizeDocks(docks, [1] * len(docks), Qt.Horizontal)
    window.resizeDocks(docks[:1], [330], Qt.Vertical)
    return docks


def paint_counters(window, sharpness: bool = False) -> dict:
    """An event filter per drawing surface, counting QEvent.Paint."""
    from PySide6.QtCore import QEvent, QObject

    class Counter(QObject):
        def __init__(self, parent) -> None:
            super().__init__(parent)
            self.count = 0

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Paint:
                self.count += 1
            return False

    t = window.training
    surfaces = {"canvas": window.view, "Loss": t.loss_panel.plot,
                "Gradients": t.gradient_panel.plot, "Loss surface": t.surface_panel.plot,
                "Data": t.data_panel.plot}
    if sharpness:
        surfaces["Sharpness"] = t.sharpness_panel.plot
    counters = {}
    for name, view in surfaces.items():
        counter = Counter(view.viewport())
        view.viewport().installEventFilter(counter)
        counters[name] = counter
    return counters


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--sharpness", action="store_true",
                        help="lay the Sharpness panel out too (estimates on)")
    args = parser.parse_args()
    import tempfile

    # The window's own settings (recent files, the saved dock layout) go to a folder of
    # this run's: a layout saved by an earlier session must not decide what is on screen.
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp()
    os.environ["BACKPROP_STUDIO_DATA"] = tempfile.mkdtemp()
    from PySide6.QtWidgets import QApplication
    from threadpoolctl import threadpool_info

    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])  # noqa: F841
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.files.new_from(spiral_2881(), "bench")
    wait(lambda: getattr(window, "_laid_out", False))  # the window's first layout is done
    laid_out = lay_out_side_by_side(window, args.sharpness)
    settle = time.perf_counter()
    wait(lambda: time.perf_counter() - settle >= 0.5)
    hidden = [d.windowTitle() for d in laid_out
              if not d.widget().isVisible() or d.widget().visibleRegion().isEmpty()
              or window.tabifiedDockWidgets(d)]
    sharpness_dock = getattr(window.training, "sharpness_dock", None)
    sharpness_shown = sharpness_dock is not None and \
        not sharpness_dock.widget().visibleRegion().isEmpty()
    counters = paint_counters(window, args.sharpness)
    project = spiral_2881()
    trainer = Trainer(project.network, make_dataset(project.data), project.training)
    per_epoch = trainer.steps_per_epoch()
    # Warm up both sides: the compiled kernel loads (or compiles) here and in the training
    # process, which trains in NumPy until it has it.
    trainer.advance(HEADLESS_BLOCK)
    for _ in range(3):
        live_round(window, wait)
    path = trainer.compiled_path() or "compiled kernel"
    heads, lives, ratios = [], [], []
    live_seconds = 0.0
    paints = {name: 0 for name in counters}
    for _ in range(args.rounds):
        steps, seconds = headless_round(trainer)
        head = steps / seconds
        before = {name: c.count for name, c in counters.items()}
        steps, seconds = live_round(window, wait)
        live = steps / seconds
        live_seconds += seconds
        for name, c in counters.items():
            paints[name] += c.count - before[name]
        heads.append(head)
        lives.append(live)
        ratios.append(live / head)
    # A stretch of training can still end (one more undo step) after setClean: its question
    # about unsaved changes, a modal dialog no one answers offscreen, hung a run at close.
    from PySide6.QtWidgets import QMessageBox

    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.Discard)
    window.undo_stack.setClean()
    window.close()
    blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    print(f"2-8-8-1 tanh on spiral (400 samples), minibatch 32: {per_epoch} steps per epoch; "
          f"{args.rounds} rounds of {ROUND_SECONDS} s each way; BLAS threads here {blas}, "
          f"training process 1; load average {os.getloadavg()[0]:.2f}; headless path: "
          f"{path if path == 'compiled kernel' else 'NumPy (' + path + ')'}")
    print("panels on screen, none tabbed: " + ("all" if not hidden else
                                                f"NOT {', '.join(hidden)}")
          + f"; Sharpness panel {'on screen (estimating)' if sharpness_shown else 'off screen'}")
    print(f"headless      {statistics.median(heads) / per_epoch:8.1f} epochs/s  "
          f"({statistics.median(heads):.0f} steps/s, median)")
    print(f"window, live  {statistics.median(lives) / per_epoch:8.1f} epochs/s  "
          f"({statistics.median(lives):.0f} steps/s, median)")
    quartiles = statistics.quantiles(ratios, n=4)
    print(f"ratio         {statistics.median(ratios):8.2f}   median of rounds "
          f"(quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}; target >= 0.75)")
    print("paints per second while training:")
    for name, n in paints.items():
        print(f"  {name:13s} {n / live_seconds:6.1f}" + ("   PAINTED NOTHING" if n == 0 else ""))


if __name__ == "__main__":
    main()
