"""The loss surface on a recurrent net (issue 17): a 51x51 grid of core.surface.grid_losses on
sequence data, as the window's surface panel calls it (float32, the mask and
training.sequence_loss), and the arrows (core.surface.arrows_at: five BPTT gradients), for
Elman nets 1-4-1 and 1-8-1 (tanh, every hidden neuron fed back to every one) on the echo
generator, 200 training sequences of 20 steps (all of them: the surface's sample keeps up to
256 sequences), exact and random planes.

The grid runs the unrolled net once per step for a chunk of points at a time, the points as
extra batch columns (core.engine.sequence_plane). Its reference is the engine itself: the
engine's sequence_loss at each point of the grid, one point after another ("engine loop",
timed on 121 of the points and scaled to the grid's 2,601). The ratio is the loop's median
over the grid's. Interleaved rounds, medians, BLAS threads fixed by threadpoolctl (--threads,
default 1 as the window sets it) and printed, with the load average before and after: this
machine is shared, and wall times include waiting for a core.

    python bench/sequence_surface_speed.py      # --rounds N, --threads N
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

from core.batch_loss import sample_of  # noqa: E402
from core.data.dataset import make_dataset  # noqa: E402
from core.engine import compile_plan  # noqa: E402
from core.engine.recurrent import sequence_loss  # noqa: E402
from core.settings import DataSettings  # noqa: E402
from core.surface import arrows_at, exact_plane, grid_losses, random_plane  # noqa: E402
from core.templates import layered  # noqa: E402

GRID = 51
LOOP_POINTS = 11  # the engine loop's grid side (121 points), scaled to GRID x GRID


def elman(hidden: int):
    net = layered([1, hidden, 1], hidden="tanh", output="identity")
    ids = [n.id for n in net.neurons.values() if n.role == "hidden"]
    for a in ids:
        for b in ids:
            net.connect(a, b, delay=1)
    rng = np.random.default_rng(0)
    net.set_values({e: float(rng.normal(scale=0.4)) for e in net.edges}, {})
    return net


def rows():
    data = make_dataset(DataSettings(generator="echo", samples=250, task="regression",
                                     sequence_length=20, test_fraction=0.2))
    for hidden in (4, 8):
        net = elman(hidden)
        plan = compile_plan(net)
        theta = plan.flatten(plan.pack(net))
        x, y, mask = sample_of(plan, data)
        for kind in ("exact", "random"):
            plane = exact_plane(plan, theta, 0, 1) if kind == "exact" else \
                random_plane(plan, theta, np.random.default_rng(0))
            yield f"1-{hidden}-1 {kind}", plan, plane, theta, (x, y, mask)


def timed(f) -> float:
    started = time.perf_counter()
    f()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    cases = list(rows())
    a = np.linspace(-2, 2, GRID)
    small = np.linspace(-2, 2, LOOP_POINTS)
    times: dict[str, dict[str, list[float]]] = {name: {"grid": [], "loop": [], "arrows": []}
                                                 for name, *_ in cases}
    with threadpool_limits(args.threads):
        print("BLAS:", [(i["internal_api"], i["num_threads"]) for i in threadpool_info()])
        for _ in range(args.rounds):
            for name, plan, plane, theta, (x, y, mask) in cases:
                t = times[name]
                t["grid"].append(timed(lambda: grid_losses(
                    plan, plane, a, a, x, y, "mse", dtype=np.float32, mask=mask)))
                x32 = x.astype(np.float32)

                def loop():
                    for al in small:
                        for be in small:
                            p = plan.unflatten(plane.point(al, be).astype(np.float32))
                            sequence_loss(plan, p, x32, y, mask, "mse")
                t["loop"].append(timed(loop) * (GRID / LOOP_POINTS) ** 2)
                t["arrows"].append(timed(lambda: arrows_at(plan, plane, theta, (x, y, mask),
                                                           "mse")))
    print(f"{GRID}x{GRID} grid, 200 sequences x 20 steps, float32; medians of {args.rounds}")
    print(f"{'net, plane':<18}{'grid s':>9}{'engine loop s':>15}{'ratio':>7}{'arrows ms':>11}")
    for name, t in times.items():
        g, lp, ar = (statistics.median(t[k]) for k in ("grid", "loop", "arrows"))
        print(f"{name:<18}{g:>9.2f}{lp:>15.2f}{lp / g:>7.1f}{1000 * ar:>11.1f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
