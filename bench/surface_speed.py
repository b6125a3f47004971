"""Loss-surface grid speed on the app's own path (issue 14): a 51x51 grid of
core.surface.grid_losses, as the window's surface panel calls it (gui/live/surface_panel.py:
_quiet_grid, float32, overflow ignored), with the window's BLAS setting: one thread
(threadpoolctl, gui/live/training_link.py). float64 rows are the reference precision.

Target: nets up to 200 parameters, up to 1000 samples, at most 150 ms. Rows cover the app's
subsample (core.surface.MAX_SAMPLES = 256) and 1000 samples, a random plane (as costly as the
PCA plane: every weight moves) and the exact plane of two weights of the first hidden level
(its worst case: everything downstream of them moves). Interleaved rounds (every row once per
round), medians. The window runs the grid on a background thread at low priority; here it
runs on the main thread.

    python bench/surface_speed.py            # --rounds N, --threads N
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.engine import compile_plan  # noqa: E402
from core.network import Network  # noqa: E402
from core.surface import MAX_SAMPLES, exact_plane, grid_losses, random_plane  # noqa: E402
from core.surface import training_sample  # noqa: E402

GRID = 51
TARGET = 0.150


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
    """name -> (params, thunk) for every net x plane x samples x dtype."""
    out = {}
    g = np.linspace(-1, 1, GRID)
    for label, sizes, skips in NETS:
        net = layered(sizes, rng, skips)
        plan = compile_plan(net)
        theta = plan.flatten(plan.pack(net))
        first = plan.levels[0].edge_pos
        planes = {"random": random_plane(plan, theta, rng),
                  "exact": exact_plane(plan, theta, int(first[0]), int(first[-1]))}
        x = rng.normal(size=(1000, sizes[0]))
        y = (x[:, :1] * x[:, 1:2] > 0).astype(float)
        data = {"1000": (plan.inputs_from(x), y),
                str(MAX_SAMPLES): training_sample(plan, x, y)}
        for kind, plane in planes.items():
            for n, (xs, ys) in data.items():
                for dtype in (np.float32, np.float64):
                    key = (label, kind, n, dtype.__name__)
                    out[key] = (plan.n_parameters, _grid(plan, plane, g, xs, ys, dtype))
    return out


def _grid(plan, plane, g, x, y, dtype):
    def run():
        with np.errstate(all="ignore"):  # as the window's _quiet_grid
            grid_losses(plan, plane, g, g, x, y, "bce", dtype=dtype)
    return run


def interleaved(table: dict, rounds: int) -> dict:
    times = {key: [] for key in table}
    for _ in range(rounds):
        for key, (_, run) in table.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(t) for key, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (the window: 1)")
    args = parser.parse_args()
    table = rows(np.random.default_rng(0))
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        for _, run in table.values():  # warm up (and a compiled kernel, if any, loaded)
            run()
        result = interleaved(table, args.rounds)
    print(f"51x51 grid, bce, BLAS threads {blas} (threadpoolctl), grid on the calling thread; "
          f"median of {args.rounds} interleaved rounds")
    print(f"{'net':<15}{'params':>7}{'plane':>8}{'samples':>9}{'dtype':>9}{'ms':>9}{'target':>8}")
    misses = 0
    for (label, kind, n, dtype), t in result.items():
        ok = t <= TARGET
        misses += not ok
        print(f"{label:<15}{table[label, kind, n, dtype][0]:>7}{kind:>8}{n:>9}{dtype:>9}"
              f"{t * 1e3:>9.1f}{'ok' if ok else 'MISS':>8}")
    print(f"{len(result) - misses} of {len(result)} rows within {TARGET * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
