"""Random networks for property tests: any DAG the editor can draw."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from core.activations import ACTIVATIONS
from core.network import Network

ACTS = sorted(ACTIVATIONS)


def build_dag(seed: int, n_in: int, n_hidden: int, n_out: int, density: float = 0.5,
              output_activation: str | None = None) -> Network:
    """A random DAG: hidden neurons in a random order, each edge from an earlier neuron to a
    later one (skip connections included), every output fed by at least one neuron."""
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


@st.composite
def random_dags(draw, output_activation: str | None = None, min_outputs: int = 1):
    return build_dag(draw(st.integers(0, 2**31)), draw(st.integers(1, 4)),
                     draw(st.integers(0, 8)), draw(st.integers(min_outputs, 3)),
                     draw(st.floats(0.2, 0.9)), output_activation)


def naive_activations(net: Network, x_row) -> dict[str, float]:
    """Every neuron's output for one sample, one neuron at a time in topological order with
    plain Python sums: an oracle independent of the engine's matrices."""
    value: dict[str, float] = {}
    inputs = [m.id for m in net.inputs]
    for nid in net.topological_order():
        n = net.neurons[nid]
        if n.role == "input":
            value[nid] = float(x_row[inputs.index(nid)])
            continue
        z = n.bias + sum(e.weight * value[e.source] for e in net.incoming(nid))
        value[nid] = float(ACTIVATIONS[n.activation].f(np.array([z]))[0])
    return value
