"""The window's compiled loss grids, computed in a worker process of their own (issue 14).

The window never imports Numba (tests/gui/test_no_numba.py): importing it and loading the
kernel from the disk cache costs one to two seconds of the interpreter, and a thread of the
window doing it held the GIL for 100-150 ms at a time (bench/grid_stall.py), a visible stall.
So one worker process, started from the training process's forkserver, loads the kernel and
runs it; the window's grid thread prepares each grid (NumPy, a few ms) and waits for the
worker's answer without holding the GIL.

The worker starts once the training process has compiled the kernel (it leaves a mark next to
the generated module, core.engine.compiled.marked); until the worker has loaded it, and for
good if it ever fails, the window's grids are NumPy's. One worker serves every window of the
process, at the lowest priority, as the grid thread runs (core.engine.compiled_grid.serve).
"""
from __future__ import annotations

import functools
import threading
from typing import Callable

from core.engine import compiled, compiled_grid
from gui.live.training_link import CONTEXT


class GridProcess:
    """The worker, started on demand; runner() says whether to use it now."""

    def __init__(self) -> None:
        self._process = None
        self._pipe = None  # our end; one grid at a time goes through it (_busy)
        self._state = "idle"  # idle -> starting -> ready, or failed
        self._lock = threading.Lock()
        self._busy = threading.Lock()

    def runner(self) -> Callable | None:
        """run_compiled for core.surface.grid_losses, or None (NumPy) while the worker is not
        ready: not started (the kernel not compiled yet), starting and loading, or failed.
        Cheap after the first call (which names the generated module: some 20-40 ms)."""
        name = compiled.generated()[0]
        with self._lock:
            if self._state == "ready":
                return functools.partial(self._run, name)
            if (self._state == "idle" and compiled_grid.unavailable_here() is None
                    and compiled.marked(name)):
                self._state = "starting"
                # Starting a process waits on the forkserver (up to a second when the machine
                # is busy), then on the worker's import of Numba: a thread of its own, at
                # normal priority, so the GIL it takes now and then is never held by a thread
                # the system starves (the grid thread's priority is the lowest).
                threading.Thread(target=self._start, daemon=True,
                                 name="start the grid worker").start()
            return None

    def _start(self) -> None:
        try:
            ours, theirs = CONTEXT.Pipe()
            process = CONTEXT.Process(target=compiled_grid.serve,
                                      args=(theirs, str(compiled.folders()[0])), daemon=True,
                                      name="loss grid worker")
            process.start()
            theirs.close()
            ready = ours.recv()  # the worker has loaded the kernel (or could not)
        except (OSError, EOFError):
            ready = False
        with self._lock:
            if self._state != "starting" or not ready:  # shut down meanwhile, or failed
                self._state = "failed"
                if ready:
                    process.terminate()
                return
            self._process, self._pipe, self._state = process, ours, "ready"

    def _run(self, name: str, *grid):
        """The worker's grid, or None (NumPy) if it died or refused: then for good."""
        try:
            with self._busy:
                self._pipe.send((name, *grid))
                ok, values = self._pipe.recv()
        except (OSError, EOFError, AttributeError):
            ok, values = False, None
        if not ok:
            with self._lock:
                self._state = "failed"
            return None
        return values

    def shutdown(self) -> None:
        with self._lock:
            if self._process is not None:
                self._process.terminate()
            self._process, self._pipe, self._state = None, None, "failed"


SHARED = GridProcess()  # the one worker of this window process (a daemon: it ends with it)
