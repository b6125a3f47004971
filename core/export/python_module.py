"""A standalone Python file that predicts with NumPy alone: the weights as literals and the
same level-by-level forward pass as the engine (rows are samples). A recurrent net's file
runs those levels once per time step, with step(x_t, state) and predict over sequences.

Nothing a user named is ever interpolated into code: every text (ids, labels, the title)
goes in as an ascii() literal, so the file is pure ASCII and a name can neither end a string
nor run anything; the docstring holds no user text at all.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from core.activations import ACTIVATIONS
from core.losses import LOSSES
from core.files import write_atomically
from core.engine import compile_plan
from core.network import Network
from core.export.preprocessing import NONE, Preprocessing
from core.features import column_name, numpy_function_source, resolved

_TEMPLATE = '''"""Predictions of a network exported from Backprop Studio. Needs only NumPy.

    python THIS_FILE 0.5 1.0          # one sample's raw inputs on the command line
    echo "0 1" | python THIS_FILE     # or rows of raw inputs on stdin

Inputs are raw: the standardisation the app trained with (MEAN, STD) is applied here, then
the input neurons' features of the columns (FEATURES) are computed.
Prints one line per sample: the outputs, then the predicted class when there are classes.
"""
import os
import sys

import numpy as np

TITLE = {title}
INPUTS = {inputs}  # what a row of raw inputs holds
OUTPUTS = {outputs}
# Per input neuron: (feature, [data columns]), or None when each takes its own column
FEATURES = {features}
MEAN = {mean}  # per input; None when the inputs were not standardised
STD = {std}
CLASS_NAMES = {class_names}  # in output order (binary: the classes of 0 and 1), or None
N_NEURONS = {n_neurons}
OUTPUT_ROWS = {output_rows}
# Per level: (first row, last row + 1, first source row, last source row + 1,
#             weights [units x sources], biases, [(activation, first row, last row + 1)])
LEVELS = {levels}


{act}
{feature}

def predict(x):
    """Outputs for raw inputs x of shape (samples, len(INPUTS))."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    if MEAN is not None:
        x = (x - np.array(MEAN)) / np.array(STD)
    if FEATURES is not None:
        x = np.stack([_feature(kind, *(x[:, c] for c in cols)) for kind, cols in FEATURES], 1)
    a = np.zeros((N_NEURONS, x.shape[0]))
    a[: x.shape[1]] = x.T
    for start, stop, lo, hi, w, b, groups in LEVELS:
        z = (np.array(w).reshape(stop - start, hi - lo) @ a[lo:hi] if hi > lo
             else np.zeros((stop - start, x.shape[0]))) + np.array(b)[:, None]
        for name, g0, g1 in groups:
            a[g0:g1] = _act(name, z[g0 - start: g1 - start])
    return _output(a[OUTPUT_ROWS].T)


def _output(out):
    """What the network predicts from its outputs' activations."""
{output}


def classify(x):
    """The predicted class name of each sample (needs CLASS_NAMES)."""
    out = predict(x)
    index = (out[:, 0] > 0.5).astype(int) if out.shape[1] == 1 else out.argmax(axis=1)
    return [CLASS_NAMES[i] for i in index]


def _main(argv, stdin):
    name = os.path.basename(argv[0])
    name = name if name.isprintable() else ascii(name)  # no terminal control codes
    usage = "usage: python %s X1 ... X%d   (or rows of %d numbers on stdin)" % (
        name, len(INPUTS), len(INPUTS))
    if len(argv) > 1:
        rows = [argv[1:]]
    elif stdin is None or stdin.isatty():
        rows = []
    else:
        rows = [line.split() for line in stdin if line.strip()]
    if not rows:
        print(usage, file=sys.stderr)
        return 2
    try:
        x = [[float(v) for v in row] for row in rows]
    except ValueError as exc:
        print("error: %s; %s" % (exc, usage), file=sys.stderr)
        return 2
    if any(len(row) != len(INPUTS) for row in x):
        print("error: every row needs %d numbers; %s" % (len(INPUTS), usage), file=sys.stderr)
        return 2
    if any(v != v or v in (float("inf"), float("-inf")) for row in x for v in row):
        print("error: every input must be a finite number, not nan or inf; %s" % usage,
              file=sys.stderr)
        return 2
    out = predict(x)
    names = classify(x) if CLASS_NAMES is not None else None
    for i, row in enumerate(out):
        line = " ".join(repr(float(v)) for v in row)
        print(line if names is None else line + " " + ascii(names[i]))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv, sys.stdin))
