"""ONNX export (opset 17) of any graph the editor can draw, built level by level like the
engine: slice the level's source columns, one MatMul with a constant matrix, Add the biases,
then each activation group on its own columns.

Input "x": float32 [batch, inputs], raw (inputs in document order; the training
standardisation, when there was one, is the graph's first step). With input features
(core.features) "x" holds the data's raw columns and the graph computes each input neuron's
feature from them after the standardisation, by the feature's own ONNX form; output "y": float32
[batch, outputs] (outputs in document order), softmax over them for softmax cross-entropy.
metadata_props: title, inputs, outputs, standardization, mean, std, class_names (lists as
JSON text).

A recurrent net (delayed edges) becomes a Scan over the steps: "x" float32 [batch, steps,
inputs], "y" [batch, steps, outputs]; the body is the graph above for one step, each level's
net inputs also receiving the delayed edges' weights times the state, the outputs the step
before of the neurons those edges read (zeros at the first). No mask: padding is the caller's.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from core.activations import ACTIVATIONS
from core.errors import ExportError
from core.losses import LOSSES
from core.files import write_atomically
from core.engine import compile_plan
from core.engine.plan import Params, Plan
from core.network import Network
from core.export.preprocessing import NONE, Preprocessing
from core.features import Feature, resolved

OPSET = 17
MAX_BYTES = 2**31 - 1  # protobuf's limit on one message


class _Builder:
    def __init__(self) -> None:
        self.nodes: list = []
        self.inits: list = []
        self._n = 0
        self._axis1 = None

    def name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], stem: str, **attrs) -> str:
        out = self.name(stem)
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def stem_op(self, stem: str):
        """op(kind, inputs, **attrs) naming its outputs after `stem`: what a registry entry's
        ONNX form appends its nodes through."""
        return lambda kind, inputs, **attrs: self.op(kind, inputs, stem, **attrs)

    def columns(self, tensor: str, start: int, stop: int) -> str:
        if self._axis1 is None:
            self._axis1 = self.const("axis", np.array([1], np.int64))
        s = self.const("start", np.array([start], np.int64))
        e = self.const("end", np.array([stop], np.int64))
        return self.op("Slice", [tensor, s, e, self._axis1], "cols")


class _Rows:
    """The activations of rows [0, n) so far: one tensor for [0, base_stop) and the newer
    levels' blocks after it. A level reading only inside one block slices that block; one
    reading across blocks first folds the newer blocks into the base with one Concat. Every
    block is folded at most once, so the graph grows linearly with depth (a Concat of all
    earlier blocks at every level made it quadratic: 147 MB for a 5,000-deep chain)."""

    def __init__(self, b: _Builder, x: str, n_inputs: int) -> None:
        self.b, self.base, self.base_stop = b, x, n_inputs
        self.blocks: list[tuple[int, int, str]] = []  # (first row, last row + 1, tensor)

    def add(self, start: int, stop: int, tensor: str) -> None:
        self.blocks.append((start, stop, tensor))

    def fold(self) -> str:
        if self.blocks:
            self.base = self.b.op("Concat", [self.base, *(t for _, _, t in self.blocks)], "all",
                                  axis=1)
            self.base_stop = self.blocks[-1][1]
            self.blocks = []
        return self.base

    def read(self, lo: int, hi: int) -> str:
        for start, stop, tensor in reversed(self.blocks):
            if start <= lo and hi <= stop:
                if (lo, hi) == (start, stop):
                    return tensor
                return self.b.columns(tensor, lo - start, hi - start)
        if hi > self.base_stop:
            self.fold()
        if (lo, hi) == (0, self.base_stop):
            return self.base
        return self.b.columns(self.base, lo, hi)


def build_model(net: Network, loss: str, prep: Preprocessing = NONE, title: str = ""
                ) -> onnx.ModelProto:
    _check_float32(net, prep)
    plan = compile_plan(net)
    if plan.recurrent:
        return _finish(_scan_graph(plan, net, loss, prep), net, prep, title, _SEQUENCE_DOC)
    params = plan.pack(net, dtype=np.float32)
    width = plan.n_inputs if resolved(plan.features) is None else prep.raw_width(plan.n_columns)
    b = _Builder()
    rows = _levels(b, _inputs(b, "x", plan, prep), plan, params)
    b.nodes.append(helper.make_node("Identity", [_outputs(b, rows, plan, loss)], ["y"]))
    graph = helper.make_graph(
        b.nodes, "backprop_studio",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", len(plan.output_rows)])],
        b.inits)
    return _finish(graph, net, prep, title)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_float32(net: Network, prep: Preprocessing) -> None:
    """The model computes in float32: a value beyond its range would be inf there, and the
    model would predict NaN where the app predicts a number. Refused, naming the value."""
    named = [(f"weight {e.id}", e.weight) for e in net.edges.values()]
    named += [(f"bias of {n.id}", n.bias) for n in net.neurons.values()]
    named += [(f"the input mean {i + 1}", v) for i, v in enumerate(prep.mean or ())]
    named += [(f"the input deviation {i + 1}", v) for i, v in enumerate(prep.std or ())]
    for name, value in named:
        if abs(value) > _FLOAT32_MAX:
            raise ExportError(f"{name} is {value:.4g}, beyond float32's range (about "
                              f"{_FLOAT32_MAX:.3g}); an ONNX model computes in float32 and "
                              "would predict NaN. Use npz, JSON or .py for this network")


def _finish(graph: onnx.GraphProto, net: Network, prep: Preprocessing, title: str,
            doc: str = "") -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="Backprop Studio")
    model.ir_version = min(model.ir_version, 9)  # readable by current onnxruntime releases
    if doc:  # (a feed-forward model has none: its file is what it was before recurrent nets)
        model.doc_string = doc
    helper.set_model_props(model, _metadata(net, prep, title))
    onnx.checker.check_model(model)
    return model


def _inputs(b: _Builder, x: str, plan: Plan, prep: Preprocessing) -> str:
    """The input neurons' values from raw inputs x [batch, width]: standardised, then each
    input's feature of the columns."""
    if prep.mean is not None:  # the model takes raw inputs, as the app's user types them
        centred = b.op("Sub", [x, b.const("mean", np.array(prep.mean, np.float32))], "centred")
        x = b.op("Div", [centred, b.const("std", np.array(prep.std, np.float32))], "standardized")
    if resolved(plan.features) is not None:
        x = _features(b, x, resolved(plan.features))
    return x


