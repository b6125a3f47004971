"""The compiled form of a network: neurons in rows ordered by depth, one dense weight block per
level, and the packing of the document's weights and biases into arrays.

compile_plan() turns the document into an immutable Plan. Neurons get one row each in a
(neurons x samples) buffer, ordered by depth, so every level's sources form one contiguous
block of rows that a single matrix product reads without copying. A level's weights are a
dense (level size x source block) matrix with zeros where the graph has no edge; a mask keeps
those zeros (and frozen weights) out of every update. plan_for() caches the plan on the
network per structure version.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Callable

import numpy as np

from core.activations import ACTIVATIONS
from core.errors import NetworkError
from core.features import Feature, column_mismatch, columns_needed, input_matrix
from core.network import Network


@dataclass(frozen=True)
class Level:
    start: int  # rows [start, stop) of the buffer hold this level's neurons
    stop: int
    src_lo: int  # rows [src_lo, src_hi) are the sources its weight matrix reads
    src_hi: int
    groups: tuple[tuple[str, int, int], ...]  # (activation, start, stop) in absolute rows
    edge_pos: np.ndarray  # positions of this level's edges in Plan.edge_ids
    rows: np.ndarray  # each edge's row in the weight matrix (target - start)
    cols: np.ndarray  # each edge's column (source - src_lo)
    trainable: np.ndarray | None  # 1.0 where a weight may change, None when all may
    hidden_rows: np.ndarray  # rows (relative) of hidden neurons: where dropout may act
    has_outputs: bool
    inputs_only: bool  # reads input rows only: then it reads x directly, no copy needed
    # When every (row, source) pair has an edge: the edges' positions in Plan.edge_ids in the
    # weight matrix's row-major order, so a vector of weights becomes the matrix by one
    # gather (784-64-10's first level: 0.04 ms, where zeros and a 2D scatter took 0.5 ms).
    dense_order: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.stop - self.start, self.src_hi - self.src_lo)


@dataclass(frozen=True)
class Plan:
    order: tuple[str, ...]  # neuron id of each buffer row
    row: dict[str, int]
    n_inputs: int  # inputs occupy rows [0, n_inputs), in document order
    output_rows: np.ndarray  # output neurons, in document order
    levels: tuple[Level, ...]
    edge_ids: tuple[str, ...]  # document order
    bias_ids: tuple[str, ...]  # non-input neurons, document order
    bias_rows: np.ndarray
    bias_trainable: np.ndarray  # per buffer row: 1.0 if that bias may change
    structure_version: int
    output_slice: slice | None  # the output rows as a slice when they are contiguous (no copy)
    inputs_in_buffer: bool  # some level reads inputs and other rows in one block
    biases_all_trainable: bool
    chain: bool  # a plain layered net: each level reads exactly the one before (fast path)
    # Each input row's feature of the data's columns (core.features), None: its own column.
    features: tuple[Feature | None, ...] = ()
    # Work buffers reused by training steps, keyed by (batch size, dtype), and what a step
    # reads from the plan in a form worked out once (see Plan.buffer): allocating a few MB
    # afresh every step costs more in page faults than the matrix products themselves.
    buffers: dict = field(default_factory=dict, compare=False, repr=False)
    # Every weight block full and trainable, every bias trainable: masking changes nothing.
    nothing_masked: bool = False
    # The delayed edges (a recurrent net), as one more weight block: rows [start, stop) are
    # their targets, columns their sources read one time step earlier (core.engine.recurrent).
    # None: a feed-forward net, whose levels are all there is.
    delayed: Level | None = None

    @cached_property
    def blocks(self) -> tuple[Level, ...]:
        """Every weight matrix's block, in Params.weights order: the levels, then the delayed
        edges' block when there is one."""
        return self.levels if self.delayed is None else (*self.levels, self.delayed)

    @property
    def recurrent(self) -> bool:
        return self.delayed is not None

    def buffer(self, key: tuple, make: Callable[[], Any]) -> Any:
        """The work arrays stored under `key`, made by make() the first time."""
        found = self.buffers.get(key)
        if found is None:
            # Batch sizes change rarely (an epoch's last, shorter batch): keep the cache small.
            if len(self.buffers) >= 8:
                self.buffers.clear()
            found = self.buffers[key] = make()
        return found

    @property
    def n_neurons(self) -> int:
        return len(self.order)

    @property
    def n_columns(self) -> int:
        """How many data columns the inputs read (n_inputs when no input has a feature)."""
        return columns_needed(self.features)

    def inputs_from(self, columns: np.ndarray) -> np.ndarray:
        """The input matrix (samples x inputs) this plan runs on, from data columns
        (samples x columns): the one mapping every data path goes through. Sequences
        (sequences x steps x columns) map step by step, keeping their shape."""
        if np.ndim(columns) == 3:
            s, t, c = np.shape(columns)
            return input_matrix(self.features, np.reshape(columns, (s * t, c))).reshape(s, t, -1)
        return input_matrix(self.features, columns)

    def column_mismatch(self, n_columns: int) -> str | None:
        """Why data with that many columns cannot feed this plan, or None."""
        return column_mismatch(self.features, n_columns)

    @property
    def n_parameters(self) -> int:
        return len(self.edge_ids) + len(self.bias_ids)

    # ----- parameters <-> document ----------------------------------------------------------
    def pack(self, net: Network, dtype: type = np.float64) -> "Params":
        """Read the document's weights and biases into matrices."""
        w_all = np.fromiter((net.edges[e].weight for e in self.edge_ids), dtype, len(self.edge_ids))
        b = np.zeros(self.n_neurons, dtype)
        b[self.bias_rows] = [net.neurons[n].bias for n in self.bias_ids]
        return Params(self.weights_from_vector(w_all, dtype), b)

    def weights_from_vector(self, w_all: np.ndarray, dtype: type = np.float64) -> list[np.ndarray]:
        mats = []
        for lv in self.blocks:
            if lv.dense_order is not None:
                mats.append(np.take(w_all, lv.dense_order).astype(dtype, copy=False)
                            .reshape(lv.shape))
                continue
            w = np.zeros(lv.shape, dtype)
            w[lv.rows, lv.cols] = w_all[lv.edge_pos]
            mats.append(w)
        return mats

    def edge_vector(self, mats: list[np.ndarray]) -> np.ndarray:
        """Per-edge values (weights or their gradients) in Plan.edge_ids order."""
        out = np.zeros(len(self.edge_ids), mats[0].dtype if mats else np.float64)
        for lv, w in zip(self.blocks, mats):
            out[lv.edge_pos] = w[lv.rows, lv.cols]
        return out

    def unpack(self, params: "Params") -> tuple[dict[str, float], dict[str, float]]:
        """Weights by edge id and biases by neuron id, as plain floats."""
        w = self.edge_vector(params.weights)
        weights = dict(zip(self.edge_ids, w.tolist()))
        biases = dict(zip(self.bias_ids, params.biases[self.bias_rows].tolist()))
        return weights, biases

    def flatten(self, params: "Params") -> np.ndarray:
        """One vector theta: every edge weight (edge order), then every bias (neuron order)."""
        return np.concatenate([self.edge_vector(params.weights), params.biases[self.bias_rows]])

    def unflatten(self, theta: np.ndarray) -> "Params":
        n_e = len(self.edge_ids)
        theta = np.asarray(theta)
        b = np.zeros(self.n_neurons, theta.dtype)
        b[self.bias_rows] = theta[n_e:]
        return Params(self.weights_from_vector(theta[:n_e], theta.dtype), b)

    def parameter_names(self) -> list[str]:
        """Names for the entries of flatten(): edge ids, then 'bias:<neuron id>'."""
        return [*self.edge_ids, *(f"bias:{n}" for n in self.bias_ids)]

    def trainable_vector(self) -> np.ndarray:
        ones = [np.ones(lv.shape) if lv.trainable is None else lv.trainable for lv in self.blocks]
        return np.concatenate([self.edge_vector(ones), self.bias_trainable[self.bias_rows]]) > 0


