"""Training throughput with the window open and every panel live, against headless training of
the same project in the same run. Target (live-training issue): at least 75% of headless.

The net is the 2-8-8-1 tanh classifier on the spiral data, minibatch 32.

    QT_QPA_PLATFORM=offscreen python bench/live_speed.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.data import make_dataset  # noqa: E402
from core.settings import DataSettings  # noqa: E402
from core.templates import classifier_2881  # noqa: E402
from core.training import Trainer  # noqa: E402

SECONDS = 5.0


def spiral_2881():
    project = classifier_2881()
    project.data = DataSettings(generator="spiral", samples=400, noise=0.05)
    return project


def headless_rate() -> float:
    project = spiral_2881()
    trainer = Trainer(project.network, make_dataset(project.data), project.training)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < SECONDS:
        for _ in range(100):
            trainer.step()
        steps += 100
    return steps / (time.perf_counter() - start)


def gui_rate() -> tuple[float, int]:
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.files.new_from(spiral_2881(), "bench")
    frames = []
    window.controller.progress.connect(lambda p: frames.append(p.step))
    loop = QEventLoop()
    QTimer.singleShot(500, loop.quit)
    loop.exec()
    window.controller.run()
    start = time.perf_counter()
    QTimer.singleShot(int(SECONDS * 1000), loop.quit)
    loop.exec()
    elapsed = time.perf_counter() - start
    steps = window.controller.latest.step
    window.controller.pause()
    window.undo_stack.setClean()
    window.close()
    return steps / elapsed, len(frames)


def main() -> None:
    app = QApplication.instance() or QApplication([])  # noqa: F841
    head = headless_rate()
    gui, frames = gui_rate()
    print(f"headless      {head:10.0f} steps/s")
    print(f"window, live  {gui:10.0f} steps/s   ({frames / SECONDS:.0f} frames/s drawn)")
    print(f"ratio         {gui / head:10.2f}   (target >= 0.75)")


if __name__ == "__main__":
    main()
