"""A standalone Python file that predicts with NumPy alone: the weights as literals and the
same level-by-level forward pass as the engine (rows are samples)."""
from __future__ import annotations

from pathlib import Path

from core.engine import compile_plan
from core.network import Network

_TEMPLATE = '''"""Predictions of a network exported from Backprop Studio. Needs only NumPy.

    python {name} 0.5 1.0          # one sample's inputs on the command line
    echo "0 1" | python {name}      # or rows of inputs on stdin
"""
import sys

import numpy as np

INPUTS = {inputs!r}
OUTPUTS = {outputs!r}
SOFTMAX = {softmax!r}
N_NEURONS = {n_neurons}
OUTPUT_ROWS = {output_rows!r}
# Per level: (first row, last row + 1, first source row, last source row + 1,
#             weights [units x sources], biases, [(activation, first row, last row + 1)])
LEVELS = {levels!r}


def _act(name, z):
    if name == "identity":
        return z
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, {leaky!r} * z)
    if name == "elu":
        return np.where(z > 0, z, {elu!r} * np.expm1(np.minimum(z, 0.0)))
    if name == "softplus":
        return np.logaddexp(0.0, z)
    raise ValueError(name)


def predict(x):
    """Outputs for inputs x of shape (samples, len(INPUTS))."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    a = np.zeros((N_NEURONS, x.shape[0]))
    a[: len(INPUTS)] = x.T
    for start, stop, lo, hi, w, b, groups in LEVELS:
        z = (np.array(w).reshape(stop - start, hi - lo) @ a[lo:hi] if hi > lo
             else np.zeros((stop - start, x.shape[0]))) + np.array(b)[:, None]
        for name, g0, g1 in groups:
            a[g0:g1] = _act(name, z[g0 - start: g1 - start])
    out = a[OUTPUT_ROWS].T
    if SOFTMAX:
        e = np.exp(out - out.max(axis=1, keepdims=True))
        out = e / e.sum(axis=1, keepdims=True)
    return out


if __name__ == "__main__":
    rows = [sys.argv[1:]] if len(sys.argv) > 1 else [l.split() for l in sys.stdin if l.strip()]
    for row in predict([[float(v) for v in r] for r in rows]):
        print(" ".join(repr(float(v)) for v in row))
'''


def python_source(net: Network, loss: str, name: str = "predict.py") -> str:
    from core.activations import ELU_ALPHA, LEAKY_SLOPE

    plan = compile_plan(net)
    params = plan.pack(net)
    levels = [(lv.start, lv.stop, lv.src_lo, lv.src_hi, w.ravel().tolist(),
               params.biases[lv.start: lv.stop].tolist(), [list(g) for g in lv.groups])
              for lv, w in zip(plan.levels, params.weights)]
    return _TEMPLATE.format(
        name=name, inputs=[n.name for n in net.inputs], outputs=[n.name for n in net.outputs],
        softmax=loss == "softmax_ce", n_neurons=plan.n_neurons,
        output_rows=plan.output_rows.tolist(), levels=levels, leaky=LEAKY_SLOPE, elu=ELU_ALPHA)


def export_python(net: Network, loss: str, path: Path) -> None:
    Path(path).write_text(python_source(net, loss, Path(path).name))