@dataclass
class Params:
    weights: list[np.ndarray]  # one (level size x source block) matrix per Plan.blocks entry
    biases: np.ndarray  # one entry per buffer row; zero for inputs

    def copy(self) -> "Params":
        return Params([w.copy() for w in self.weights], self.biases.copy())

    def arrays(self) -> list[np.ndarray]:
        return [*self.weights, self.biases]

    def all_finite(self) -> bool:
        return all(np.isfinite(a).all() for a in self.arrays())


def plan_for(net: Network) -> Plan:
    """The compiled plan of `net` as it is now, compiled once per structure version. Weights
    are not part of a plan, so views that redraw at every training frame share one (each of
    them compiling a 784-64-10 net cost 0.3 s a frame on the GUI thread)."""
    cached = getattr(net, "_compiled", None)
    if cached is not None and cached[0] == net.structure_version:
        return cached[1]
    plan = compile_plan(net)
    net._compiled = (net.structure_version, plan)
    return plan


def compile_plan(net: Network) -> Plan:
    """Compile the document into a Plan (raises NetworkError if it cannot be run)."""
    if not net.inputs:
        raise NetworkError("the network has no input neuron")
    if not net.outputs:
        raise NetworkError("the network has no output neuron")
    depth = net.depths()
    act_rank = {name: i for i, name in enumerate(ACTIVATIONS)}
    doc_pos = {nid: i for i, nid in enumerate(net.neurons)}
    inputs = [n.id for n in net.inputs]
    others = sorted((nid for nid in net.neurons if depth[nid] > 0),
                    key=lambda nid: (depth[nid], act_rank[net.neurons[nid].activation], doc_pos[nid]))
    order = (*inputs, *others)
    row = {nid: i for i, nid in enumerate(order)}
    edge_ids = tuple(net.edges)
    edge_src = np.array([row[net.edges[e].source] for e in edge_ids], dtype=np.intp)
    edge_dst = np.array([row[net.edges[e].target] for e in edge_ids], dtype=np.intp)
    edge_frozen = np.array([net.edges[e].frozen for e in edge_ids], dtype=bool)
    delayed = np.array([net.edges[e].delay for e in edge_ids], dtype=bool)

    levels = []
    start = len(inputs)
    # Edges grouped by target row once, so each level finds its own in time proportional to
    # their number: a scan of every edge per level made deep chains quadratic. The levels
    # hold the instantaneous edges; the delayed ones form a block of their own.
    instant = np.flatnonzero(~delayed)
    by_dst = instant[np.argsort(edge_dst[instant], kind="stable")]
    dst_sorted = edge_dst[by_dst]
    while start < len(order):
        d = depth[order[start]]
        stop = start
        while stop < len(order) and depth[order[stop]] == d:
            stop += 1
        lo, hi = np.searchsorted(dst_sorted, [start, stop])
        pos = np.sort(by_dst[lo:hi])
        levels.append(_level(net, order, start, stop, pos, edge_src, edge_dst, edge_frozen,
                             len(inputs)))
        start = stop

    bias_ids = tuple(nid for nid in net.neurons if net.neurons[nid].role != "input")
    bias_trainable = np.zeros(len(order))
    for nid in bias_ids:
        bias_trainable[row[nid]] = 0.0 if net.neurons[nid].frozen else 1.0
    out_rows = np.array([row[n.id] for n in net.outputs], dtype=np.intp)
    contiguous = bool(np.all(np.diff(out_rows) == 1))
    bias_rows = np.array([row[n] for n in bias_ids], dtype=np.intp)
    biases_trainable = bool(np.all(bias_trainable[bias_rows] == 1.0))
    block = _delayed_block(net, order, np.flatnonzero(delayed), edge_src, edge_dst, edge_frozen,
                           len(inputs))
    return Plan(order, row, len(inputs), out_rows, tuple(levels), edge_ids, bias_ids, bias_rows,
                bias_trainable, net.structure_version,
                slice(int(out_rows[0]), int(out_rows[-1]) + 1) if contiguous else None,
                any(lv.src_lo < len(inputs) < lv.src_hi for lv in levels),
                biases_trainable,
                block is None and _is_chain(levels, len(inputs), out_rows, len(order)),
                tuple(n.feature for n in net.inputs),
                nothing_masked=biases_trainable and all(
                    lv.trainable is None for lv in (*levels, *([block] if block else []))),
                delayed=block)


