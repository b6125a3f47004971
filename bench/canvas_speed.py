"""Canvas speed: time to open a fully connected graph in the window and to repaint the view,
at about 1k, 10k and 50k edges. Reference in the same run: repainting the empty canvas.

Target (canvas issue): a 784-64-10 graph (about 51k edges) opens in under 3 s and pans and
zooms smoothly.

    QT_QPA_PLATFORM=offscreen python bench/canvas_speed.py

Qt and the window are imported inside main(): the window's training process runs this
script's top level again (multiprocessing does that) and must not load Qt.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.project import Project  # noqa: E402
from core.templates import layered  # noqa: E402

SHAPES = [[20, 40, 5], [100, 100, 10], [784, 64, 10]]


def repaint_ms(window, repeats: int = 10) -> tuple[float, float]:
    """A zoom step's repaint, and the time until a big graph's edges are drawn for the new
    zoom too (they are drawn a slice at a time between events: gui/canvas/line_picture.py;
    the repaint shows the last picture scaled meanwhile). Milliseconds, means."""
    from PySide6.QtWidgets import QApplication

    vp = window.view.viewport()
    picture = getattr(window.scene.batched, "picture", None)  # None: drawn at once (items)
    painted, drawn = 0.0, 0.0
    for i in range(repeats):
        start = time.perf_counter()
        window.view.zoom(1.05 if i % 2 else 1 / 1.05)  # a zoom step forces a full repaint
        vp.repaint()
        painted += time.perf_counter() - start
        if picture is not None:
            while picture.slices.running:
                QApplication.processEvents()
            vp.repaint()
        drawn += time.perf_counter() - start
    return painted / repeats * 1e3, drawn / repeats * 1e3


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    empty, _ = repaint_ms(window)
    print(f"{'graph':<12}{'edges':>8}{'open s':>9}{'repaint ms':>12}{'vs empty':>10}"
          f"{'edges drawn ms':>16}{'mode':>10}")
    print(f"{'(empty)':<12}{0:>8}{'':>9}{empty:>12.1f}{1:>9.1f}x")
    for sizes in SHAPES:
        net = layered(sizes)
        start = time.perf_counter()
        window.files.new_from(Project(net), "bench")
        window.view.fit()
        app.processEvents()
        window.view.viewport().repaint()
        opened = time.perf_counter() - start
        ms, drawn = repaint_ms(window)
        mode = "batched" if window.scene.batched is not None else "items"
        print(f"{'-'.join(map(str, sizes)):<12}{len(net.edges):>8}{opened:>9.2f}{ms:>12.1f}"
              f"{ms / empty:>9.1f}x{drawn:>16.1f}{mode:>10}")
    window.undo_stack.setClean()
    window.close()


if __name__ == "__main__":
    main()
