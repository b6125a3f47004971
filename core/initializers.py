"""Weight initialisers for any graph.

For an edge, fan-in is the number of edges into its target and fan-out the number of edges
out of its source. On a layered net these are the layer sizes of the usual formulas; on a
graph with skip connections they follow what each neuron actually sums.
"""
from __future__ import annotations

import numpy as np

from core.network import Network

INITIALIZERS = {
    "uniform": "U(-c, c), c = the init constant (0.1): small, a hand-wired net starts near-linear",
    "normal": "standard normal N(0, 1): the classic one that saturates sigmoids",
    "xavier_uniform": "Glorot uniform U(-a, a), a = sqrt(6 / (fan_in + fan_out))",
    "xavier_normal": "Glorot normal N(0, 2 / (fan_in + fan_out))",
    "he": "He normal N(0, 2 / fan_in), for ReLU",
    "lecun": "LeCun normal N(0, 1 / fan_in)",
    "zeros": "all zero (hidden neurons stay identical: a lesson in symmetry)",
    "constant": "every weight the same constant",
}


def draw_weights(name: str, fan_in: np.ndarray, fan_out: np.ndarray, rng: np.random.Generator,
                 constant: float = 0.1) -> np.ndarray:
    fi = np.maximum(np.asarray(fan_in, float), 1.0)
    fo = np.maximum(np.asarray(fan_out, float), 1.0)
    n = fi.shape
    if name == "uniform":
        return rng.uniform(-1.0, 1.0, n) * abs(float(constant))
    if name == "normal":
        return rng.standard_normal(n)
    if name == "xavier_uniform":
        a = np.sqrt(6.0 / (fi + fo))
        return rng.uniform(-1.0, 1.0, n) * a
    if name == "xavier_normal":
        return rng.standard_normal(n) * np.sqrt(2.0 / (fi + fo))
    if name == "he":
        return rng.standard_normal(n) * np.sqrt(2.0 / fi)
    if name == "lecun":
        return rng.standard_normal(n) * np.sqrt(1.0 / fi)
    if name == "zeros":
        return np.zeros(n)
    if name == "constant":
        return np.full(n, float(constant))
    raise ValueError(f"unknown initializer {name!r}; use one of {', '.join(INITIALIZERS)}")


def draw_weight(name: str, fan_in: int, fan_out: int, rng: np.random.Generator,
                constant: float = 0.1) -> float:
    return float(draw_weights(name, np.array([fan_in]), np.array([fan_out]), rng, constant)[0])


def wiring_weight(net: Network, source: str, target: str, name: str, rng: np.random.Generator,
                  constant: float = 0.1) -> float:
    """The weight of a new edge source -> target wired by hand: the fans it will have once added.

    So the first edge into a neuron is drawn with fan-in 1, the second with 2, and so on: a
    hand-wired net depends on the order of wiring (the canvas and tests/core/test_defaults.py).
    """
    return draw_weight(name, len(net.incoming(target)) + 1, len(net.outgoing(source)) + 1, rng,
                       constant)


def fans(net: Network, edge_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    indeg: dict[str, int] = {}
    outdeg: dict[str, int] = {}
    for e in net.edges.values():
        indeg[e.target] = indeg.get(e.target, 0) + 1
        outdeg[e.source] = outdeg.get(e.source, 0) + 1
    edges = [net.edges[e] for e in edge_ids]
    return (np.array([indeg[e.target] for e in edges], float),
            np.array([outdeg[e.source] for e in edges], float))


def initialize(net: Network, name: str, seed: int, constant: float = 0.1
               ) -> tuple[dict[str, float], dict[str, float]]:
    """New weights by edge id and biases by neuron id for everything not frozen.

    Deterministic in document order; the network is not modified (apply with set_values).
    """
    rng = np.random.default_rng(seed)
    edge_ids = [e.id for e in net.edges.values() if not e.frozen]
    fan_in, fan_out = fans(net, edge_ids)
    values = draw_weights(name, fan_in, fan_out, rng, constant)
    bias = float(constant) if name == "constant" else 0.0
    biases = {n.id: bias for n in net.neurons.values() if n.role != "input" and not n.frozen}
    return dict(zip(edge_ids, values.tolist())), biases