'''


# A recurrent net (core.engine.recurrent): the same levels at every time step, each level's
# net inputs also receiving what the delayed edges carry from the step before (the state).
_SEQUENCE_TEMPLATE = '''"""Predictions of a network exported from Backprop Studio: a recurrent net,
stepped through a sequence. Needs only NumPy.

    python THIS_FILE < steps.txt    # a sequence's steps on stdin, one row of raw inputs
                                    # per step; a blank line starts the next sequence
    python THIS_FILE 0.5 1.0        # a sequence of one step

Inputs are raw: the standardisation the app trained with (MEAN, STD) is applied here, then
the input neurons' features of the columns (FEATURES). Every sequence starts from a zero
state and runs all its steps (padding is the caller's business).
predict(x): x (sequences, steps, inputs), or one sequence (steps, inputs) -> the outputs at
every step. step(x_t, state) -> (outputs, state): one step of a batch, the state explicit.
Prints one line per step (the outputs, then the predicted class when there are classes), a
blank line between sequences.
"""
import os
import sys

import numpy as np

TITLE = {title}
INPUTS = {inputs}  # what a row (one time step) of raw inputs holds
OUTPUTS = {outputs}
# Per input neuron: (feature, [data columns]), or None when each takes its own column
FEATURES = {features}
MEAN = {mean}  # per input; None when the inputs were not standardised
STD = {std}
CLASS_NAMES = {class_names}  # in output order (binary: the classes of 0 and 1), or None
N_NEURONS = {n_neurons}
OUTPUT_ROWS = {output_rows}
# Per level: (first row, last row + 1, first source row, last source row + 1,
#             weights [units x sources], biases, [(activation, first row, last row + 1)])
LEVELS = {levels}
STATE = {state}  # the neurons the delayed edges read: their outputs at the step before
STATE_ROWS = {state_rows}
# The delayed edges: (first row they feed, last row + 1, weights [those rows x len(STATE)])
DELAYED = {delayed}


{act}
{feature}

def initial_state(samples):
    """The state before the first step: every delayed edge reads 0."""
    return np.zeros((samples, len(STATE)))


def step(x_t, state=None):
    """One time step of a batch: raw inputs x_t (samples, len(INPUTS)) and the state
    (samples, len(STATE)) the step before left (None: this is the first step) ->
    (outputs (samples, len(OUTPUTS)), the state this step leaves)."""
    x = np.atleast_2d(np.asarray(x_t, dtype=float))
    if MEAN is not None:
        x = (x - np.array(MEAN)) / np.array(STD)
    if FEATURES is not None:
        x = np.stack([_feature(kind, *(x[:, c] for c in cols)) for kind, cols in FEATURES], 1)
    if state is None:
        state = initial_state(x.shape[0])
    d0, d1, dw = DELAYED
    carried = np.array(dw).reshape(d1 - d0, len(STATE)) @ np.asarray(state, dtype=float).T
    a = np.zeros((N_NEURONS, x.shape[0]))
    a[: x.shape[1]] = x.T
    for start, stop, lo, hi, w, b, groups in LEVELS:
        z = (np.array(w).reshape(stop - start, hi - lo) @ a[lo:hi] if hi > lo
             else np.zeros((stop - start, x.shape[0]))) + np.array(b)[:, None]
        r0, r1 = max(start, d0), min(stop, d1)
        if r0 < r1:
            z[r0 - start: r1 - start] += carried[r0 - d0: r1 - d0]
        for name, g0, g1 in groups:
            a[g0:g1] = _act(name, z[g0 - start: g1 - start])
    return _output(a[OUTPUT_ROWS].T), a[STATE_ROWS].T.copy()


def predict(x):
    """The outputs at every step of raw sequences x (sequences, steps, len(INPUTS)), each from
    a zero state; one sequence (steps, len(INPUTS)) gives (steps, len(OUTPUTS))."""
    x = np.asarray(x, dtype=float)
    one = x.ndim == 2
    x = x[None] if one else x
    state, out = None, []
    for t in range(x.shape[1]):
        y, state = step(x[:, t], state)
        out.append(y)
    out = np.stack(out, 1) if out else np.zeros((x.shape[0], 0, len(OUTPUTS)))
    return out[0] if one else out


def _output(out):
    """What the network predicts from its outputs' activations."""
{output}


