"""What the loss-surface panel's arrows add to a re-slice (issue 15): core.surface.arrows_at,
the gradient and 2x2 Hessian of the loss restricted to the plane (one forward pass carried to
second order along the plane, core.engine.plane_taylor; until branch arrows-fast a gradient
and two Hessian-vector products, five exact gradients) as the panel computes it on its
background thread, against the re-slice's own grid (51x51, core.surface.grid_losses in
float32 as the panel's _quiet_grid) in the same run. Target: at most 20 ms added.

Rows: surface_speed.py's nets (up to 197 parameters, one a DAG with skips) and two larger
ones, the app's sample (256 rows) and 1000 rows, random and exact planes; "+ batch" adds the
minibatch arrow (two gradients more: the minibatch's of 32 rows and the full one for the
angle). Interleaved rounds (every row once per round), medians of wall and CPU time, BLAS
threads fixed by threadpoolctl (--threads, default 1 as the window sets it) and printed, the
load average before and after. While training the panel recomputes the arrows at most 5
times a second (its drawing rate): "core@5/s" is that share of one core, before the panel's
cap (gui/live/surface_arrows.py: DUTY, a tenth). The script runs unchanged on an older tree
(copy it there) for before/after runs.

    python bench/plane_curvature_speed.py      # --rounds N, --threads N
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

from bench.surface_speed import NETS, layered  # noqa: E402
from core.engine import compile_plan  # noqa: E402
from core.surface import (MAX_SAMPLES, arrows_at, exact_plane, grid_losses,  # noqa: E402
                          random_plane, training_sample)

GRID = 51
TARGET = 0.020
DRAWS_PER_SECOND = 5
BIG = [("64-32-16-10", [64, 32, 16, 10], False), ("784-64-10", [784, 64, 10], False)]


def rows(rng: np.random.Generator) -> dict:
    """(net, plane, samples) -> (params, grid thunk, arrows thunk, arrows + batch thunk)."""
    out = {}
    g = np.linspace(-1, 1, GRID)
    for label, sizes, skips in NETS + BIG:
        net = layered(sizes, rng, skips)
        plan = compile_plan(net)
        theta = plan.flatten(plan.pack(net))
        first = plan.levels[0].edge_pos
        planes = {"random": random_plane(plan, theta, rng),
                  "exact": exact_plane(plan, theta, int(first[0]), int(first[-1]))}
        x = rng.normal(size=(1000, sizes[0]))
        y = (x[:, :1] * x[:, 1:2] > 0).astype(float)
        if sizes[-1] > 1:
            y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], 1000)]
        loss = "bce" if sizes[-1] == 1 else "mse"
        data = {"1000": (plan.inputs_from(x), y), str(MAX_SAMPLES): training_sample(plan, x, y)}
        here = theta + 0.01 * rng.normal(size=theta.size)  # moved on since the slice
        for kind, plane in planes.items():
            for n, (xs, ys) in data.items():
                batch = (xs[:32], ys[:32])
                out[label, kind, n] = (plan.n_parameters, *jobs(plan, plane, here, xs, ys,
                                                                 batch, loss, g))
    return out


def jobs(plan, plane, here, x, y, batch, loss, g) -> tuple:
    """The re-slice's grid, the arrows, and the arrows with the minibatch's."""
    return (_quiet(lambda: grid_losses(plan, plane, g, g, x, y, loss, dtype=np.float32)),
            _quiet(lambda: arrows_at(plan, plane, here, (x, y), loss)),
            _quiet(lambda: arrows_at(plan, plane, here, (x, y), loss, batch)))


def _quiet(run):
    def quiet():
        with np.errstate(all="ignore"):  # as the panel's background jobs
            run()
    return quiet


def interleaved(table: dict, rounds: int) -> tuple[dict, dict]:
    """Medians of wall time and of this process's CPU time (on a shared machine the wall
    time also counts other processes' turns), every row once per round."""
    walls = {(key, k): [] for key in table for k in range(3)}
    cpus = {(key, k): [] for key in table for k in range(3)}
    for _ in range(rounds):
        for key, (_, *runs) in table.items():
            for k, run in enumerate(runs):
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                walls[key, k].append(time.perf_counter() - wall)
                cpus[key, k].append(time.process_time() - cpu)
    return ({key: statistics.median(t) for key, t in walls.items()},
            {key: statistics.median(t) for key, t in cpus.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (the window: 1)")
    args = parser.parse_args()
    table = rows(np.random.default_rng(0))
    load = os.getloadavg()[0]
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        for _, *runs in table.values():  # warm up
            for run in runs:
                run()
        t, cpu = interleaved(table, args.rounds)
    print(f"arrows_at (+ batch: two gradients more) against a {GRID}x{GRID} float32 grid, BLAS "
          f"threads {blas} (threadpoolctl), median of {args.rounds} interleaved rounds")
    print(f"{'net':<15}{'params':>7}{'plane':>8}{'samples':>9}{'grid ms':>9}{'arrows ms':>11}"
          f"{'+batch ms':>11}{'of grid':>9}{'target':>8}{'core@5/s':>10}{'CPU ms':>15}")
    misses = 0
    for key, (params, *_) in table.items():
        label, kind, n = key
        grid, arrows, batch = (t[key, k] for k in range(3))
        ok = batch <= TARGET
        misses += not ok
        print(f"{label:<15}{params:>7}{kind:>8}{n:>9}{grid * 1e3:>9.1f}{arrows * 1e3:>11.2f}"
              f"{batch * 1e3:>11.2f}{arrows / grid:>9.3f}{'ok' if ok else 'MISS':>8}"
              f"{100 * DRAWS_PER_SECOND * batch:>9.1f}%"
              f"{cpu[key, 1] * 1e3:>8.2f}/{cpu[key, 2] * 1e3:.2f}")
    print(f"{len(table) - misses} of {len(table)} rows add at most {TARGET * 1e3:.0f} ms of "
          f"wall time (with the minibatch arrow; CPU ms: arrows/+batch); load average {load:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
