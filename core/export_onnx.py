"""ONNX export (opset 17) of any graph the editor can draw, built level by level like the
engine: concatenate what came before, slice the level's source columns, one MatMul with a
constant matrix, Add the biases, then each activation group on its own columns.

Input "x": float32 [batch, inputs] (inputs in document order); output "y": float32
[batch, outputs] (outputs in document order), softmax over them for softmax cross-entropy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from core.activations import ELU_ALPHA, LEAKY_SLOPE
from core.engine import compile_plan
from core.network import Network

OPSET = 17

_OPS = {"identity": ("Identity", {}), "sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}),
        "relu": ("Relu", {}), "leaky_relu": ("LeakyRelu", {"alpha": LEAKY_SLOPE}),
        "elu": ("Elu", {"alpha": ELU_ALPHA}), "softplus": ("Softplus", {})}


class _Builder:
    def __init__(self) -> None:
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

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

    def columns(self, tensor: str, start: int, stop: int) -> str:
        s = self.const("start", np.array([start], np.int64))
        e = self.const("end", np.array([stop], np.int64))
        axis = self.const("axis", np.array([1], np.int64))
        return self.op("Slice", [tensor, s, e, axis], "cols")


def build_model(net: Network, loss: str) -> onnx.ModelProto:
    plan = compile_plan(net)
    params = plan.pack(net, dtype=np.float32)
    b = _Builder()
    parts = ["x"]  # the activations of rows [0, n) so far, as (batch, n) pieces
    for lv, w in zip(plan.levels, params.weights):
        n = lv.stop - lv.start
        bias = b.const("bias", params.biases[lv.start: lv.stop].astype(np.float32))
        if lv.src_hi > lv.src_lo:
            everything = parts[0] if len(parts) == 1 else b.op("Concat", parts, "all", axis=1)
            src = b.columns(everything, lv.src_lo, lv.src_hi)
            z = b.op("Add", [b.op("MatMul", [src, b.const("W", w.T.copy())], "mm"), bias], "z")
        else:  # no incoming edges: net input is the bias for every sample
            zeros = b.op("MatMul", [b.columns("x", 0, 1), b.const("zero", np.zeros((1, n), np.float32))], "z0")
            z = b.op("Add", [zeros, bias], "z")
        groups = []
        for act, g0, g1 in lv.groups:
            cols = z if len(lv.groups) == 1 else b.columns(z, g0 - lv.start, g1 - lv.start)
            kind, attrs = _OPS[act]
            groups.append(b.op(kind, [cols], act, **attrs))
        parts.append(groups[0] if len(groups) == 1 else b.op("Concat", groups, "a", axis=1))
    everything = b.op("Concat", parts, "all", axis=1) if len(parts) > 1 else parts[0]
    out = b.op("Gather", [everything, b.const("outputs", plan.output_rows.astype(np.int64))],
               "out", axis=1)
    if loss == "softmax_ce":
        out = b.op("Softmax", [out], "softmax", axis=1)
    b.nodes.append(helper.make_node("Identity", [out], ["y"]))
    graph = helper.make_graph(
        b.nodes, "backprop_studio",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", plan.n_inputs])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", len(plan.output_rows)])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="Backprop Studio")
    model.ir_version = min(model.ir_version, 9)  # readable by current onnxruntime releases
    onnx.checker.check_model(model)
    return model


def export_onnx(net: Network, loss: str, path: Path) -> None:
    onnx.save(build_model(net, loss), str(path))
