"""Live training throughput with every neuron's map on the canvas, against the same window with
the maps off. Target (issue 18): at least 0.75 of the throughput without them.

The net is the 2-8-8-1 tanh classifier on the spiral data, minibatch 32, every panel open,
"Show every: frame". The two settings take turns in one run (ROUNDS rounds of ROUND_SECONDS
each, maps off then on): on a shared machine the speed of one loop drifts by a third from one
second to the next, so a measurement of one followed by the other compares two machines. The
ratio is of the medians of the rounds; the frames drawn per second say that the maps were
redrawn at the window's frame rate, not skipped.

    QT_QPA_PLATFORM=offscreen python bench/maps_speed.py [--rounds N] [--seconds S]

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_speed import spiral_2881, wait  # noqa: E402  (the same net and event-loop wait)


def live_round(window, wait, seconds: float) -> tuple[float, int]:
    """Steps per second trained while the window draws, and the frames it drew."""
    controller = window.controller
    before = controller.fresh_progress()
    drawn = [0]
    counting = lambda _: drawn.__setitem__(0, drawn[0] + 1)  # noqa: E731
    controller.progress.connect(counting)
    start = time.perf_counter()
    controller.run()
    wait(lambda: time.perf_counter() - start >= seconds)
    controller.pause()
    elapsed = time.perf_counter() - start
    wait(lambda: not controller.running)
    controller.progress.disconnect(counting)
    steps = controller.fresh_progress().step - (before.step if before else 0)
    return steps / elapsed, round(drawn[0] / elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])  # noqa: F841
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.files.new_from(spiral_2881(), "bench")
    window.view.fit()
    settle = time.perf_counter()
    wait(lambda: time.perf_counter() - settle >= 0.5)
    rates: dict[bool, list[float]] = {False: [], True: []}
    frames: dict[bool, list[int]] = {False: [], True: []}
    for _ in range(args.rounds):
        for on in (False, True):
            window.training.maps.action.setChecked(on)
            rate, refreshed = live_round(window, wait, args.seconds)
            rates[on].append(rate)
            frames[on].append(refreshed)
    window.undo_stack.setClean()
    window.close()
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"maps off   {off:10.0f} steps/s   ({statistics.median(frames[False]):.0f} frames/s drawn;"
          f" medians of {args.rounds} rounds of {args.seconds:g} s)")
    print(f"maps on    {on:10.0f} steps/s   ({statistics.median(frames[True]):.0f} frames/s drawn, "
          f"every neuron's map in each)")
    print(f"ratio      {on / off:10.2f}   (target >= 0.75)")


if __name__ == "__main__":
    main()
