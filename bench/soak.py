"""Soak: a long run of the XOR net with the window open (offscreen) and every panel live;
reports resident memory at the start and the end, of the window's process and of its training
process. Target: growth under 50 MB over 10^6 steps. Not part of the test run (it takes several
minutes).

    python bench/soak.py [--steps 1000000]

Qt is imported inside functions: the training process runs this script's top level again
(multiprocessing does that) and must not load Qt.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))



def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wait(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1_000_000)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])  # noqa: F841
    from core.templates import xor
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.files.new_from(xor(), "soak")
    wait(500)
    window.controller.run()
    wait(2000)  # the first panels and buffers exist: measure from here
    trainer = window.controller.process_id
    start_mb, start_trainer_mb, start = rss_mb(), rss_mb(trainer), time.perf_counter()
    start_step = window.controller.latest.step if window.controller.latest else 0
    print(f"start: step {start_step}, window {start_mb:.1f} MB, training process "
          f"{start_trainer_mb:.1f} MB resident", flush=True)
    while True:
        wait(5000)
        p = window.controller.latest
        if p is None or not window.controller.running:
            print("training stopped early:", window.statusBar().currentMessage())
            break
        print(f"step {p.step:>9}  {rss_mb():7.1f} MB  {rss_mb(trainer):7.1f} MB  "
              f"{p.step / (time.perf_counter() - start):7.0f} steps/s", flush=True)
        if p.step - start_step >= args.steps:
            break
    window.controller.pause()
    wait(500)
    end_mb, end_trainer_mb = rss_mb(), rss_mb(trainer)
    print(f"end: window {end_mb:.1f} MB resident, growth {end_mb - start_mb:+.1f} MB; training "
          f"process {end_trainer_mb:.1f} MB, growth {end_trainer_mb - start_trainer_mb:+.1f} MB "
          "(target < 50 MB each)")
    window.undo_stack.setClean()
    window.close()


if __name__ == "__main__":
    main()
