"""Random networks and batches for property tests: any DAG the editor can draw."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core.activations import ACTIVATIONS
from core.network import Network

ACTS = sorted(ACTIVATIONS)
LOSS_NAMES = ("mse", "huber", "bce", "softmax_ce")
WEIGHTS = st.floats(-2.0, 2.0, allow_subnormal=False)
BIASES = st.floats(-1.0, 1.0, allow_subnormal=False)
VALUES = st.floats(-2.0, 2.0, allow_subnormal=False)


@st.composite
def random_dag(draw, output_activation: str | None = None, min_outputs: int = 1,
               max_hidden: int = 8) -> Network:
    """A valid Network: 1-4 inputs, 0-max_hidden hidden, min_outputs-3 outputs, any
    activations. Neurons are created with their roles shuffled, so document order is not
    topological order; edges run from any earlier to any later neuron of a random topological
    order (skip connections included) and are added in shuffled order. Hidden neurons may have
    no incoming edge; every output has at least one."""
    n_in, n_hidden = draw(st.integers(1, 4)), draw(st.integers(0, max_hidden))
    n_out = draw(st.integers(min_outputs, 3))
    roles = draw(st.permutations(["input"] * n_in + ["hidden"] * n_hidden + ["output"] * n_out))
    net = Network()
    for role in roles:
        act = "identity" if role == "input" else (
            output_activation if role == "output" and output_activation else
            draw(st.sampled_from(ACTS)))
        net.add_neuron(role, act, bias=0.0 if role == "input" else draw(BIASES))
    inputs = [n.id for n in net.inputs]
    topo = inputs + draw(st.permutations([nid for nid in net.neurons if nid not in inputs]))
    pairs = []
    for k, target in enumerate(topo[n_in:], start=n_in):
        sources = [s for s in topo[:k] if net.neurons[s].role != "output"]
        chosen = draw(st.sets(st.sampled_from(sources),
                              min_size=1 if net.neurons[target].role == "output" else 0))
        pairs += [(s, target) for s in sorted(chosen, key=topo.index)]
    for s, t in draw(st.permutations(pairs)):
        net.connect(s, t, draw(WEIGHTS))
    return net


def targets_for(loss: str, n_samples: int, n_outputs: int) -> st.SearchStrategy[np.ndarray]:
    """Targets a loss accepts: real numbers, 0/1 labels (bce) or one-hot rows (softmax_ce)."""
    if loss == "softmax_ce":
        return st.lists(st.integers(0, n_outputs - 1), min_size=n_samples,
                        max_size=n_samples).map(lambda c: np.eye(n_outputs)[c])
    if loss == "bce":
        return hnp.arrays(np.float64, (n_samples, n_outputs), elements=st.sampled_from([0.0, 1.0]))
    return hnp.arrays(np.float64, (n_samples, n_outputs), elements=VALUES)


@st.composite
def batches(draw, n_inputs: int, n_outputs: int, loss: str,
            sizes: tuple[int, ...] = (1, 16)) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): x as (samples x inputs), y as (samples x outputs) matching the loss."""
    b = draw(st.sampled_from(sizes))
    x = draw(hnp.arrays(np.float64, (b, n_inputs), elements=VALUES))
    return x, draw(targets_for(loss, b, n_outputs))


@st.composite
def problems(draw, losses: tuple[str, ...] = LOSS_NAMES, sizes: tuple[int, ...] = (1, 16)):
    """(loss, net, x, y): a loss, a random DAG that loss accepts (sigmoid outputs for bce, at
    least two outputs for softmax_ce) and a batch for it."""
    loss = draw(st.sampled_from(losses))
    net = draw(random_dag(output_activation="sigmoid" if loss == "bce" else None,
                          min_outputs=2 if loss == "softmax_ce" else 1))
    x, y = draw(batches(len(net.inputs), len(net.outputs), loss, sizes))
    return loss, net, x, y


def build_dag(seed: int, n_in: int, n_hidden: int, n_out: int, density: float = 0.5,
              output_activation: str | None = None) -> Network:
    """A seeded random DAG for example tests: hidden neurons in document order, each edge
    from an earlier neuron to a later one, every output fed by at least one neuron."""
    rng = np.random.default_rng(seed)
    net = Network()
    inputs = [net.add_neuron("input").id for _ in range(n_in)]
    hidden = [net.add_neuron("hidden", ACTS[rng.integers(len(ACTS))],
                             bias=float(rng.normal(0, 0.5))).id for _ in range(n_hidden)]
    outputs = [net.add_neuron("output", output_activation or ACTS[rng.integers(len(ACTS))],
                              bias=float(rng.normal(0, 0.5))).id for _ in range(n_out)]
    order = inputs + hidden
    for j, target in enumerate(hidden + outputs):
        sources = order[: n_in + min(j, n_hidden)]
        chosen = [s for s in sources if rng.random() < density]
        if target in outputs and not chosen:
            chosen = [sources[rng.integers(len(sources))]]
        for s in chosen:
            net.connect(s, target, float(rng.normal(0, 0.8)))
    return net


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)  # this form cannot overflow for very negative z
    return e / (1.0 + e)