def classify(x):
    """The predicted class name at every step of one sequence x (steps, len(INPUTS))."""
    out = predict(np.asarray(x, dtype=float).reshape(-1, len(INPUTS)))
    index = (out[:, 0] > 0.5).astype(int) if out.shape[1] == 1 else out.argmax(axis=1)
    return [CLASS_NAMES[i] for i in index]


def _main(argv, stdin):
    name = os.path.basename(argv[0])
    name = name if name.isprintable() else ascii(name)  # no terminal control codes
    usage = ("usage: python %s X1 ... X%d   (or a sequence's steps on stdin, %d numbers a "
             "row, a blank line between sequences)" % (name, len(INPUTS), len(INPUTS)))
    sequences, rows = [], []
    if len(argv) > 1:
        sequences = [[argv[1:]]]
    elif stdin is not None and not stdin.isatty():
        for line in list(stdin) + [""]:
            if line.strip():
                rows.append(line.split())
            elif rows:
                sequences, rows = sequences + [rows], []
    if not sequences:
        print(usage, file=sys.stderr)
        return 2
    try:
        xs = [[[float(v) for v in row] for row in rows] for rows in sequences]
    except ValueError as exc:
        print("error: %s; %s" % (exc, usage), file=sys.stderr)
        return 2
    if any(len(row) != len(INPUTS) for x in xs for row in x):
        print("error: every row needs %d numbers; %s" % (len(INPUTS), usage), file=sys.stderr)
        return 2
    if any(v != v or v in (float("inf"), float("-inf")) for x in xs for row in x for v in row):
        print("error: every input must be a finite number, not nan or inf; %s" % usage,
              file=sys.stderr)
        return 2
    for k, x in enumerate(xs):
        out = predict(x)
        names = classify(x) if CLASS_NAMES is not None else None
        if k:
            print()
        for i, row in enumerate(out):
            line = " ".join(repr(float(v)) for v in row)
            print(line if names is None else line + " " + ascii(names[i]))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv, sys.stdin))
'''


def python_source(net: Network, loss: str, prep: Preprocessing = NONE, title: str = "") -> str:
    plan = compile_plan(net)
    params = plan.pack(net)
    levels = [(lv.start, lv.stop, lv.src_lo, lv.src_hi, w.ravel().tolist(),
               params.biases[lv.start: lv.stop].tolist(), [list(g) for g in lv.groups])
              for lv, w in zip(plan.levels, params.weights)]
    # ascii() of str, float, int, bool, None and lists/tuples of them is a Python literal.
    features = resolved(plan.features)
    if features is None:
        inputs = [n.name for n in net.inputs]
    else:
        inputs = [column_name(c) for c in range(prep.raw_width(plan.n_columns))]
    fields = dict(
        title=ascii(str(title)), inputs=ascii(inputs),
        features=ascii(None if features is None else
                       [(f.kind, list(f.columns)) for f in features]),
        feature=numpy_function_source(),
        outputs=ascii([n.name for n in net.outputs]),
        mean=ascii(None if prep.mean is None else list(prep.mean)),
        std=ascii(None if prep.std is None else list(prep.std)),
        class_names=ascii(None if prep.class_names is None else list(prep.class_names)),
        output=textwrap.indent(LOSSES[loss].numpy_predict, "    "), n_neurons=ascii(plan.n_neurons),
        output_rows=ascii(plan.output_rows.tolist()), levels=ascii(levels), act=_act_source())
    if not plan.recurrent:
        return _TEMPLATE.format(**fields)
    block = plan.delayed
    used = np.unique(block.cols)  # the block's source columns some delayed edge reads
    rows = (used + block.src_lo).tolist()
    return _SEQUENCE_TEMPLATE.format(
        **fields, state=ascii([net.neurons[plan.order[r]].name for r in rows]),
        state_rows=ascii(rows),
        delayed=ascii((block.start, block.stop, params.weights[-1][:, used].ravel().tolist())))


def _act_source() -> str:
    """def _act(name, z): one branch per activation, each returning its registry expression."""
    lines = ["def _act(name, z):"]
    for name, act in ACTIVATIONS.items():
        lines += [f"    if name == {ascii(name)}:", f"        return {act.numpy_source}"]
    return "\n".join(lines + ["    raise ValueError(name)"]) + "\n"


def export_python(net: Network, loss: str, path: Path, prep: Preprocessing = NONE,
                  title: str = "") -> None:
    write_atomically(path, python_source(net, loss, prep, title).encode("ascii"))
