"""The compiled path (issue 14) on the real path, Trainer.advance: epochs per second headless
on TF Playground's default problem, NumPy path against compiled path, and a random
200-neuron DAG of 2,000 edges against a layered net of about as many parameters.

Interleaved rounds (NumPy, compiled, NumPy, ...), medians, BLAS threads fixed with
threadpoolctl (default 1). The kernel is compiled (or loaded from the disk cache) before
timing; the cold compile and the warm load are timed in fresh processes with --compile-times.

    python bench/compiled_speed.py
    python bench/compiled_speed.py --rounds 9 --threads 1 --compile-times
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.data.dataset import Dataset, make_dataset  # noqa: E402
from core.initializers import initialize  # noqa: E402
from core.network import Network  # noqa: E402
from core.settings import DataSettings, TrainingSettings  # noqa: E402
from core.templates import layered  # noqa: E402
from core.training.kernel_warmup import warm_up  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

# TF Playground's defaults: circles, 500 points, half of them for testing, 2-4-2-1 tanh,
# batch 10, rate 0.03, plain SGD, no regularisation.
PLAYGROUND = (DataSettings(generator="circles", samples=500, noise=0.0, test_fraction=0.5),
              TrainingSettings(optimizer="sgd", learning_rate=0.03, batch_size=10, seed=0))


def playground() -> tuple[Network, Dataset, TrainingSettings]:
    data_settings, settings = PLAYGROUND
    net = layered([2, 4, 2, 1], hidden="tanh", output="tanh")
    net.set_values(*initialize(net, "xavier_uniform", 0))
    return net, make_dataset(data_settings), settings


def random_dag(neurons: int = 200, edges: int = 2000, seed: int = 0) -> Network:
    """2 inputs, 1 output, the rest hidden tanh; `edges` distinct forward edges at random,
    each neuron reachable (one edge from an earlier neuron each, the rest anywhere forward)."""
    rng = np.random.default_rng(seed)
    net = Network()
    ids = [net.add_neuron("input").id for _ in range(2)]
    ids += [net.add_neuron("hidden", "tanh").id for _ in range(neurons - 3)]
    ids.append(net.add_neuron("output", "tanh").id)
    pairs = {(int(rng.integers(0, t)), t) for t in range(2, neurons)}
    while len(pairs) < edges:
        s, t = sorted(rng.choice(neurons, 2, replace=False))
        if t >= 2:
            pairs.add((int(s), int(t)))
    net.connect_many([(ids[s], ids[t]) for s, t in sorted(pairs, key=lambda p: (p[1], p[0]))])
    net.set_values(*initialize(net, "xavier_uniform", seed))
    return net


def epochs_per_second(net, data, settings, compiled: bool, epochs: int, block: int) -> float:
    trainer = Trainer(net.copy(), data, settings)
    per_epoch = trainer.steps_per_epoch()
    trainer.advance(per_epoch, compiled)  # buffers, plan
    steps = epochs * per_epoch
    start = time.perf_counter()
    while steps > 0:
        trainer.advance(min(block, steps), compiled)
        steps -= block
    return epochs / (time.perf_counter() - start)


def interleaved(cases: dict, rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            times[name].append(fn())
    return {name: statistics.median(v) for name, v in times.items()}


def compile_times() -> list[tuple[float, float, float]]:
    """(training kernel in float64, the loss grid's kernel, the training kernel in float32):
    seconds of kernel_warmup.warm_up's three parts, cold (compiled into an empty cache) and
    warm (loaded from it), each in a fresh process."""
    code = ("import time; t = time.perf_counter()\n"
            "from core.engine import compiled_grid\n"
            "from core.training import kernel_warmup as k\n"
            "k._train_tiny('float64'); a = time.perf_counter()\n"
            "compiled_grid.warm_up(); b = time.perf_counter()\n"
            "k._train_tiny('float32'); c = time.perf_counter()\n"
            "print(a - t, b - a, c - b)\n")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        run = [sys.executable, "-c", code]
        return [tuple(map(float, subprocess.run(run, env=env, capture_output=True, text=True,
                                                check=True, cwd=ROOT).stdout.split()))
                for _ in range(2)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile-times", action="store_true")
    args = parser.parse_args()
    if args.compile_times:
        for what, (f64, grid, f32) in zip(("cold compile", "warm load from the disk cache"),
                                          compile_times()):
            print(f"kernels, {what}: {f64 + grid + f32:.1f} s = training float64 {f64:.1f} s "
                  f"(numba import included) + loss grid {grid:.1f} s + training float32 "
                  f"{f32:.1f} s (fresh process)")
    warm_up()
    net, data, settings = playground()
    dag = random_dag()
    twin = layered([2, 45, 40, 1], hidden="tanh", output="tanh")
    twin.set_values(*initialize(twin, "xavier_uniform", 0))
    dag_data = Dataset(data.x_train, data.y_train, data.x_test, data.y_test, "classification",
                       data.input_names, data.target_names, None, None, None)
    with threadpool_limits(args.threads):
        rows = {
            "playground numpy": lambda: epochs_per_second(net, data, settings, False, 40, 25),
            "playground compiled, 1 epoch/call": lambda: epochs_per_second(
                net, data, settings, True, 2000, 25),
            "playground compiled, 4096 steps/call": lambda: epochs_per_second(
                net, data, settings, True, 4000, 4096),
            "dag numpy": lambda: epochs_per_second(dag, dag_data, settings, False, 4, 25),
            "dag compiled": lambda: epochs_per_second(dag, dag_data, settings, True, 20, 250),
            "layered numpy": lambda: epochs_per_second(twin, dag_data, settings, False, 10, 25),
            "layered compiled": lambda: epochs_per_second(twin, dag_data, settings, True, 20, 250),
        }
        result = interleaved(rows, args.rounds)
    sizes = {"dag": dag, "layered": twin}
    print(f"epochs/s, median of {args.rounds} interleaved rounds, {args.threads} BLAS thread(s)")
    for name, value in result.items():
        print(f"  {name:40s} {value:10,.0f}")
    for name, n in sizes.items():
        print(f"  {name}: {len(n.neurons)} neurons, {len(n.edges)} edges, "
              f"{len(n.edges) + len(n.neurons) - 2} parameters")
    base = result["playground numpy"]
    print(f"playground: compiled / numpy = {result['playground compiled, 4096 steps/call'] / base:.1f}x"
          f" ({result['playground compiled, 1 epoch/call'] / base:.1f}x at one epoch per call);"
          f" target 3,000 epochs/s")
    best_layered = max(result["layered numpy"], result["layered compiled"])
    print(f"dag compiled / fastest layered = {result['dag compiled'] / best_layered:.2f}"
          f" (target at least 0.5); dag compiled / dag numpy = "
          f"{result['dag compiled'] / result['dag numpy']:.1f}x")


if __name__ == "__main__":
    main()
