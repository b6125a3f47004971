"""Forward and backward passes on exactly the graph drawn, vectorised over a minibatch.

compile_plan() turns the document into an immutable Plan. Neurons get one row each in a
(neurons x samples) buffer, ordered by depth, so every level's sources form one contiguous
block of rows that a single matrix product reads without copying. A level's weights are a
dense (level size x source block) matrix with zeros where the graph has no edge; a mask keeps
those zeros (and frozen weights) out of every update.

The backward pass is micrograd's idea in matrix form: walk the levels in reverse, each
neuron's delta = f'(z) * sum over outgoing edges of w * delta_target, accumulated with +=
so a neuron with several outgoing edges (skip connections) sums every path.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.activations import ACTIVATIONS
from core.losses import LOSSES, LossResult
from core.network import Network, NetworkError


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
    # Work buffers reused by training steps, keyed by (batch size, dtype): allocating a few MB
    # afresh every step costs more in page faults than the matrix products themselves.
    buffers: dict = field(default_factory=dict, compare=False, repr=False)

    def work_buffers(self, b: int, dtype: np.dtype) -> tuple[np.ndarray, ...]:
        key = (b, np.dtype(dtype).str)
        if key not in self.buffers:
            if len(self.buffers) > 4:  # batch sizes change rarely; keep the cache small
                self.buffers.clear()
            n, hidden = self.n_neurons, self.n_neurons - self.n_inputs
            self.buffers[key] = (np.empty((n, b), dtype), np.empty((n, b), dtype),
                                 np.empty((hidden, b), dtype), np.empty((hidden, b), dtype))
        return self.buffers[key]

    @property
    def n_neurons(self) -> int:
        return len(self.order)

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
        for lv in self.levels:
            w = np.zeros(lv.shape, dtype)
            w[lv.rows, lv.cols] = w_all[lv.edge_pos]
            mats.append(w)
        return mats

    def edge_vector(self, mats: list[np.ndarray]) -> np.ndarray:
        """Per-edge values (weights or their gradients) in Plan.edge_ids order."""
        out = np.zeros(len(self.edge_ids), mats[0].dtype if mats else np.float64)
        for lv, w in zip(self.levels, mats):
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
        ones = [np.ones(lv.shape) if lv.trainable is None else lv.trainable for lv in self.levels]
        return np.concatenate([self.edge_vector(ones), self.bias_trainable[self.bias_rows]]) > 0


@dataclass
class Params:
    weights: list[np.ndarray]  # one (level size x source block) matrix per level
    biases: np.ndarray  # one entry per buffer row; zero for inputs

    def copy(self) -> "Params":
        return Params([w.copy() for w in self.weights], self.biases.copy())

    def arrays(self) -> list[np.ndarray]:
        return [*self.weights, self.biases]

    def all_finite(self) -> bool:
        return all(np.isfinite(a).all() for a in self.arrays())


@dataclass
class Forward:
    """What the forward pass leaves for the backward pass and for inspection."""

    z: np.ndarray  # (neurons x samples) net inputs
    a: np.ndarray  # (neurons x samples) activations (after dropout)
    x: np.ndarray  # (samples x inputs): levels that read only inputs read it directly
    derivative: dict[int, np.ndarray] = field(default_factory=dict)  # level -> f'(z), dropout only
    dropout_scale: dict[int, np.ndarray] = field(default_factory=dict)  # level -> mask / keep

    def outputs(self, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
        """(z, a) of the output neurons, as (samples x outputs)."""
        rows = plan.output_rows if plan.output_slice is None else plan.output_slice
        return self.z[rows].T, self.a[rows].T


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

    levels = []
    start = len(inputs)
    # Edges grouped by target row once, so each level finds its own in time proportional to
    # their number: a scan of every edge per level made deep chains quadratic.
    by_dst = np.argsort(edge_dst, kind="stable")
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
    return Plan(order, row, len(inputs), out_rows, tuple(levels), edge_ids, bias_ids, bias_rows,
                bias_trainable, net.structure_version,
                slice(int(out_rows[0]), int(out_rows[-1]) + 1) if contiguous else None,
                any(lv.src_lo < len(inputs) < lv.src_hi for lv in levels),
                bool(np.all(bias_trainable[bias_rows] == 1.0)), _is_chain(levels, len(inputs),
                                                                    out_rows, len(order)))


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
    return Level(start, stop, src_lo, src_hi, tuple(groups), pos, rows, cols,
                 None if full else trainable, hidden, "output" in roles,
                 src_hi <= n_inputs)


def forward(plan: Plan, params: Params, x: np.ndarray, dropout: float = 0.0,
            rng: np.random.Generator | None = None, reuse: bool = False) -> Forward:
    """Run the batch x (samples x inputs) through the net. dropout > 0 means training mode.

    reuse=True writes into the plan's work buffers (the next reuse call overwrites them), and
    leaves z of the input rows unset; only for callers that consume the result at once.
    """
    x = np.asarray(x, dtype=params.biases.dtype)
    if x.ndim != 2 or x.shape[1] != plan.n_inputs:
        raise ValueError(f"expected inputs of shape (samples, {plan.n_inputs}), got {x.shape}")
    n, b = plan.n_neurons, x.shape[0]
    if reuse:
        z, a = plan.work_buffers(b, x.dtype)[:2]
        if plan.inputs_in_buffer:
            a[: plan.n_inputs] = x.T
    else:
        z, a = np.empty((n, b), x.dtype), np.empty((n, b), x.dtype)
        z[: plan.n_inputs] = x.T
        a[: plan.n_inputs] = x.T
    fwd = Forward(z, a, x)
    x_t = x.T
    for i, (lv, w) in enumerate(zip(plan.levels, params.weights)):
        zl = z[lv.start: lv.stop]
        if lv.src_hi > lv.src_lo:
            src = x_t[lv.src_lo: lv.src_hi] if lv.inputs_only else a[lv.src_lo: lv.src_hi]
            np.matmul(w, src, out=zl)
            zl += params.biases[lv.start: lv.stop, None]
        else:
            zl[:] = params.biases[lv.start: lv.stop, None]
        for name, g0, g1 in lv.groups:
            a[g0:g1] = ACTIVATIONS[name].f(z[g0:g1])
        if dropout > 0.0 and lv.hidden_rows.size:
            _apply_dropout(fwd, i, lv, dropout, rng or np.random.default_rng())
    return fwd


def _apply_dropout(fwd: Forward, i: int, lv: Level, p: float, rng: np.random.Generator) -> None:
    """Inverted dropout on the level's hidden neurons; f'(z) is kept from before the mask."""
    fwd.derivative[i] = _derivative(lv, fwd.z, fwd.a)
    scale = np.ones((lv.stop - lv.start, fwd.a.shape[1]), fwd.a.dtype)
    scale[lv.hidden_rows] = (rng.random((lv.hidden_rows.size, fwd.a.shape[1])) >= p) / (1.0 - p)
    fwd.dropout_scale[i] = scale
    fwd.a[lv.start: lv.stop] *= scale


def _derivative(lv: Level, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    if len(lv.groups) == 1:
        return ACTIVATIONS[lv.groups[0][0]].df(z[lv.start: lv.stop], a[lv.start: lv.stop])
    out = np.empty_like(z[lv.start: lv.stop])
    for name, g0, g1 in lv.groups:
        out[g0 - lv.start: g1 - lv.start] = ACTIVATIONS[name].df(z[g0:g1], a[g0:g1])
    return out


@dataclass
class Backward:
    grads: Params  # dL/dW per level and dL/db per row, same layout as Params
    delta: np.ndarray  # (non-input neurons x samples): dL/dz, rows offset by n_inputs
    grad_a: np.ndarray  # (non-input neurons x samples): dL/da


def loss_and_output_grad(plan: Plan, fwd: Forward, y: np.ndarray, loss: str) -> LossResult:
    z_out, a_out = fwd.outputs(plan)
    y = np.asarray(y, dtype=a_out.dtype)
    if y.shape != a_out.shape:
        raise ValueError(f"expected targets of shape {a_out.shape}, got {y.shape}")
    return LOSSES[loss].compute(z_out, a_out, y)


def backward(plan: Plan, params: Params, fwd: Forward, result: LossResult,
             reuse: bool = False) -> Backward:
    """dL/dW and dL/db for every parameter, from the loss gradient at the outputs."""
    n_in = plan.n_inputs
    b = fwd.a.shape[1]
    if reuse:
        grad_a, delta = plan.work_buffers(b, fwd.a.dtype)[2:]
        grad_a.fill(0.0)
        delta.fill(0.0)
    else:
        grad_a = np.zeros((plan.n_neurons - n_in, b), fwd.a.dtype)
        delta = np.zeros_like(grad_a)
    out = plan.output_rows - n_in if plan.output_slice is None else \
        slice(plan.output_slice.start - n_in, plan.output_slice.stop - n_in)
    if result.wrt_net:
        delta[out] = result.grad.T
    else:
        grad_a[out] = result.grad.T
    grads_w: list[np.ndarray] = [np.empty(0)] * len(plan.levels)
    grads_b = np.zeros_like(params.biases)
    for i in range(len(plan.levels) - 1, -1, -1):
        lv, w = plan.levels[i], params.weights[i]
        r0, r1 = lv.start - n_in, lv.stop - n_in
        ga = grad_a[r0:r1]
        dl = delta[r0:r1]
        if i in fwd.dropout_scale:
            ga *= fwd.dropout_scale[i]
            d_local = fwd.derivative[i]
        elif lv.groups == (("identity", lv.start, lv.stop),) and not result.wrt_net:
            d_local = None  # f' = 1: delta is dL/da itself
            np.copyto(dl, ga)
        else:
            d_local = _derivative(lv, fwd.z, fwd.a)
        if d_local is None:
            pass
        elif lv.has_outputs and result.wrt_net:
            # Output rows already hold dL/dz from the loss; nothing flows into outputs from later.
            dl += ga * d_local
        else:
            np.multiply(ga, d_local, out=dl)
        grads_b[lv.start: lv.stop] = dl.sum(axis=1)
        if lv.src_hi > lv.src_lo:
            src = fwd.x[:, lv.src_lo: lv.src_hi] if lv.inputs_only else \
                fwd.a[lv.src_lo: lv.src_hi].T
            grads_w[i] = dl @ src
            lo = max(lv.src_lo, n_in)
            if lv.src_hi > lo:
                grad_a[lo - n_in: lv.src_hi - n_in] += w[:, lo - lv.src_lo:].T @ dl
        else:
            grads_w[i] = np.zeros(lv.shape, w.dtype)
    return Backward(Params(grads_w, grads_b), delta, grad_a)


def mask_frozen(plan: Plan, grads: Params) -> None:
    """Zero the gradient of frozen weights, frozen biases and absent edges, in place."""
    for lv, g in zip(plan.levels, grads.weights):
        if lv.trainable is not None:
            g *= lv.trainable
    if not plan.biases_all_trainable:
        grads.biases *= plan.bias_trainable


def loss_and_gradients(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray, loss: str,
                       dropout: float = 0.0, rng: np.random.Generator | None = None
                       ) -> tuple[float, Params]:
    """The loss on a batch and its exact gradient for every parameter.

    Entries of the weight matrices where the graph has no edge hold meaningless values: read
    per-edge gradients with Plan.edge_vector, or call mask_frozen before an update.
    """
    if plan.chain and dropout == 0.0:
        return chain_loss_and_gradients(plan, params, x, y, loss)
    fwd = forward(plan, params, x, dropout, rng, reuse=True)
    result = loss_and_output_grad(plan, fwd, y, loss)
    return result.value, backward(plan, params, fwd, result, reuse=True).grads


def predict(plan: Plan, params: Params, x: np.ndarray) -> np.ndarray:
    """The output neurons' activations (samples x outputs), no dropout."""
    return forward(plan, params, x).outputs(plan)[1]


