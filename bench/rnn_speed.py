"""Backpropagation through time: Trainer.step on an Elman net 1-16-1 (tanh hidden neurons,
each fed by all 16 one step earlier; identity output), 50 steps, a batch of 32 sequences,
against a tight hand-written NumPy BPTT of the same net, interleaved in one run, medians,
BLAS threads fixed.

The reference does the same math as the Trainer (plain SGD, rate 0.01, full batch of the 32
sequences, MSE at every step, full BPTT) and nothing else: preallocated arrays, the input
projection of every step in one product, per step one product, one add and one in-place tanh
forward, and one product, one add and one multiplication backward (tanh' of every step made
at once before); the weight gradients one product each over all steps; one flat parameter
vector updated by one call. Its first losses and parameters must agree with the Trainer's to
1e-10 (checked), so the ratio compares the same work.

Blocks are timed by this thread's CPU time with one BLAS thread (the work is all on this
thread; time the machine gives other processes is not counted), by elapsed time with more.

    python bench/rnn_speed.py                   # 1 BLAS thread
    python bench/rnn_speed.py --rounds 31 --steps 50 --batch 32
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.dataset import Dataset  # noqa: E402
from core.network import Network  # noqa: E402
from core.settings import TrainingSettings  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

HIDDEN, LR, TARGET = 16, 0.01, 1.5


def elman(rng: np.random.Generator) -> Network:
    net = Network()
    x = net.add_neuron("input").id
    hs = [net.add_neuron("hidden", "tanh", bias=float(rng.normal(0, 0.1))).id
          for _ in range(HIDDEN)]
    y = net.add_neuron("output", "identity", bias=float(rng.normal(0, 0.1))).id
    net.connect_many([(x, h) for h in hs], list(rng.normal(0, 0.5, HIDDEN)))
    net.connect_many([(a, b) for a in hs for b in hs],
                     list(rng.normal(0, 0.8 / np.sqrt(HIDDEN), HIDDEN * HIDDEN)),
                     delays=[1] * HIDDEN * HIDDEN)
    net.connect_many([(h, y) for h in hs], list(rng.normal(0, 0.5, HIDDEN)))
    return net


class HandBPTT:
    """The same Elman net in (units x T*B) arrays, column t*B + b: step t of sequence b."""

    def __init__(self, net: Network, x: np.ndarray, y: np.ndarray) -> None:
        b, t, _ = x.shape
        hs = [n.id for n in net.neurons.values() if n.role == "hidden"]
        out = next(n.id for n in net.neurons.values() if n.role == "output")
        inp = next(n.id for n in net.neurons.values() if n.role == "input")
        at = {h: i for i, h in enumerate(hs)}
        # One flat vector: Wx (H), Wh (H x H, row = target), bh (H), Wo (H), bo (1)
        self.theta = np.zeros(HIDDEN + HIDDEN * HIDDEN + HIDDEN + HIDDEN + 1)
        self.grad = np.zeros_like(self.theta)
        self.wx, self.wh, self.bh, self.wo, self.bo = self._views(self.theta)
        self.gwx, self.gwh, self.gbh, self.gwo, self.gbo = self._views(self.grad)
        for e in net.edges.values():
            if e.source == inp:
                self.wx[at[e.target], 0] = e.weight
            elif e.target == out:
                self.wo[0, at[e.source]] = e.weight
            else:
                self.wh[at[e.target], at[e.source]] = e.weight
        self.bh[:, 0] = [net.neurons[h].bias for h in hs]
        self.bo[0, 0] = net.neurons[out].bias
        self.b, self.t = b, t
        self.x = np.ascontiguousarray(x.transpose(2, 1, 0).reshape(1, t * b))
        self.y = np.ascontiguousarray(y.transpose(2, 1, 0).reshape(1, t * b))
        self.h = np.zeros((HIDDEN, (t + 1) * b))  # columns [0, B): the zero state
        self.z = np.empty((HIDDEN, t * b))
        self.dh = np.empty((HIDDEN, t * b))
        self.dz = np.empty((HIDDEN, t * b))
        self.out = np.empty((1, t * b))
        self.tmp = np.empty((HIDDEN, b))
        self.slope = np.empty((HIDDEN, t * b))

    @staticmethod
    def _views(flat: np.ndarray) -> tuple[np.ndarray, ...]:
        h = HIDDEN
        cuts = np.cumsum([h, h * h, h, h, 1])
        wx, wh, bh, wo, bo = np.split(flat, cuts[:-1])
        return wx.reshape(h, 1), wh.reshape(h, h), bh.reshape(h, 1), wo.reshape(1, h), \
            bo.reshape(1, 1)

    def step(self) -> float:
        b, t, h, z, tmp = self.b, self.t, self.h, self.z, self.tmp
        np.matmul(self.wx, self.x, out=z)
        z += self.bh
        for k in range(t):
            zk = z[:, k * b: (k + 1) * b]
            zk += np.matmul(self.wh, h[:, k * b: (k + 1) * b], out=tmp)
            np.tanh(zk, out=h[:, (k + 1) * b: (k + 2) * b])
        hs = h[:, b:]
        out = np.matmul(self.wo, hs, out=self.out)
        out += self.bo
        out -= self.y  # the residual, in place
        loss = float(np.vdot(out, out)) / out.size
        out *= 2.0 / out.size  # dL/d(out)
        np.matmul(out, hs.T, out=self.gwo)
        np.add.reduce(out, axis=1, out=self.gbo[:, 0])
        dh, dz, slope = self.dh, self.dz, self.slope
        np.matmul(self.wo.T, out, out=dh)  # dL/dh from every step's output at once
        np.multiply(hs, hs, out=slope)  # tanh' = 1 - h^2, every step at once
        np.subtract(1.0, slope, out=slope)
        for k in range(t - 1, -1, -1):
            dhk = dh[:, k * b: (k + 1) * b]
            if k + 1 < t:
                dhk += np.matmul(self.wh.T, dz[:, (k + 1) * b: (k + 2) * b], out=tmp)
            np.multiply(dhk, slope[:, k * b: (k + 1) * b], out=dz[:, k * b: (k + 1) * b])
        np.matmul(dz[:, b:], hs[:, :-b].T, out=self.gwh)
        np.matmul(dz, self.x.T, out=self.gwx)
        np.add.reduce(dz, axis=1, out=self.gbh[:, 0])
        self.theta -= LR * self.grad  # (a temporary of 305 floats: as cheap as in place)
        return loss


def trainer_for(net: Network, x: np.ndarray, y: np.ndarray) -> Trainer:
    data = Dataset(x, y, x[:0], y[:0], "regression", ["x"], ["y"])
    return Trainer(net, data, TrainingSettings(optimizer="sgd", learning_rate=LR, batch_size=0,
                                               shuffle=False))


def check_same_math(net: Network, x: np.ndarray, y: np.ndarray) -> None:
    trainer, hand = trainer_for(net.copy(), x, y), HandBPTT(net, x, y)
    for _ in range(3):
        a, b = trainer.step().loss, hand.step()
        assert abs(a - b) <= 1e-10 * abs(b), (a, b)
    trainer.sync_network()
    again = HandBPTT(trainer.network, x, y)
    np.testing.assert_allclose(again.theta, hand.theta, rtol=1e-10, atol=1e-13)


def timed(fn, repeats: int, clock) -> float:
    start = clock()
    for _ in range(repeats):
        fn()
    return (clock() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=20, help="steps per timed block")
    parser.add_argument("--steps", type=int, default=50, help="time steps per sequence")
    parser.add_argument("--batch", type=int, default=32, help="sequences per minibatch")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    net = elman(rng)
    x = rng.normal(size=(args.batch, args.steps, 1))
    y = np.concatenate([np.zeros((args.batch, 1, 1)), x[:, :-1]], axis=1)  # echo
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    with threadpool_limits(args.threads):
        check_same_math(net, x, y)
        trainer, hand = trainer_for(net.copy(), x, y), HandBPTT(net, x, y)
        for _ in range(5):  # warm both (buffers, caches)
            trainer.step()
            hand.step()
        ours, ref = [], []
        for r in range(args.rounds):  # interleaved, the order swapped every other round
            pair = [(ours, trainer.step), (ref, hand.step)]
            for times, fn in (pair if r % 2 == 0 else pair[::-1]):
                times.append(timed(fn, args.repeats, clock))
    o, h = statistics.median(ours), statistics.median(ref)
    q = np.quantile(np.array(ours) / np.array(ref), [0.25, 0.75])
    print(f"Elman 1-{HIDDEN}-1, {args.steps} steps, batch {args.batch}, full BPTT, SGD; "
          f"{args.threads} BLAS thread(s), {'CPU' if args.threads == 1 else 'wall'} time, "
          f"{args.rounds} rounds x {args.repeats} steps, medians")
    print(f"{'Trainer.step':<16}{o * 1e3:>9.3f} ms")
    print(f"{'hand-written':<16}{h * 1e3:>9.3f} ms")
    print(f"ratio {o / h:.2f} (per-round quartiles {q[0]:.2f}-{q[1]:.2f}; target <= {TARGET}) "
          f"{'ok' if o / h <= TARGET else 'NOT MET'}")


if __name__ == "__main__":
    main()
