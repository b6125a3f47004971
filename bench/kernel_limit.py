"""Where the compiled kernel stops beating NumPy steps: the size limit of the compiled path
(core/training/compiled_steps.py, MAX_WORK: parameters x batch), chosen from this.

For layered nets of growing parameters x batch, Trainer.advance in blocks of 256 steps with
the kernel forced on (the limit lifted for the run) against the same trainer settings stepping
in NumPy (advance(n, compiled=False): the path the limit sends a net to); float64 and float32;
the window's defaults (momentum 0.9, rate 0.1, shuffled minibatches); interleaved rounds,
medians, blocks timed by this thread's CPU time, 1 BLAS thread (threadpoolctl).

    python bench/kernel_limit.py --rounds 9
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.dataset import Dataset  # noqa: E402
from core.initializers import initialize  # noqa: E402
from core.settings import TrainingSettings  # noqa: E402
from core.templates import layered  # noqa: E402
from core.training import compiled_steps  # noqa: E402
from core.training.kernel_warmup import warm_up  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

BLOCK = 256
# (layer sizes, batch): from the kernel's home ground to well past the old limit (40,000)
CASES = [((2, 8, 8, 1), 10), ((2, 45, 40, 1), 10), ((2, 45, 40, 1), 32),
         ((64, 32, 16, 10), 16), ((64, 32, 16, 10), 32), ((64, 32, 16, 10), 64),
         ((10, 64, 64, 1), 32), ((64, 64, 32, 10), 32), ((784, 16, 10), 32),
         ((64, 128, 64, 10), 32)]


def trainer(sizes, batch: int, precision: str) -> Trainer:
    net = layered(list(sizes), hidden="relu", output="identity")
    net.set_values(*initialize(net, "he", 0))
    rng = np.random.default_rng(0)
    n = batch * 8
    x = rng.normal(size=(n, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)] if sizes[-1] > 1 else \
        rng.normal(size=(n, 1))
    data = Dataset(x_train=x, y_train=y, x_test=x[:0], y_test=y[:0], task="classification",
                   input_names=[f"x{i}" for i in range(sizes[0])],
                   target_names=[f"y{i}" for i in range(sizes[-1])], class_names=None,
                   mean=None, std=None)
    loss = "softmax_ce" if sizes[-1] > 1 else "mse"
    return Trainer(net, data, TrainingSettings(loss=loss, optimizer="momentum",
                                               learning_rate=0.1, momentum=0.9,
                                               batch_size=batch, seed=0, precision=precision))


def per_step(t: Trainer, compiled: bool, calls: int) -> float:
    start = time.thread_time()
    for _ in range(calls):
        t.advance(BLOCK, compiled)
    return (time.thread_time() - start) / (calls * BLOCK)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    compiled_steps.MAX_WORK = 10**12  # the kernel wherever it can run
    warm_up()
    print(f"1 BLAS thread; CPU time per step, medians of {args.rounds} interleaved rounds; "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"{'net':<16}{'batch':>6}{'params':>8}{'p x batch':>11}{'dtype':>9}"
          f"{'numpy us':>10}{'kernel us':>10}{'numpy/kernel':>13}")
    with threadpool_limits(limits=1):
        for sizes, batch in CASES:
            for precision in ("float64", "float32"):
                a, b = trainer(sizes, batch, precision), trainer(sizes, batch, precision)
                assert b.compiled_path() is None, b.compiled_path()
                per_step(a, False, 1), per_step(b, True, 1)  # buffers, first touches
                calls = max(1, int(0.05 / max(per_step(a, False, 1) * BLOCK, 1e-6)))
                times = {"numpy": [], "kernel": []}
                for _ in range(args.rounds):
                    times["numpy"].append(per_step(a, False, calls))
                    times["kernel"].append(per_step(b, True, calls))
                np_us, k_us = (statistics.median(times[k]) * 1e6 for k in ("numpy", "kernel"))
                p = b.plan.n_parameters
                print(f"{'-'.join(map(str, sizes)):<16}{batch:>6}{p:>8,}{p * batch:>11,}"
                      f"{precision:>9}{np_us:>10.1f}{k_us:>10.1f}{np_us / k_us:>13.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
