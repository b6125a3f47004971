"""Soak: a long run of the XOR net with the window open (offscreen) and every panel live;
reports resident memory at the start and the end. Target: growth under 50 MB over 10^6 steps.
Not part of the test run (it takes several minutes).

    python bench/soak.py [--steps 1000000]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1_000_000)
    args = parser.parse_args()
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
    start_mb, start = rss_mb(), time.perf_counter()
    start_step = window.controller.latest.step if window.controller.latest else 0
    print(f"start: step {start_step}, {start_mb:.1f} MB resident", flush=True)
    while True:
        wait(5000)
        p = window.controller.latest
        if p is None or not window.controller.running:
            print("training stopped early:", window.statusBar().currentMessage())
            break
        print(f"step {p.step:>9}  {rss_mb():7.1f} MB  {p.step / (time.perf_counter() - start):7.0f} steps/s",
              flush=True)
        if p.step - start_step >= args.steps:
            break
    window.controller.pause()
    wait(500)
    end_mb = rss_mb()
    print(f"end: {end_mb:.1f} MB resident, growth {end_mb - start_mb:+.1f} MB (target < 50 MB)")
    window.undo_stack.setClean()
    window.close()


if __name__ == "__main__":
    main()
