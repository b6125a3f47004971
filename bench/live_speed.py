"""Training throughput with the window open and every panel live, against headless training of
the same project in the same run. Target (live-training issue): at least 75% of headless.

The net is the 2-8-8-1 tanh classifier on the spiral data, minibatch 32. Headless training
runs in this process while the window is paused; live training runs in the window's training
process. The two take turns, half a second each, twenty times: on a shared virtual machine the
speed of one and the same loop drifts by a third from one second to the next, so a headless
measurement followed by a live one compares two different machines.

    QT_QPA_PLATFORM=offscreen python bench/live_speed.py

Qt is imported inside functions: the training process runs this script's top level again
(multiprocessing does that) and must not load Qt.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.dataset import make_dataset  # noqa: E402
from core.settings import DataSettings  # noqa: E402
from core.templates import classifier_2881  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

ROUNDS = 20
ROUND_SECONDS = 0.5


def spiral_2881():
    project = classifier_2881()
    project.data = DataSettings(generator="spiral", samples=400, noise=0.05)
    return project


def headless_round(trainer: Trainer) -> tuple[int, float]:
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < ROUND_SECONDS:
        for _ in range(50):
            trainer.step()
        steps += 50
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


def main() -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    def wait(condition) -> None:
        while not condition():
            loop = QEventLoop()
            QTimer.singleShot(5, loop.quit)
            loop.exec()

    app = QApplication.instance() or QApplication([])  # noqa: F841
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.files.new_from(spiral_2881(), "bench")
    frames = []
    window.controller.progress.connect(lambda p: frames.append(p.step))
    settle = time.perf_counter()
    wait(lambda: time.perf_counter() - settle >= 0.5)
    project = spiral_2881()
    trainer = Trainer(project.network, make_dataset(project.data), project.training)
    head_steps = live_steps = live_frames = 0
    head_seconds = live_seconds = 0.0
    for _ in range(ROUNDS):
        steps, seconds = headless_round(trainer)
        head_steps, head_seconds = head_steps + steps, head_seconds + seconds
        drawn_before = len(frames)
        steps, seconds = live_round(window, wait)
        live_steps, live_seconds = live_steps + steps, live_seconds + seconds
        live_frames += len(frames) - drawn_before
    window.undo_stack.setClean()
    window.close()
    head_rate, live_rate = head_steps / head_seconds, live_steps / live_seconds
    print(f"headless      {head_rate:10.0f} steps/s")
    print(f"window, live  {live_rate:10.0f} steps/s   ({live_frames / live_seconds:.0f} frames/s drawn)")
    print(f"ratio         {live_rate / head_rate:10.2f}   (target >= 0.75)")


if __name__ == "__main__":
    main()
