"""Curvature speed (issue 15) on the real functions, with the window's BLAS setting: one
thread (threadpoolctl, as gui/live/training_link.py sets it).

Targets:
  re-slice   the 2x2 Hessian on the plane (core.curvature.plane_curvature) adds at most 20 ms
             to a re-slice: core.surface's grid (61x61, float32, as the paused window computes
             it) on the window's subsample (core.surface.training_sample, 256 rows), without
             and with plane_curvature on that same subsample;
  hessian    the whole Hessian (TrainingLoss.hessian) of a ~200-parameter net on 1,000
             samples within 200 ms; beside it, the way core.curvature first computed it
             (two engine gradients per column, copied here) as the ratio's reference (the
             same code in every tree, so ratios of runs of two trees compare);
  top        the top eigenvalue (top_eigenvalues, Lanczos) of a ~10k-parameter net on 1,000
             samples within 1 s.
Every row runs once per round, rounds interleaved (a row's columns in the opposite order
every other round); medians of wall time and of this
process's CPU time (time.process_time: on a shared machine the wall time also counts the
other processes' turns; CPU time is what the work costs a core of its own). The load average
is printed before and after; ratios are measured side by side in the same rounds.

    python bench/curvature_speed.py          # --rounds N, --threads N
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

from bench.surface_speed import layered  # noqa: E402
from core.curvature import RELATIVE_STEP, TrainingLoss, plane_curvature  # noqa: E402
from core.curvature import top_eigenvalues  # noqa: E402
from core.engine import compile_plan, loss_and_gradients  # noqa: E402
from core.surface import exact_plane, grid_losses, random_plane, training_sample  # noqa: E402

GRID = 61  # gui/live/surface_panel.py: GRID_PAUSED
TARGETS = {"re-slice": 0.020, "hessian": 0.200, "top": 1.0}
RESLICE_NETS = [("2-8-8-1", [2, 8, 8, 1], False), ("2-11-10-1 dag", [2, 11, 10, 1], True),
                ("64-32-10", [64, 32, 10], False), ("784-64-10", [784, 64, 10], False)]
HESSIAN_NETS = [("2-12-12-1", [2, 12, 12, 1], False), ("2-11-10-1 dag", [2, 11, 10, 1], True),
                ("10-10-8-1", [10, 10, 8, 1], False)]
TOP_NETS = [("2-100-96-1", [2, 100, 96, 1], False), ("784-12-10", [784, 12, 10], False)]


def problem(sizes, skips, rng, samples=1000):
    net = layered(sizes, rng, skips)
    plan = compile_plan(net)
    x = rng.normal(size=(samples, sizes[0]))
    y = (x[:, :1] * x[:, -1:] > 0).astype(float) if sizes[-1] == 1 else \
        np.eye(sizes[-1])[rng.integers(0, sizes[-1], samples)]
    return plan, plan.flatten(plan.pack(net)), x, y


def reslice_rows(rng) -> dict:
    """(net, plane) -> {"grid": thunk, "grid + 2x2": thunk, "2x2": thunk}."""
    out = {}
    g = np.linspace(-1, 1, GRID)
    for label, sizes, skips in RESLICE_NETS:
        plan, theta, x, y = problem(sizes, skips, rng)
        xs, ys = training_sample(plan, x, y)  # the window's subsample
        loss = "bce" if sizes[-1] == 1 else "softmax_ce"
        first = plan.levels[0].edge_pos
        for kind, plane in (("exact", exact_plane(plan, theta, int(first[0]), int(first[-1]))),
                            ("random", random_plane(plan, theta, rng))):
            def grid(plane=plane, plan=plan, xs=xs, ys=ys, loss=loss):
                with np.errstate(all="ignore"):  # as the window's _quiet_grid
                    grid_losses(plan, plane, g, g, xs, ys, loss, dtype=np.float32)

            def curvature(plane=plane, plan=plan, xs=xs, ys=ys, loss=loss):
                plane_curvature(TrainingLoss(plan, xs, ys, loss), plane.center, plane.d1,
                                plane.d2)

            out[(label, plan.n_parameters, kind)] = {
                "grid": grid, "grid + 2x2": lambda a=grid, b=curvature: (a(), b()),
                "2x2": curvature}
    return out


def old_hessian(f: TrainingLoss, theta: np.ndarray) -> np.ndarray:
    """core.curvature's first whole Hessian: two engine gradients per column (the reference
    of the ratio, not a straw man: it was the shipped code)."""
    plan = f.plan

    def gradient(t):
        _, grads = loss_and_gradients(plan, plan.unflatten(t), f.x, f.y, f.loss)
        return np.concatenate([plan.edge_vector(grads.weights), grads.biases[plan.bias_rows]])

    h = np.empty((theta.size, theta.size))
    for i in range(theta.size):
        e = RELATIVE_STEP * (1.0 + abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += e
        down[i] -= e
        h[:, i] = (gradient(up) - gradient(down)) / (2 * e)
    return 0.5 * (h + h.T)


def hessian_rows(rng) -> dict:
    out = {}
    for label, sizes, skips in HESSIAN_NETS:
        plan, theta, x, y = problem(sizes, skips, rng)
        f = TrainingLoss(plan, plan.inputs_from(x), y, "bce")
        new, old = f.hessian(theta), old_hessian(f, theta)
        assert np.allclose(new, old, rtol=1e-6, atol=1e-8 * np.abs(old).max()), label
        out[(label, plan.n_parameters)] = {"hessian": lambda f=f, t=theta: f.hessian(t),
                                           "before": lambda f=f, t=theta: old_hessian(f, t)}
    return out


def top_rows(rng) -> dict:
    out = {}
    for label, sizes, skips in TOP_NETS:
        plan, theta, x, y = problem(sizes, skips, rng)
        loss = "bce" if sizes[-1] == 1 else "softmax_ce"
        f = TrainingLoss(plan, plan.inputs_from(x), y, loss)
        out[(label, plan.n_parameters)] = {"top": lambda f=f, t=theta: top_eigenvalues(f, t, 1),
                                           "gradient": lambda f=f, t=theta: f.gradient(t)}
    return out


def interleaved(tables: list[dict], rounds: int) -> list[dict]:
    """{row: {column: (median wall seconds, median CPU seconds)}} per table."""
    times = [{row: {k: ([], []) for k in cols} for row, cols in table.items()}
             for table in tables]
    for r in range(rounds):
        for table, out in zip(tables, times):
            for row, cols in table.items():
                # Columns in the opposite order every other round: the first call after
                # another row pays for memory the row before freed (784-64-10's grid measured
                # 2.5x slower first than second in a fixed order).
                for k, run in (list(cols.items())[::-1] if r % 2 else cols.items()):
                    wall, cpu = time.perf_counter(), time.process_time()
                    run()
                    out[row][k][0].append(time.perf_counter() - wall)
                    out[row][k][1].append(time.process_time() - cpu)
    return [{row: {k: (statistics.median(w), statistics.median(c)) for k, (w, c) in cols.items()}
             for row, cols in t.items()} for t in times]


def verdict(seconds: tuple[float, float], target: float) -> str:
    """Wall/CPU against the target."""
    return "/".join("ok" if s <= target else "MISS" for s in seconds)


def ms(seconds: tuple[float, float]) -> str:
    return f"{seconds[0] * 1e3:.1f}/{seconds[1] * 1e3:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (the window: 1)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    load_before = os.getloadavg()
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        tables = [reslice_rows(rng), hessian_rows(rng), top_rows(rng)]
        for table in tables:  # warm up
            for cols in table.values():
                for run in cols.values():
                    run()
        reslice, hessian, top = interleaved(tables, args.rounds)
    load_after = os.getloadavg()
    print(f"BLAS threads {blas} (threadpoolctl); median of {args.rounds} interleaved rounds; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
          f"({os.cpu_count()} CPUs)")
    print(f"\nre-slice: {GRID}x{GRID} grid, float32, 256-row subsample; target: the 2x2 adds "
          f"at most {TARGETS['re-slice'] * 1e3:.0f} ms. Times: wall/CPU ms")
    print(f"{'net':<15}{'params':>8}{'plane':>8}{'grid':>15}{'grid + 2x2':>15}{'2x2':>13}"
          f"{'added CPU':>11}{'target':>11}")
    for (label, n, kind), t in reslice.items():
        added = t["grid + 2x2"][1] - t["grid"][1]
        print(f"{label:<15}{n:>8,}{kind:>8}{ms(t['grid']):>15}{ms(t['grid + 2x2']):>15}"
              f"{ms(t['2x2']):>13}{added * 1e3:>11.1f}{verdict(t['2x2'], TARGETS['re-slice']):>11}")
    print(f"\nwhole Hessian, 1,000 samples, bce; target {TARGETS['hessian'] * 1e3:.0f} ms; "
          "'before': two engine gradients per column. Times: wall/CPU ms")
    print(f"{'net':<15}{'params':>8}{'Hessian':>15}{'before':>15}{'ratio':>7}{'target':>11}")
    for (label, n), t in hessian.items():
        ratio = t["hessian"][1] / t["before"][1]
        print(f"{label:<15}{n:>8,}{ms(t['hessian']):>15}{ms(t['before']):>15}{ratio:>7.2f}"
              f"{verdict(t['hessian'], TARGETS['hessian']):>11}")
    print(f"\ntop eigenvalue (Lanczos), 1,000 samples; target {TARGETS['top']:.0f} s. "
          "Times: wall/CPU ms")
    print(f"{'net':<15}{'params':>8}{'top':>15}{'gradients':>11}{'target':>11}")
    for (label, n), t in top.items():
        print(f"{label:<15}{n:>8,}{ms(t['top']):>15}{t['top'][1] / t['gradient'][1]:>11.0f}"
              f"{verdict(t['top'], TARGETS['top']):>11}")
    print("('ratio': CPU time against 'before'; 'gradients': the top eigenvalue's CPU time in "
          "full-batch gradients of the same net)")


if __name__ == "__main__":
    main()
