"""How long the window's event loop stalls while the loss grid's work runs on a background
thread, as the surface panel runs it (a low-priority thread of the window's process):
  nothing            the machine's own noise, for 2.5 s
  numpy grid         a NumPy float32 grid (before the kernel, and until the worker is ready)
  worker grid        a grid on the compiled kernel in the grid worker process (the thread
                     prepares it and waits for the answer)
  start worker       starting the worker and waiting until it has loaded the kernel
  load in window     what the worker spares the window: importing Numba and loading the
                     kernel on a thread of the window's own process
A 5 ms QTimer on the main thread; its longest gap between ticks while the work runs. Each
scenario in a fresh process (a process loads the kernel once), scenarios interleaved, medians
of the rounds.

Needs the kernel compiled into the disk cache first (the training process does it; here
kernel_warmup.warm_up() in a child process). The 2-16-8-1 net, a random plane, 256 samples
(the window's subsample), 51x51.

    python bench/grid_stall.py            # --rounds N
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, threading, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from core.engine import compile_plan, compiled, compiled_grid
from core.surface import grid_losses, random_plane
from gui.live import grid_process
from surface_speed import layered
scenario = {scenario!r}
rng = np.random.default_rng(0)
net = layered([2, 16, 8, 1], rng)
plan = compile_plan(net)
theta = plan.flatten(plan.pack(net))
plane = random_plane(plan, theta, rng)
x = rng.normal(size=(256, 2)); y = (x[:, :1] * x[:, 1:2] > 0) * 1.0
g = np.linspace(-1, 1, 51)
from multiprocessing import forkserver
forkserver.ensure_running()  # the window's is running: its training process came from it
runner = None
if scenario == "worker grid":
    while runner is None:
        runner = grid_process.SHARED.runner()
        time.sleep(0.05)

def work():
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # as the panel's pool
    if scenario == "numpy grid":
        grid_losses(plan, plane, g, g, x, y, "bce", dtype=np.float32, run_compiled=None)
    elif scenario == "worker grid":
        grid_losses(plan, plane, g, g, x, y, "bce", dtype=np.float32, run_compiled=runner)
    elif scenario == "start worker":  # started by the window's thread (start), as refit does
        while grid_process.SHARED.runner() is None:
            time.sleep(0.01)
    elif scenario == "load in window":
        compiled_grid.kernel()
    else:
        time.sleep(2.5)  # about as long as starting the worker: the longest gap grows with time

app = QApplication([])
ticks, span = [], {{}}
timer = QTimer(interval=5)
timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
def start():
    if scenario == "start worker":
        grid_process.SHARED.runner()
    def run():
        span["start"] = time.perf_counter(); work(); span["end"] = time.perf_counter()
    threading.Thread(target=run, daemon=True).start()
def finish():
    if "end" in span:
        app.quit()
    else:
        QTimer.singleShot(20, finish)
timer.start()
QTimer.singleShot(200, start)
QTimer.singleShot(300, finish)
app.exec()
inside = [t for t in ticks if span["start"] <= t <= span["end"] + 0.005]
gaps = np.diff([span["start"], *inside, span["end"]])
print(json.dumps({{"stall": float(gaps.max()), "seconds": span["end"] - span["start"],
                   "over50": int(np.sum(gaps > 0.05)),
                   "numba": "numba" in sys.modules}}))
grid_process.SHARED.shutdown()
"""

SCENARIOS = ("nothing", "numpy grid", "worker grid", "start worker", "load in window")


def child(scenario: str) -> dict:
    code = CHILD.format(root=str(ROOT), bench=str(ROOT / "bench"), scenario=scenario)
    env = {**os.environ}
    env.pop("BACKPROP_ENGINE", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=600)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    warm = subprocess.run([sys.executable, "-c", "from core.training.kernel_warmup import "
                           "warm_up; warm_up()"], cwd=ROOT, timeout=900)
    if warm.returncode != 0:
        raise SystemExit("could not compile the kernels")
    results: dict[str, list[dict]] = {s: [] for s in SCENARIOS}
    for _ in range(args.rounds):
        for scenario in SCENARIOS:
            results[scenario].append(child(scenario))
    load = os.getloadavg()[0]
    print(f"window event loop (5 ms timer) while the grid's work runs on a nice-19 thread; "
          f"median of {args.rounds} rounds; load {load:.1f}")
    print(f"{'work':<16}{'work ms':>9}{'longest stall ms':>18}{'stalls > 50 ms':>16}"
          f"{'Numba in window':>17}")
    for scenario, runs in results.items():
        print(f"{scenario:<16}{statistics.median(r['seconds'] for r in runs) * 1e3:>9.0f}"
              f"{statistics.median(r['stall'] for r in runs) * 1e3:>18.1f}"
              f"{statistics.median(r['over50'] for r in runs):>16}"
              f"{str(any(r['numba'] for r in runs)):>17}")


if __name__ == "__main__":
    main()