def _levels(b: _Builder, x: str, plan: Plan, params: Params,
            carried: Callable[[int, str], str] | None = None) -> _Rows:
    """Every level's activations from the input neurons' values x [batch, inputs].
    carried(i, z): level i's net inputs z plus what the delayed edges bring it (a recurrent
    net's time step)."""
    rows = _Rows(b, x, plan.n_inputs)
    for i, (lv, w) in enumerate(zip(plan.levels, params.weights)):
        n = lv.stop - lv.start
        bias = b.const("bias", params.biases[lv.start: lv.stop].astype(np.float32))
        if lv.src_hi > lv.src_lo:
            src = rows.read(lv.src_lo, lv.src_hi)
            used = np.unique(lv.cols)
            if len(used) < w.shape[1]:  # e.g. the input and the previous neuron of a long chain:
                # gather those columns rather than carry a matrix of zeros for all between
                src = b.op("Gather", [src, b.const("used", used.astype(np.int64))], "src", axis=1)
                w = w[:, used]
            z = b.op("Add", [b.op("MatMul", [src, b.const("W", w.T.copy())], "mm"), bias], "z")
        else:  # no incoming edges: net input is the bias for every sample
            zero = b.const("zero", np.zeros((1, n), np.float32))
            zeros = b.op("MatMul", [b.columns(x, 0, 1), zero], "z0")
            z = b.op("Add", [zeros, bias], "z")
        if carried is not None:
            z = carried(i, z)
        groups = []
        for act, g0, g1 in lv.groups:
            cols = z if len(lv.groups) == 1 else b.columns(z, g0 - lv.start, g1 - lv.start)
            groups.append(ACTIVATIONS[act].onnx_nodes(b.stem_op(act), cols))
        block = groups[0] if len(groups) == 1 else b.op("Concat", groups, "a", axis=1)
        rows.add(lv.start, lv.stop, block)
    return rows


def _outputs(b: _Builder, rows: _Rows, plan: Plan, loss: str) -> str:
    """What the net predicts [batch, outputs]: the output neurons' activations, through the
    loss's prediction (e.g. softmax for softmax cross-entropy)."""
    out = b.op("Gather", [rows.fold(), b.const("outputs", plan.output_rows.astype(np.int64))],
               "out", axis=1)
    if LOSSES[loss].onnx_predict is not None:
        out = LOSSES[loss].onnx_predict(b.stem_op("predict"), out)
    return out


_SEQUENCE_DOC = (
    "A recurrent net exported from Backprop Studio. Input x: float32 [batch, steps, inputs] "
    "(batch first, as the app's sequences), raw; every sequence starts from a zero state and "
    "runs all its steps (no mask: padding is the caller's business). Output y: float32 "
    "[batch, steps, outputs], the prediction at every step. A Scan over the steps carries the "
    "state: the outputs of the neurons the delayed edges read, from one step to the next.")


