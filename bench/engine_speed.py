"""The engine core only: loss_and_gradients on a drawn graph plus a plain SGD update, against
the obvious NumPy MLP of the same shape (which allocates every step), best of 15 blocks.

This is not the speed users feel: it leaves out everything Trainer.step adds (batches,
momentum, divergence checks, the trajectory) and its reference is not tight. The real path
is bench/train_speed.py (Trainer.step against a preallocated, in-place reference and
PyTorch, medians). Kept to watch the engine core by itself.

    python bench/engine_speed.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.engine import compile_plan, loss_and_gradients, mask_frozen  # noqa: E402
from core.templates import layered  # noqa: E402

CASES = [([2, 4, 2], 10), ([64, 32, 16, 10], 32), ([64, 32, 16, 10], 1797), ([784, 128, 10], 64)]
LR = 0.01


class HandMLP:
    """The obvious row-major MLP: sigmoid hidden layers, identity outputs, MSE."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        self.w, self.b = weights, biases

    def step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        acts = [x]
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            z = acts[-1] @ w + b
            acts.append(z if i == len(self.w) - 1 else 1.0 / (1.0 + np.exp(-z)))
        r = acts[-1] - y
        loss = float(np.mean(r * r))
        delta = (2.0 / r.size) * r
        grads = []
        for i in range(len(self.w) - 1, -1, -1):
            gw, gb = acts[i].T @ delta, delta.sum(axis=0)
            grads[:0] = [gw]
            if i:
                a = acts[i]
                delta = (delta @ self.w[i].T) * a * (1.0 - a)
            self.w[i] -= LR * gw
            self.b[i] -= LR * gb
        return loss, grads


def engine_setup(sizes: list[int], rng: np.random.Generator, dtype: type):
    net = layered(sizes, hidden="sigmoid", output="identity")
    net.set_values({e: float(rng.normal(0, 0.3)) for e in net.edges},
                   {n: float(rng.normal(0, 0.1)) for n in net.neurons if net.neurons[n].role != "input"})
    plan = compile_plan(net)
    params = plan.pack(net, dtype)
    # The same numbers as plain layer matrices (x @ W + b) for the hand-written side.
    ws = [w.T.copy() for w in params.weights]
    bs = [params.biases[lv.start: lv.stop].copy() for lv in plan.levels]
    return plan, params, HandMLP(ws, bs)


def engine_step(plan, params, x, y) -> float:
    loss, grads = loss_and_gradients(plan, params, x, y, "mse")
    mask_frozen(plan, grads)
    for p, g in zip(params.arrays(), grads.arrays()):
        p -= LR * g
    return loss


def timed(fn, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'shape':<14}{'batch':>6}{'dtype':>9}{'hand us':>10}{'engine us':>11}{'ratio':>7}{'':>6}")
    worst = 0.0
    for sizes, batch in CASES:
        for dtype in (np.float64, np.float32):
            plan, params, hand = engine_setup(sizes, rng, dtype)
            x = rng.normal(size=(batch, sizes[0])).astype(dtype)
            y = rng.normal(size=(batch, sizes[-1])).astype(dtype)
            # Honest comparison: the first steps agree.
            l_engine = engine_step(plan, params, x, y)
            l_hand, _ = hand.step(x, y)
            assert np.isclose(l_engine, l_hand, rtol=1e-4), (l_engine, l_hand)
            np.testing.assert_allclose(params.weights[0].T, hand.w[0], rtol=1e-3, atol=1e-6)
            flops = sum(a * b for a, b in zip(sizes, sizes[1:])) * batch
            repeats = max(20, min(3000, int(2e8 / max(flops, 1) / 10)))
            hand_t, eng_t = [], []
            for _ in range(15):  # interleave, keep the best block of each
                hand_t.append(timed(lambda: hand.step(x, y), repeats))
                eng_t.append(timed(lambda: engine_step(plan, params, x, y), repeats))
            h, e = min(hand_t), min(eng_t)
            worst = max(worst, e / h)
            print(f"{'-'.join(map(str, sizes)):<14}{batch:>6}{np.dtype(dtype).name:>9}"
                  f"{h * 1e6:>10.1f}{e * 1e6:>11.1f}{e / h:>7.2f}{'ok' if e / h <= 1.2 else 'SLOW':>6}")
    print(f"worst ratio {worst:.2f} (target <= 1.20)")


if __name__ == "__main__":
    main()
