"""Loss-surface grid speed on the app's own path (issue 14): a 51x51 grid of
core.surface.grid_losses, as the window's surface panel calls it (gui/live/surface_panel.py:
_quiet_grid, float32, overflow ignored), with the window's BLAS setting: one thread
(threadpoolctl, gui/live/training_link.py). The compiled kernel is serial (no Numba threads).

Each row is timed three ways, interleaved in every round: float32 on the compiled kernel
(core.engine.compiled_grid: what the window runs once the kernel is loaded), float32 on NumPy
(BACKPROP_ENGINE=numpy: the code the window ran before the kernel, and runs until it is
loaded; core.engine.stacked is unchanged), and float64 on NumPy (the reference precision).
The ratio is NumPy's median over the kernel's. The window runs the grid on a background thread
at low priority; here it runs on the main thread. Besides wall time, the compiled row's
process CPU time: on this shared machine, the wall time includes waiting for a core.

Target: nets up to 200 parameters, up to 1000 samples, at most 150 ms. Rows cover the app's
subsample (core.surface.MAX_SAMPLES = 256) and 1000 samples, the random and PCA planes (every
weight moves; PCA moves the biases too) and the exact plane of two weights of the first hidden
level (its worst case: everything downstream of them moves).

    python bench/surface_speed.py            # --rounds N, --threads N
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.engine import compile_plan, compiled  # noqa: E402
from core.network import Network  # noqa: E402
from core.surface import (MAX_SAMPLES, exact_plane, grid_losses, pca_plane,  # noqa: E402
                          random_plane, training_sample)

GRID = 51
TARGET = 0.150
PATHS = ("compiled", "numpy32", "numpy64")


def layered(sizes: list[int], rng: np.random.Generator, skips: bool = False) -> Network:
    """tanh hidden, sigmoid output; with skips, every layer also feeds every later one."""
    net, layers = Network(), []
    for i, size in enumerate(sizes):
        role = "input" if i == 0 else "output" if i == len(sizes) - 1 else "hidden"
        act = "identity" if role == "input" else "sigmoid" if role == "output" else "tanh"
        layer = [net.add_neuron(role, act, bias=0.1 * rng.normal()).id for _ in range(size)]
        sources = [s for earlier in layers for s in earlier] if skips else (
            layers[-1] if layers else [])
        pairs = [(s, t) for t in layer for s in sources]
        if pairs:
            net.connect_many(pairs, list(rng.normal(size=len(pairs)) * 0.5))
        layers.append(layer)
    return net


NETS = [("2-8-8-1", [2, 8, 8, 1], False), ("2-16-8-1", [2, 16, 8, 1], False),
        ("10-10-5-1", [10, 10, 5, 1], False), ("2-11-10-1 dag", [2, 11, 10, 1], True)]


def rows(rng: np.random.Generator) -> dict:
    """(net, plane, samples, path) -> (params, thunk) for every net x plane x samples x path."""
    out = {}
    g = np.linspace(-1, 1, GRID)
    for label, sizes, skips in NETS:
        net = layered(sizes, rng, skips)
        plan = compile_plan(net)
        theta = plan.flatten(plan.pack(net))
        first = plan.levels[0].edge_pos
        walk = theta + np.cumsum(rng.normal(size=(30, theta.size)), axis=0) * 0.05
        planes = {"random": random_plane(plan, theta, rng), "pca": pca_plane(walk),
                  "exact": exact_plane(plan, theta, int(first[0]), int(first[-1]))}
        x = rng.normal(size=(1000, sizes[0]))
        y = (x[:, :1] * x[:, 1:2] > 0).astype(float)
        data = {str(MAX_SAMPLES): training_sample(plan, x, y),
                "1000": (plan.inputs_from(x), y)}
        for kind, plane in planes.items():
            for n, (xs, ys) in data.items():
                for path in PATHS:
                    out[label, kind, n, path] = (plan.n_parameters,
                                                 _grid(plan, plane, g, xs, ys, path))
    return out


def _grid(plan, plane, g, x, y, path):
    dtype = np.float64 if path == "numpy64" else np.float32

    def run():
        if path != "compiled":
            os.environ[compiled.ENGINE_VARIABLE] = "numpy"
        try:
            with np.errstate(all="ignore"):  # as the window's _quiet_grid
                grid_losses(plan, plane, g, g, x, y, "bce", dtype=dtype)
        finally:
            os.environ.pop(compiled.ENGINE_VARIABLE, None)
    return run


def interleaved(table: dict, rounds: int) -> tuple[dict, dict]:
    """Median wall time and median process CPU time of each row, every row once a round."""
    wall = {key: [] for key in table}
    cpu = {key: [] for key in table}
    for _ in range(rounds):
        for key, (_, run) in table.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[key].append(time.perf_counter() - start)
            cpu[key].append(time.process_time() - start_cpu)
    return ({key: statistics.median(t) for key, t in wall.items()},
            {key: statistics.median(t) for key, t in cpu.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (the window: 1)")
    args = parser.parse_args()
    os.environ.pop(compiled.ENGINE_VARIABLE, None)
    table = rows(np.random.default_rng(0))
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        for _, run in table.values():  # warm up (and the compiled kernel compiled or loaded)
            run()
        wall, cpu = interleaved(table, args.rounds)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"51x51 grid, bce, BLAS threads {blas} (threadpoolctl), compiled kernel serial, grid "
          f"on the calling thread; median of {args.rounds} interleaved rounds; load {load:.1f}")
    print(f"{'net':<15}{'params':>7}{'plane':>8}{'samples':>9}{'compiled':>10}{'cpu':>7}"
          f"{'numpy32':>9}{'ratio':>7}{'numpy64':>9}{'target':>8}   (ms)")
    misses = 0
    for label, sizes, _ in NETS:
        for kind in ("random", "pca", "exact"):
            for n in (str(MAX_SAMPLES), "1000"):
                key = (label, kind, n)
                t, t32, t64 = (wall[key + (path,)] for path in PATHS)
                ok = t <= TARGET
                misses += not ok
                print(f"{label:<15}{table[key + ('compiled',)][0]:>7}{kind:>8}{n:>9}"
                      f"{t * 1e3:>10.1f}{cpu[key + ('compiled',)] * 1e3:>7.1f}{t32 * 1e3:>9.1f}"
                      f"{t32 / t:>7.1f}{t64 * 1e3:>9.1f}{'ok' if ok else 'MISS':>8}")
    total = len(NETS) * 6
    print(f"{total - misses} of {total} compiled float32 rows within {TARGET * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
