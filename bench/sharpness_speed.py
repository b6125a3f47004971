"""The cost of sharpness live (issue 15) on a ~2,000-parameter net: seconds per estimate of
lambda_max, and the share of training it takes in the training loop.

1. Per estimate, on a 3-42-42-1 tanh net (2,017 parameters) and 1,000 samples (the watch's
   subsample size), every 10 full-batch gradient-descent steps of a run: the watch's warm
   start (core.curvature.top_eigenpair from the last estimate's vector), the same from a
   random start, and core.curvature.top_eigenvalues (scipy's default 20 Lanczos vectors, the
   cost before this work). Interleaved in each round, medians; gradients counted; the three
   values checked equal.
2. In the training loop (core.training.loop, on a thread, answered as the window answers it),
   rounds of ROUND seconds with the watch on and off in turn, on one run: steps per second
   on / off (median of the rounds' ratios) and the share of the time the watch says it spent.
   Minibatch 32 (the window's usual) and full batch.

BLAS threads fixed with threadpoolctl (default 1, as the window's training process has).

    python bench/sharpness_speed.py [--rounds N] [--threads N] [--seconds S]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.curvature import TrainingLoss, top_eigenpair, top_eigenvalues  # noqa: E402
from core.data.dataset import Dataset  # noqa: E402
from core.initializers import initialize  # noqa: E402
from core.settings import TrainingSettings  # noqa: E402
from core.templates import layered  # noqa: E402
from core.training import kernel_warmup  # noqa: E402
from core.training.loop import TrainingLoop  # noqa: E402
from core.training.sharpness import load_lanczos  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

SIZES = [3, 42, 42, 1]
SAMPLES = 1000
RATE = 0.05


def problem(batch_size: int = 0) -> tuple:
    net = layered(SIZES, hidden="tanh", output="identity")
    net.set_values(*initialize(net, "xavier_uniform", 0))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SAMPLES, SIZES[0]))
    y = np.sin(x.sum(axis=1, keepdims=True)) + 0.1 * rng.standard_normal((SAMPLES, 1))
    data = Dataset(x_train=x, y_train=y, x_test=x[:0], y_test=y[:0], task="regression",
                   input_names=[f"x{i}" for i in range(SIZES[0])], target_names=["y"],
                   class_names=None, mean=None, std=None)
    settings = TrainingSettings(loss="mse", optimizer="sgd", learning_rate=RATE,
                                batch_size=batch_size, seed=0)
    return net, data, settings


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def per_estimate(rounds: int) -> None:
    net, data, settings = problem()
    trainer = Trainer(net, data, settings)
    trainer.advance(50, compiled=False)  # past the first steps' large moves
    plan = trainer.plan
    f = TrainingLoss(plan, plan.inputs_from(data.x_train), data.y_train, "mse")
    theta = plan.flatten(trainer.params)
    _, vector = top_eigenpair(f, theta)
    seconds = {"warm": [], "cold": [], "top_eigenvalues": []}
    grads = {k: [] for k in seconds}
    worst = 0.0
    for _ in range(rounds):
        trainer.advance(10, compiled=False)
        theta = plan.flatten(trainer.params)
        values = {}
        for name, fn in (("warm", lambda: top_eigenpair(f, theta, vector)),
                         ("cold", lambda: top_eigenpair(f, theta)),
                         ("top_eigenvalues", lambda: (top_eigenvalues(f, theta, 1)[0], None))):
            f.gradients = 0
            (value, found), took = timed(fn)
            seconds[name].append(took)
            grads[name].append(f.gradients)
            values[name] = value
            if name == "warm":
                vector = found
        worst = max(worst, max(abs(v / values["top_eigenvalues"] - 1) for v in values.values()))
    print(f"1. one estimate of lambda_max: {SIZES} tanh, {plan.n_parameters:,} parameters, "
          f"{SAMPLES:,} samples, every 10 steps of full-batch GD at {RATE}; {rounds} rounds, "
          f"medians; values agree to {worst:.1e} (relative)")
    base = statistics.median(seconds["top_eigenvalues"])
    for name in seconds:
        s = statistics.median(seconds[name])
        print(f"   {name:16s} {s * 1e3:8.1f} ms  {statistics.median(grads[name]):5.0f} "
              f"gradients  ({s / base:.2f} of top_eigenvalues)")


class Driver:
    """The window's end of a training loop on a thread: answers each progress with drawn."""

    def __init__(self, batch_size: int) -> None:
        net, data, settings = problem(batch_size)
        self.commands = queue.Queue()
        self.window_end, loop_end = multiprocessing.Pipe(duplex=False)
        self.loop = TrainingLoop(self.commands, loop_end, net, data, settings)
        self.thread = threading.Thread(target=self.loop.loop, daemon=True)
        self.thread.start()
        self.latest = None

    def round(self, sharpness: bool, seconds: float) -> tuple[int, float]:
        """Train `seconds` with the watch on or off: (steps, seconds)."""
        self.commands.put(("sharpness", sharpness))
        before = self.request("fresh_progress")
        start = time.perf_counter()
        self.commands.put(("run",))
        while time.perf_counter() - start < seconds:
            self.read(0.01)
        self.commands.put(("pause",))
        elapsed = time.perf_counter() - start
        after = self.request("fresh_progress")
        return after.step - (before.step if before else 0), elapsed

    def read(self, timeout: float) -> tuple | None:
        if not self.window_end.poll(timeout):
            return None
        message = self.window_end.recv()
        if message[0] == "progress":
            self.latest = message[2]
            self.commands.put(("drawn",))
        return message

    def request(self, name: str):
        self.commands.put((name,))
        while True:
            message = self.read(10.0)
            if message is not None and message[0] == name:
                return message[2]

    def close(self) -> None:
        self.commands.put(("quit",))
        self.thread.join(10)


def in_the_loop(rounds: int, seconds: float) -> None:
    print(f"2. in the training loop, {rounds} rounds of {seconds} s with the watch on and off "
          f"in turn; steps/s on / off, median of the rounds' ratios (quartiles)")
    for batch in (32, 0):
        driver = Driver(batch)
        while not kernel_warmup.ready():  # the loop trains in NumPy until the kernel loads
            time.sleep(0.05)
        driver.round(False, 0.5)  # warm up: first steps, caches
        driver.round(True, 0.5)  # and the watch's credit of the run's start
        path = driver.loop._trainer.compiled_path() or "compiled kernel"
        ratios, on_rates, off_rates = [], [], []
        for _ in range(rounds):
            off = driver.round(False, seconds)
            on = driver.round(True, seconds)
            off_rates.append(off[0] / off[1])
            on_rates.append(on[0] / on[1])
            ratios.append(on_rates[-1] / off_rates[-1])
        report = driver.latest.sharpness
        driver.close()
        q = statistics.quantiles(ratios, n=4)
        what = "full batch" if batch == 0 else f"minibatch {batch}"
        print(f"   {what:13s} ({path}) off {statistics.median(off_rates):7.0f} steps/s, on "
              f"{statistics.median(on_rates):7.0f}: ratio {statistics.median(ratios):.3f} "
              f"({q[0]:.3f}-{q[2]:.3f}); the watch's own share {100 * report.share:.1f}% "
              f"over {len(report.values)} estimates")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        load_lanczos(wait=True)
        print(f"BLAS threads {blas}; load average {os.getloadavg()[0]:.2f}")
        per_estimate(args.rounds)
        in_the_loop(args.rounds, args.seconds)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
