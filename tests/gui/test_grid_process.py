"""The window's compiled grids run in a worker process (gui/live/grid_process.py): none is
started before the training process has compiled the kernel; once it has, the window's first
grid is NumPy's while the worker loads the kernel, later ones are the worker's, with the same
numbers, and the window itself never imports Numba."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.engine import compiled
from gui.live.grid_process import GridProcess

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(compiled.numba_version() == "", reason="Numba not installed")


def test_no_worker_before_the_kernel_is_compiled(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # a cache with nothing compiled
    grids = GridProcess()
    assert grids.runner() is None and grids._state == "idle"  # nothing started
    grids.shutdown()


WINDOW = """
import sys, time
import numpy as np
from core.engine import compile_plan
from core.surface import grid_losses, random_plane
from gui.live import grid_process
from gui.live.surface_panel import _quiet_grid
from tests.core.test_surface import layered_net
plan = compile_plan(layered_net([2, 6, 4, 1]))
theta = plan.flatten(plan.pack(layered_net([2, 6, 4, 1])))
plane = random_plane(plan, theta, np.random.default_rng(0))
x = np.random.default_rng(1).normal(size=(300, 2)); y = (x[:, :1] * x[:, 1:] > 0) * 1.0
g = np.linspace(-1, 1, 7)
first = _quiet_grid(plan, plane, g, g, x, y, "bce", grid_process.SHARED.runner())
started = grid_process.SHARED._state != "idle"
deadline = time.monotonic() + 600
while grid_process.SHARED.runner() is None and time.monotonic() < deadline:
    time.sleep(0.05)
later = _quiet_grid(plan, plane, g, g, x, y, "bce", grid_process.SHARED.runner())
numpy32 = grid_losses(plan, plane, g, g, x, y, "bce", dtype=np.float32, run_compiled=None)
print(started, grid_process.SHARED.runner() is not None, "numba" in sys.modules)
print(float(np.max(np.abs(first / numpy32 - 1))), float(np.max(np.abs(later / numpy32 - 1))))
grid_process.SHARED.shutdown()
"""


def test_the_windows_grids_move_to_the_worker_once_it_has_loaded_the_kernel():
    env = {k: v for k, v in os.environ.items() if k != compiled.ENGINE_VARIABLE}
    env["QT_QPA_PLATFORM"] = "offscreen"
    warm = subprocess.run([sys.executable, "-c", "from core.training.kernel_warmup import "
                           "warm_up; warm_up()"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert warm.returncode == 0, warm.stderr
    out = subprocess.run([sys.executable, "-c", WINDOW], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    flags, differences = out.stdout.splitlines()[-2:]
    assert flags == "True True False"  # started after the first grid, ready, no Numba here
    first, later = map(float, differences.split())
    assert first == 0.0  # the first grid was NumPy's own
    assert 0.0 < later < 1e-5  # the worker's: the kernel's float32, not NumPy's