def check_loss(plan: Plan, net: Network, loss: str) -> str | None:
    """Why this loss cannot be used with this network's outputs, or None."""
    if loss not in LOSSES:
        return f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}"
    need = LOSSES[loss].needs_activation
    if need:
        wrong = [n for n in net.outputs if n.activation != need]
        if wrong:
            names = ", ".join(f"{n.name} ({n.activation})" for n in wrong)
            return f"{LOSSES[loss].title} needs {need} outputs; these are not: {names}"
    if loss == "softmax_ce" and len(net.outputs) < 2:
        return "softmax cross-entropy needs at least two output neurons (one per class)"
    return None


@dataclass(frozen=True)
class NeuronValues:
    """One neuron for one sample: what the step-through view and hover texts show."""

    net_input: float  # z = sum of w * x + b (for an input: its value)
    activation: float  # a = f(z)
    derivative: float  # f'(z)
    delta: float  # dL/dz (0 for inputs)


def inspect_sample(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray, loss: str
                   ) -> tuple[float, dict[str, NeuronValues], dict[str, float]]:
    """Loss, every neuron's values and every edge's dL/dw for one sample x (and target y)."""
    x = np.asarray(x, dtype=params.biases.dtype).reshape(1, -1)
    fwd = forward(plan, params, x)
    result = loss_and_output_grad(plan, fwd, np.asarray(y, dtype=x.dtype).reshape(1, -1), loss)
    back = backward(plan, params, fwd, result)
    derivative = np.ones(plan.n_neurons)
    for lv in plan.levels:
        derivative[lv.start: lv.stop] = _derivative(lv, fwd.z, fwd.a)[:, 0]
    neurons = {}
    for row, nid in enumerate(plan.order):
        delta = 0.0 if row < plan.n_inputs else float(back.delta[row - plan.n_inputs, 0])
        neurons[nid] = NeuronValues(float(fwd.z[row, 0]), float(fwd.a[row, 0]),
                                    float(derivative[row]), delta)
    edge_grads = dict(zip(plan.edge_ids, plan.edge_vector(back.grads.weights).tolist()))
    return result.value, neurons, edge_grads


# The layered fast path uses Plan and Params defined above, hence the import at the end.
from core.layered_path import chain_loss_and_gradients  # noqa: E402
