"""Training speed: Trainer.step (the NumPy path) and Trainer.advance in blocks (the real path
of the window's training process and `python main.py train`) against a tight hand-written
NumPy reference and against PyTorch on CPU, interleaved in one run, medians, BLAS threads
fixed.

Trainer.advance(n) runs n steps in one call of the compiled (Numba) kernel when the net and
settings allow it (Trainer.compiled_path() is None: parameters x batch up to 150,000,
float64 or float32, no dropout); otherwise it calls Trainer.step n times. The training
process's loop advances in blocks of about 2 ms; here every call is ADVANCE_BLOCK steps. The
"path" column says which it took, and why not the kernel.

The reference does the same math as the Trainer with the window's defaults (SGD with momentum
0.9, rate 0.1, shuffled minibatches drawn from the same generator, the row's loss):
preallocated arrays, x @ W, in-place activations, every parameter in one flat vector updated
by four in-place NumPy calls, each dL/da written by the product that makes it, nothing else.
Its first losses must agree with the Trainer's to 1e-10 in float64 (checked) so the ratio
compares the same work. PyTorch (torch.optim.SGD with momentum, same batches) is a column when
it is importable; torch.set_num_threads uses the same thread count.

Blocks are timed by this thread's CPU time with one BLAS thread (all the work is on this
thread; time the machine gives other processes is not counted), by elapsed time with more.

    python bench/train_speed.py                 # 1 BLAS thread
    python bench/train_speed.py --threads 2 --rounds 21
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.dataset import Dataset  # noqa: E402
from core.network import Network  # noqa: E402
from core.settings import TrainingSettings  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

LR, MU = 0.1, 0.9
TARGET = 1.3
ADVANCE_BLOCK = 256  # steps per Trainer.advance call


@dataclass(frozen=True)
class Row:
    sizes: tuple[int, ...]
    batch: int
    hidden: str  # activation of hidden neurons
    output: str  # activation of output neurons
    loss: str
    skip: bool = False  # + edges input -> each later layer and hidden 1 -> output

    @property
    def name(self) -> str:
        return "-".join(map(str, self.sizes)) + (" +skip" if self.skip else "")


ROWS = [Row((2, 4, 2, 1), 10, "tanh", "sigmoid", "mse"),
        Row((2, 8, 8, 1), 10, "tanh", "sigmoid", "mse"),
        Row((64, 32, 16, 10), 32, "relu", "identity", "softmax_ce"),
        Row((784, 128, 10), 64, "relu", "identity", "softmax_ce"),
        Row((784, 256, 256, 10), 128, "relu", "identity", "softmax_ce"),
        Row((2, 8, 8, 1), 10, "tanh", "sigmoid", "mse", skip=True)]


def sources(row: Row) -> list[list[int]]:
    """For each non-input layer, the layers it reads (0 = inputs)."""
    out = [[k] for k in range(len(row.sizes) - 1)]
    if row.skip:
        for k in range(2, len(out)):
            out[k] = sorted({*out[k], 0, 1})
    return out


def build(row: Row, seed: int = 0):
    """The document net, the same weights as reference matrices (in x out), and a data set."""
    rng = np.random.default_rng(seed)
    net = Network()
    layers = []
    for i, size in enumerate(row.sizes):
        role = "input" if i == 0 else "output" if i == len(row.sizes) - 1 else "hidden"
        act = "identity" if role == "input" else row.output if role == "output" else row.hidden
        layers.append([net.add_neuron(role, act).id for _ in range(size)])
    mats, biases = [], []
    for k, srcs in enumerate(sources(row)):
        targets = layers[k + 1]
        blocks = []
        for s in srcs:
            w = rng.normal(0, 1 / np.sqrt(row.sizes[s]), size=(row.sizes[s], len(targets)))
            edges = net.connect_many([(a, t) for t in targets for a in layers[s]])
            net.set_values({e.id: float(w[layers[s].index(e.source), targets.index(e.target)])
                            for e in edges})
            blocks.append(w)
        b = rng.normal(0, 0.1, size=len(targets))
        net.set_values(biases={t: float(v) for t, v in zip(targets, b)})
        mats.append(blocks)
        biases.append(b)
    n = row.batch * 8
    x = rng.normal(size=(n, row.sizes[0]))
    if row.loss == "softmax_ce":
        y = np.eye(row.sizes[-1])[rng.integers(0, row.sizes[-1], n)]
        task = "classification"
    else:
        y = (rng.random((n, row.sizes[-1])) > 0.5).astype(float)
        task = "classification"
    data = Dataset(x_train=x, y_train=y, x_test=x[:0], y_test=y[:0], task=task,
                   input_names=[f"x{i}" for i in range(x.shape[1])],
                   target_names=[f"y{i}" for i in range(y.shape[1])], class_names=None,
                   mean=None, std=None)
    return net, mats, biases, data


def make_trainer(row: Row, dtype: type, net: Network, data: Dataset) -> Trainer:
    settings = TrainingSettings(loss=row.loss, optimizer="momentum", learning_rate=LR,
                                momentum=MU, batch_size=row.batch, seed=0)
    if np.dtype(dtype) == np.float32:
        if "precision" not in TrainingSettings.__dataclass_fields__:
            raise NotImplementedError("no float32 setting")
        settings = TrainingSettings(**{**settings.to_dict(), "precision": "float32"})
    return Trainer(net.copy(), data, settings)


class Tight:
    """A hand-written MLP/DAG: preallocated buffers, x @ W, in-place everything, and every
    parameter in one flat vector, so that one update of four NumPy calls moves them all."""

    def __init__(self, row: Row, mats, biases, data: Dataset, dtype: type) -> None:
        self.row, self.srcs, B = row, sources(row), row.batch
        self.x = np.ascontiguousarray(data.x_train, dtype)
        self.y = np.ascontiguousarray(data.y_train, dtype)
        arrays = [w for blocks in mats for w in blocks] + list(biases)
        ends = np.cumsum([0] + [a.size for a in arrays])
        self.p = np.concatenate([np.ravel(a) for a in arrays]).astype(dtype)
        self.v, self.g = np.zeros_like(self.p), np.empty_like(self.p)

        def views(flat: np.ndarray) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
            parts = [flat[i:j].reshape(a.shape) for i, j, a in zip(ends, ends[1:], arrays)]
            counts = np.cumsum([0] + [len(blocks) for blocks in mats])
            return [parts[i:j] for i, j in zip(counts, counts[1:])], parts[counts[-1]:]

        self.w, self.b = views(self.p)
        self.gw, self.gb = views(self.g)
        self.a = [np.empty((B, s), dtype) for s in row.sizes]  # a[0] is the batch of inputs
        self.ga = [np.empty((B, s), dtype) for s in row.sizes]  # dL/da, then dL/dz in place
        self.tmp = [np.empty((B, s), dtype) for s in row.sizes]
        self.yb = np.empty((B, row.sizes[-1]), dtype)
        self.rowmax = np.empty((B, 1), dtype)
        # Backward, last layer first: the first layer to reach a source's dL/da writes it,
        # later ones add to it (a plain chain writes each once, with no zeroing).
        seen: set[int] = set()
        self.first = {}
        for k in range(len(self.srcs) - 1, -1, -1):
            for s in self.srcs[k]:
                self.first[k, s] = s not in seen
                seen.add(s)
        self.rng = np.random.default_rng(0)  # the Trainer's batch order
        self.order, self.pos = np.arange(0), 0

    def _batch(self) -> None:
        n = len(self.x)
        if self.pos >= len(self.order):
            self.order, self.pos = self.rng.permutation(n), 0
        idx = self.order[self.pos: self.pos + self.row.batch]
        self.pos += self.row.batch
        # mode="clip": "raise" buffers a copy (the indices come from a permutation)
        self.x.take(idx, axis=0, out=self.a[0], mode="clip")
        self.y.take(idx, axis=0, out=self.yb, mode="clip")

    def _act(self, name: str, z: np.ndarray) -> None:
        if name == "tanh":
            np.tanh(z, out=z)
        elif name == "relu":
            np.maximum(z, 0.0, out=z)
        elif name == "sigmoid":
            z *= 0.5
            np.tanh(z, out=z)
            z += 1.0
            z *= 0.5

    def _d_act(self, name: str, a: np.ndarray, g: np.ndarray, t: np.ndarray) -> None:
        """g *= f'(z), from the activation a."""
        if name == "tanh":
            np.multiply(a, a, out=t)
            np.subtract(1.0, t, out=t)
            g *= t
        elif name == "relu":
            np.greater(a, 0.0, out=t)
            g *= t
        elif name == "sigmoid":
            np.subtract(1.0, a, out=t)
            t *= a
            g *= t

    def step(self) -> float:
        self._batch()
        a, ga, last = self.a, self.ga, len(self.w) - 1
        for k, srcs in enumerate(self.srcs):
            z = a[k + 1]
            np.matmul(a[srcs[0]], self.w[k][0], out=z)
            for s, w in zip(srcs[1:], self.w[k][1:]):
                np.matmul(a[s], w, out=self.tmp[k + 1])
                z += self.tmp[k + 1]
            z += self.b[k]
            self._act(self.row.output if k == last else self.row.hidden, z)
        loss = self._loss(a[-1], ga[-1])
        for k in range(last, -1, -1):
            d = ga[k + 1]
            if k < last or self.row.loss != "softmax_ce":
                self._d_act(self.row.output if k == last else self.row.hidden, a[k + 1], d,
                            self.tmp[k + 1])
            np.add.reduce(d, axis=0, out=self.gb[k])
            for s, w, gw in zip(self.srcs[k], self.w[k], self.gw[k]):
                np.matmul(a[s].T, d, out=gw)
                if s and self.first[k, s]:
                    np.matmul(d, w.T, out=ga[s])
                elif s:
                    np.matmul(d, w.T, out=self.tmp[s])
                    ga[s] += self.tmp[s]
        self.v *= MU  # classical momentum on every parameter at once
        self.g *= LR
        self.v -= self.g
        self.p += self.v
        return loss

    def _loss(self, out: np.ndarray, grad: np.ndarray) -> float:
        if self.row.loss == "mse":
            np.subtract(out, self.yb, out=grad)
            r = grad.ravel()
            value = float(np.dot(r, r) / r.size)
            grad *= 2.0 / r.size
            return value
        # softmax cross-entropy on identity outputs: grad = (softmax - y) / B
        np.max(out, axis=1, keepdims=True, out=self.rowmax)
        np.subtract(out, self.rowmax, out=grad)
        np.exp(grad, out=self.tmp[-1])
        np.sum(self.tmp[-1], axis=1, keepdims=True, out=self.rowmax)
        np.log(self.rowmax, out=self.rowmax)
        grad -= self.rowmax  # log softmax
        value = float(-np.vdot(self.yb, grad) / len(out))
        np.exp(grad, out=grad)
        grad -= self.yb
        grad /= len(out)
        return value