def _delayed_block(net: Network, order: tuple[str, ...], pos: np.ndarray, edge_src: np.ndarray,
                   edge_dst: np.ndarray, edge_frozen: np.ndarray, n_inputs: int) -> Level | None:
    """The delayed edges' weight block (a Level's layout without activations: it computes
    nothing itself, each level adds its rows of it), or None when there are none."""
    if not pos.size:
        return None
    start, stop = int(edge_dst[pos].min()), int(edge_dst[pos].max()) + 1
    block = _level(net, order, start, stop, pos, edge_src, edge_dst, edge_frozen, n_inputs)
    return replace(block, groups=(), hidden_rows=np.zeros(0, np.intp), has_outputs=False,
                   inputs_only=False)


def _is_chain(levels: list[Level], n_inputs: int, out_rows: np.ndarray, n: int) -> bool:
    previous = (0, n_inputs)
    for lv in levels:
        if (lv.src_lo, lv.src_hi) != previous or len(lv.groups) != 1:
            return False
        previous = (lv.start, lv.stop)
    return bool(levels) and out_rows.tolist() == list(range(levels[-1].start, n))


def _level(net: Network, order: tuple[str, ...], start: int, stop: int, pos: np.ndarray,
           edge_src: np.ndarray, edge_dst: np.ndarray, edge_frozen: np.ndarray,
           n_inputs: int) -> Level:
    src_lo = int(edge_src[pos].min()) if pos.size else 0
    src_hi = int(edge_src[pos].max()) + 1 if pos.size else 0
    rows, cols = edge_dst[pos] - start, edge_src[pos] - src_lo
    shape = (stop - start, src_hi - src_lo)
    trainable = np.zeros(shape)
    trainable[rows, cols] = ~edge_frozen[pos]
    full = bool(trainable.all())
    groups = []
    g = start
    for r in range(start, stop + 1):
        if r == stop or net.neurons[order[r]].activation != net.neurons[order[g]].activation:
            groups.append((net.neurons[order[g]].activation, g, r))
            g = r
    roles = [net.neurons[order[r]].role for r in range(start, stop)]
    hidden = np.array([i for i, role in enumerate(roles) if role == "hidden"], dtype=np.intp)
    flat = rows * shape[1] + cols
    dense = flat.size == shape[0] * shape[1] and np.unique(flat).size == flat.size
    return Level(start, stop, src_lo, src_hi, tuple(groups), pos, rows, cols,
                 None if full else trainable, hidden, "output" in roles,
                 src_hi <= n_inputs, pos[np.argsort(flat)] if dense and flat.size else None)
