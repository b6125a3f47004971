"""Loss-surface grid speed: the batched evaluator against one engine forward pass per grid
point (the obvious way), measured in the same run.

Target (issue: live training): nets up to 200 parameters on up to 1000 samples, a 51x51 grid
in at most 150 ms. The app evaluates the grid on a fixed subsample of 256 training points
(core.surface.MAX_SAMPLES) in float32; both the subsample and the full 1000 are shown.

    python bench/surface_speed.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.engine import compile_plan, forward  # noqa: E402
from core.network import Network  # noqa: E402
from core.surface import MAX_SAMPLES, grid_losses, random_plane, subsample  # noqa: E402

GRID = 51


def layered(sizes: list[int], rng: np.random.Generator) -> Network:
    net, previous = Network(), []
    for i, size in enumerate(sizes):
        role = "input" if i == 0 else "output" if i == len(sizes) - 1 else "hidden"
        act = "identity" if role == "input" else "sigmoid" if role == "output" else "tanh"
        layer = [net.add_neuron(role, act).id for _ in range(size)]
        if previous:
            pairs = [(s, t) for t in layer for s in previous]
            net.connect_many(pairs, list(rng.normal(size=len(pairs)) * 0.5))
        previous = layer
    return net


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def naive_grid(plan, plane, g, x, y) -> float:
    """One forward pass per grid point, timed on a 10x10 grid and scaled to 51x51."""
    start = time.perf_counter()
    for a in g[::5][:10]:
        for b in g[::5][:10]:
            fwd = forward(plan, plan.unflatten(plane.point(a, b)), x)
            z = fwd.outputs(plan)[0]
            np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    return (time.perf_counter() - start) * GRID * GRID / 100


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'net':<12}{'params':>7}{'samples':>9}{'dtype':>9}{'naive ms':>10}"
          f"{'batched ms':>12}{'speed-up':>10}{'target':>9}")
    for sizes in ([2, 8, 8, 1], [2, 16, 8, 1], [2, 12, 12, 1]):
        net = layered(sizes, rng)
        plan = compile_plan(net)
        theta = plan.flatten(plan.pack(net))
        plane = random_plane(plan, theta, rng)
        g = np.linspace(-1, 1, GRID)
        x = rng.normal(size=(1000, 2))
        y = (x[:, :1] * x[:, 1:] > 0).astype(float)
        for label, (xs, ys) in (("1000", (x, y)), (f"{MAX_SAMPLES}", subsample(x, y))):
            naive = naive_grid(plan, plane, g, xs, ys)
            for dtype in (np.float64, np.float32):
                t = best_of(lambda: grid_losses(plan, plane, g, g, xs, ys, "bce", dtype=dtype))
                ok = "ok" if t <= 0.150 else "MISS"
                print(f"{'-'.join(map(str, sizes)):<12}{plan.n_parameters:>7}{label:>9}"
                      f"{dtype.__name__:>9}{naive * 1e3:>10.0f}{t * 1e3:>12.1f}"
                      f"{naive / t:>9.0f}x{ok:>9}")


if __name__ == "__main__":
    main()