def torch_step_fn(row: Row, mats, biases, data: Dataset, dtype: type):
    import torch

    tdtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
    srcs = sources(row)
    ws = [[torch.tensor(w, dtype=tdtype, requires_grad=True) for w in blocks] for blocks in mats]
    bs = [torch.tensor(b, dtype=tdtype, requires_grad=True) for b in biases]
    params = [w for blocks in ws for w in blocks] + bs
    opt = torch.optim.SGD(params, lr=LR, momentum=MU)
    x = torch.tensor(data.x_train, dtype=tdtype)
    y = torch.tensor(data.y_train, dtype=tdtype)
    labels = torch.tensor(np.argmax(data.y_train, axis=1))
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
            "identity": lambda z: z}
    rng = np.random.default_rng(0)
    state = {"order": np.arange(0), "pos": 0}
    last = len(srcs) - 1

    def step() -> float:
        if state["pos"] >= len(state["order"]):
            state["order"], state["pos"] = rng.permutation(len(x)), 0
        idx = torch.from_numpy(state["order"][state["pos"]: state["pos"] + row.batch])
        state["pos"] += row.batch
        a = [x[idx]]
        for k, ss in enumerate(srcs):
            z = torch.addmm(bs[k], a[ss[0]], ws[k][0])
            for s, w in zip(ss[1:], ws[k][1:]):
                z = z + a[s] @ w
            a.append(acts[row.output if k == last else row.hidden](z))
        if row.loss == "mse":
            loss = torch.nn.functional.mse_loss(a[-1], y[idx])
        else:
            loss = torch.nn.functional.cross_entropy(a[-1], labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def check_same(row: Row, trainer: Trainer, tight: Tight, steps: int = 5) -> float:
    """Largest difference between the first losses of the Trainer and the reference."""
    worst = 0.0
    for _ in range(steps):
        a, b = trainer.step().loss, tight.step()
        worst = max(worst, abs(a - b) / max(1.0, abs(a)))
    return worst


def check_advance(row: Row, trainer: Trainer, tight: Tight, steps: int = 5) -> float:
    """check_same for Trainer.advance: its first losses (the batch-loss record) against the
    reference's."""
    trainer.advance(steps)
    worst = 0.0
    for a in trainer.batch_loss.y[:steps]:
        b = tight.step()
        worst = max(worst, abs(a - b) / max(1.0, abs(a)))
    return worst


# The clock blocks are timed with: this thread's CPU time ("cpu"), or elapsed time ("wall").
# With one BLAS thread every step runs on this thread, so its CPU time is the work a step
# does, and the time the other processes on a busy machine hold the cores is not counted.
CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def block(fn, n: int, steps_per_call: int = 1) -> float:
    """Seconds per step of n calls of fn, each `steps_per_call` steps."""
    start = clock()
    for _ in range(n):
        fn()
    return (clock() - start) / (n * steps_per_call)


def measure(row: Row, dtype: type, rounds: int, have_torch: bool) -> dict[str, float]:
    net, mats, biases, data = build(row)
    try:
        trainer = make_trainer(row, dtype, net, data)
    except NotImplementedError:
        return {}
    tight = Tight(row, mats, biases, data, dtype)
    diff = check_same(row, make_trainer(row, dtype, net, data), Tight(row, mats, biases, data,
                                                                      dtype))
    diff = max(diff, check_advance(row, make_trainer(row, dtype, net, data),
                                   Tight(row, mats, biases, data, dtype)))
    tol = 1e-10 if np.dtype(dtype) == np.float64 else 1e-4
    assert diff <= tol, f"{row.name} {np.dtype(dtype).name}: losses differ by {diff:.3g}"
    advancing = make_trainer(row, dtype, net, data)
    path = advancing.compiled_path() or "compiled"
    fns = {"numpy": tight.step, "trainer": trainer.step,
           "advance": lambda: advancing.advance(ADVANCE_BLOCK)}
    per_call = {"advance": ADVANCE_BLOCK}
    if have_torch:
        fns["torch"] = torch_step_fn(row, mats, biases, data, dtype)
    for name, fn in fns.items():  # warm up (caches, first allocations, the kernel's loading)
        block(fn, 20 if name != "advance" else 2)
    n = max(5, int(0.02 / max(block(tight.step, 20), 1e-7)))
    calls = {k: max(1, n // per_call.get(k, 1)) for k in fns}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(block(fn, calls[name], per_call.get(name, 1)))
    return {k: statistics.median(v) for k, v in times.items()} | {"diff": diff, "path": path}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--dtype", choices=("float64", "float32", "both"), default="both")
    parser.add_argument("--clock", choices=sorted(CLOCKS),
                        help="cpu (this thread's CPU time; the default with one thread) or "
                             "wall (elapsed time; the default with more, whose work runs on "
                             "other threads)")
    args = parser.parse_args()
    global clock
    args.clock = args.clock or ("cpu" if args.threads == 1 else "wall")
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu counts this thread only: use it with --threads 1")
    clock = CLOCKS[args.clock]
    try:
        import torch
        torch.set_num_threads(args.threads)
        have_torch = True
        torch_note = f"torch {torch.__version__}, {args.threads} thread(s)"
    except ImportError:
        have_torch, torch_note = False, "PyTorch not importable: its column is skipped"
    dtypes = ["float64", "float32"] if args.dtype == "both" else [args.dtype]
    print(f"BLAS threads: {args.threads} (threadpoolctl); {torch_note}; clock: {args.clock}; medians of "
          f"{args.rounds} interleaved rounds; momentum {MU}, rate {LR}")
    print(f"{'net':<20}{'batch':>6}{'dtype':>9}{'numpy us':>10}{'step us':>9}"
          f"{'step/np':>8}{'advance us':>11}{'adv/np':>7}{'torch us':>10}{'step/torch':>11}"
          f"  loss diff  advance path")
    worst = 0.0
    with threadpool_limits(limits=args.threads):
        for row in ROWS:
            for dt in dtypes:
                r = measure(row, np.dtype(dt).type, args.rounds, have_torch)
                if not r:
                    print(f"{row.name:<20}{row.batch:>6}{dt:>9}  (no float32 setting)")
                    continue
                ratio = r["trainer"] / r["numpy"]
                worst = max(worst, ratio)
                torch_cols = (f"{r['torch'] * 1e6:>10.1f}{r['trainer'] / r['torch']:>11.2f}"
                              if "torch" in r else f"{'-':>10}{'-':>11}")
                over = "" if ratio <= TARGET else "  (step over " + str(TARGET) + ")"
                print(f"{row.name:<20}{row.batch:>6}{dt:>9}{r['numpy'] * 1e6:>10.1f}"
                      f"{r['trainer'] * 1e6:>9.1f}{ratio:>8.2f}{r['advance'] * 1e6:>11.1f}"
                      f"{r['advance'] / r['numpy']:>7.2f}{torch_cols}  {r['diff']:.1e}"
                      f"    {r['path']}{over}", flush=True)
    print(f"worst Trainer.step/numpy {worst:.2f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