def _scan_graph(plan: Plan, net: Network, loss: str, prep: Preprocessing) -> onnx.GraphProto:
    """A recurrent net: one time step is the feed-forward graph of the levels (_step_graph)
    with the delayed edges' share added to their targets' net inputs; a Scan runs it over
    the steps (axis 1 of x and y), carrying the state from zero."""
    width = plan.n_inputs if resolved(plan.features) is None else prep.raw_width(plan.n_columns)
    body, n_state = _step_graph(plan, net, loss, prep, width)
    n_out = len(plan.output_rows)
    zero = helper.make_tensor("state_zero", TensorProto.FLOAT, [1], [0.0])
    nodes = [  # the zero state [batch, n_state], whatever the batch size
        helper.make_node("Shape", ["x"], ["x_shape"], start=0, end=1),
        helper.make_node("Concat", ["x_shape", "state_width"], ["state_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["state_shape"], ["state_start"], value=zero),
        helper.make_node("Scan", ["state_start", "x"], ["state_end", "y"], body=body,
                         num_scan_inputs=1, scan_input_axes=[1], scan_output_axes=[1])]
    return helper.make_graph(
        nodes, "backprop_studio",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "steps", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "steps", n_out])],
        [numpy_helper.from_array(np.array([n_state], np.int64), "state_width")])


def _step_graph(plan: Plan, net: Network, loss: str, prep: Preprocessing, width: int
                ) -> tuple[onnx.GraphProto, int]:
    """The Scan's body: (state_in [batch, state], x_t [batch, width]) -> (state_out, y_t).
    The state holds the rows the delayed edges read (core.engine.recurrent's step t - 1)."""
    params = plan.pack(net, dtype=np.float32)
    block, w_block = plan.delayed, params.weights[-1]
    used = np.unique(block.cols)  # the block's source columns some delayed edge reads
    b = _Builder()

    def carried(i: int, z: str) -> str:
        lv = plan.levels[i]
        lo, hi = max(lv.start, block.start), min(lv.stop, block.stop)
        if lo >= hi:
            return z
        w = np.zeros((lv.stop - lv.start, len(used)), np.float32)  # the level's rows of it
        w[lo - lv.start: hi - lv.start] = w_block[lo - block.start: hi - block.start][:, used]
        return b.op("Add", [z, b.op("MatMul", ["state_in", b.const("W_delayed", w.T.copy())],
                                    "mm_delayed")], "z_carried")

    rows = _levels(b, _inputs(b, "x_t", plan, prep), plan, params, carried)
    state = rows.read(block.src_lo, block.src_hi)
    if len(used) < block.src_hi - block.src_lo:
        state = b.op("Gather", [state, b.const("state_rows", used.astype(np.int64))], "state",
                     axis=1)
    b.nodes.append(helper.make_node("Identity", [state], ["state_out"]))
    b.nodes.append(helper.make_node("Identity", [_outputs(b, rows, plan, loss)], ["y_t"]))
    n_out = len(plan.output_rows)

    def value(name: str, width: int) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", width])

    return helper.make_graph(b.nodes, "time_step",
                             [value("state_in", len(used)), value("x_t", width)],
                             [value("state_out", len(used)), value("y_t", n_out)],
                             b.inits), len(used)


def _features(b: _Builder, x: str, features: tuple[Feature, ...]) -> str:
    """The input neurons' features of the columns of x, as one [batch, inputs] tensor."""
    column: dict[int, str] = {}
    for f in features:
        for c in f.columns:
            if c not in column:
                column[c] = b.columns(x, c, c + 1)
    out = [f.spec.onnx(b.stem_op(f.kind), *(column[c] for c in f.columns)) for f in features]
    return out[0] if len(out) == 1 else b.op("Concat", out, "features", axis=1)


def _metadata(net: Network, prep: Preprocessing, title: str) -> dict[str, str]:
    """Plain strings only; lists as JSON text (which escapes every control character)."""
    props = {"title": _plain(title),
             "inputs": json.dumps([n.name for n in net.inputs]),
             **({"features": json.dumps([f.label for f in resolved(
                 [n.feature for n in net.inputs])])} if any(n.feature for n in net.inputs) else {}),
             "outputs": json.dumps([n.name for n in net.outputs]),
             "standardization": "applied inside the graph: raw x, then (x - mean) / std"
             if prep.mean is not None else "none: the inputs were used as they are"}
    if prep.mean is not None:
        props.update(mean=json.dumps(list(prep.mean)), std=json.dumps(list(prep.std)))
    if prep.class_names is not None:
        props["class_names"] = json.dumps(list(prep.class_names))
    return props


def _plain(text: str) -> str:
    # Protobuf strings must be valid UTF-8: a lone surrogate would make the file unwritable.
    return str(text).encode("utf-8", "replace").decode("utf-8")


def export_onnx(net: Network, loss: str, path: Path, prep: Preprocessing = NONE,
                title: str = "") -> None:
    model = build_model(net, loss, prep, title)
    if model.ByteSize() >= MAX_BYTES:
        raise ValueError(f"the ONNX model would be {model.ByteSize() / 2**30:.1f} GB; "
                         "ONNX files are limited to 2 GB")
    write_atomically(path, model.SerializeToString())