# The activations from their textbook definitions, one float at a time: not core.activations.
NAIVE_F = {
    "identity": lambda z: z,
    "sigmoid": _sigmoid,
    "tanh": math.tanh,
    "relu": lambda z: max(z, 0.0),
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "elu": lambda z: z if z > 0 else math.expm1(z),
    "softplus": lambda z: max(z, 0.0) + math.log1p(math.exp(-abs(z))),
}


def naive_activations(net: Network, x_row) -> dict[str, float]:
    """Every neuron's output for one sample, one neuron at a time in topological order with
    plain Python sums and math-module activations: an oracle independent of the engine."""
    value: dict[str, float] = {}
    inputs = [m.id for m in net.inputs]
    for nid in net.topological_order():
        n = net.neurons[nid]
        if n.role == "input":
            value[nid] = float(x_row[inputs.index(nid)])
            continue
        z = n.bias + sum(e.weight * value[e.source] for e in net.incoming(nid))
        value[nid] = NAIVE_F[n.activation](z)
    return value


def dag_with_skips() -> Network:
    """A seeded random DAG with skip connections and a hidden neuron feeding several others
    (2 inputs, 5 hidden, 2 outputs)."""
    for seed in range(100):
        net = build_dag(seed, 2, 5, 2, density=0.6)
        depth = net.depths()
        skips = [e for e in net.edges.values() if depth[e.target] - depth[e.source] > 1]
        fan_out = [n for n in net.neurons if len(net.outgoing(n)) > 1 and
                   net.neurons[n].role == "hidden"]
        if skips and fan_out:
            return net
    raise AssertionError("no seed gave skip connections")


@st.composite
def random_recurrent(draw, output_activation: str | None = None, min_outputs: int = 1,
                     max_hidden: int = 6, min_delayed: int = 1, max_delayed: int = 5) -> Network:
    """random_dag with delayed edges added: from any neuron (outputs feed back, as in a
    Jordan net; an input's delayed edge reads the input one step earlier) to any hidden or
    output neuron, self-loops included, so every kind of cycle through a delay, next to the
    skip edges random_dag already draws."""
    net = draw(random_dag(output_activation, min_outputs, max_hidden))
    targets = [n.id for n in net.neurons.values() if n.role != "input"]
    pairs = [(s, t) for s in net.neurons for t in targets if net.find_edge(s, t) is None]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, min_size=min_delayed,
                           max_size=max_delayed))
    for s, t in chosen:
        net.connect(s, t, draw(WEIGHTS), delay=1)
    return net


@st.composite
def sequence_problems(draw, losses: tuple[str, ...] = LOSS_NAMES, max_steps: int = 4):
    """(loss, net, x, y, mask): a loss, a random recurrent net that loss accepts, and a batch
    of 1-3 sequences of 1-max_steps steps, some shorter ones padded at the end (mask False)
    with values that must not matter."""
    loss = draw(st.sampled_from(losses))
    net = draw(random_recurrent(output_activation="sigmoid" if loss == "bce" else None,
                                min_outputs=2 if loss == "softmax_ce" else 1))
    b, t = draw(st.integers(1, 3)), draw(st.integers(1, max_steps))
    x = draw(hnp.arrays(np.float64, (b, t, len(net.inputs)), elements=VALUES))
    y = draw(targets_for(loss, b * t, len(net.outputs))).reshape(b, t, -1)
    lengths = draw(st.lists(st.integers(1, t), min_size=b, max_size=b))
    mask = np.arange(t)[None, :] < np.array(lengths)[:, None]
    return loss, net, x, y, mask


def naive_sequence_outputs(net: Network, x_seq, held: dict | None = None,
                           nudge: dict[tuple[str, int], float] | None = None
                           ) -> list[dict[str, float]]:
    """Every neuron's output at every step of one sequence (steps x inputs), one neuron at a
    time in topological order of the instantaneous edges, a delayed edge reading its source's
    output of the step before (0 at the first): the unrolling written out, independent of the
    engine. held: {step: outputs} replaces what delayed edges read at that step (the state
    entering a truncation window, taken as a constant). nudge: {(neuron, step): h} adds h to
    that neuron's net input at that step (0-based): dL/dnet there by differences."""
    inputs = [m.id for m in net.inputs]
    order = net.topological_order()
    steps: list[dict[str, float]] = []
    for t, row in enumerate(x_seq):
        before = (held or {}).get(t, steps[-1] if steps else None)
        value: dict[str, float] = {}
        for nid in order:
            n = net.neurons[nid]
            if n.role == "input":
                value[nid] = float(row[inputs.index(nid)])
                continue
            z = n.bias
            for e in net.incoming(nid):
                if e.delay:
                    z += e.weight * (before[e.source] if before is not None else 0.0)
                else:
                    z += e.weight * value[e.source]
            z += (nudge or {}).get((nid, t), 0.0)
            value[nid] = NAIVE_F[n.activation](z)
        steps.append(value)
    return steps
