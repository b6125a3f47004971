"""The loss grid in one compiled call (issue 14): every point of a plane's grid in float32,
fused per point, by the kernel of core/engine/grid_source.py (compiled in the generated
module of core.engine.compiled, so it uses the registries' compiled forms and the same disk
cache).

NumPy (core.engine.stacked) stays the reference and the fallback: `unavailable()` says why a
grid cannot take this path (Numba missing, BACKPROP_ENGINE=numpy, float64, an activation or a
loss without a compiled form), and tests/core/test_compiled_grid.py holds the two to the
engine's forward pass at every point.

The window never compiles nor imports Numba: the training process compiles the kernel, in
core.training.kernel_warmup, and leaves a mark next to the generated module; the window then
starts a worker process that loads it (gui/live/grid_process.py, serve() below) and draws
NumPy's grids until the worker is ready.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from core.activations import ACTIVATIONS
from core.engine import compiled
from core.engine.backprop import forward
from core.engine.plan import Plan, compile_plan
from core.losses import LOSSES
from core.network import Network

MAX_BLOCK = 512  # samples a block at most: its rows stay in the second-level cache


def unavailable_here() -> str | None:
    """Why no grid takes the compiled kernel in this process, or None; no Numba import."""
    if os.environ.get(compiled.ENGINE_VARIABLE, "").lower() == "numpy":
        return f"{compiled.ENGINE_VARIABLE}=numpy"
    if compiled.numba_version() == "":
        return "Numba is not installed"
    return None


def unavailable(plan: Plan, loss: str, dtype) -> str | None:
    """Why this grid is NumPy's, or None when the compiled kernel can compute it."""
    if unavailable_here() is not None:
        return unavailable_here()
    if np.dtype(dtype) != np.float32:
        return "the compiled grid is float32; float64 is the NumPy reference"
    for lv in plan.levels:
        for name, _, _ in lv.groups:
            if ACTIVATIONS[name].scalar is None:
                return f"the {name} activation has no compiled form"
    if LOSSES[loss].per_sample is None:
        return f"the {loss} loss has no compiled form"
    return None


def run_here(prep: Prepared, y: np.ndarray, loss: str, alphas: np.ndarray,
             betas: np.ndarray) -> np.ndarray | None:
    """The grid of `prep` on the kernel in this process (compiled at the first call, or loaded
    from the disk cache: seconds, then never again), or None without Numba."""
    module = kernel()
    return None if module is None else run(module, prep, y, loss, alphas, betas)


def serve(connection, cache: str) -> None:
    """A grid worker process's life (the window's, gui/live/grid_process.py): load the kernel
    from `cache` and say whether it could, then answer each (module name, Prepared, y, loss,
    alphas, betas) with (True, values), or (False, why) when the caller's generated module
    (its numbering of activations and losses) is not this process's or the grid fails. At the
    lowest priority: the training process and the window come first."""
    os.environ["NUMBA_CACHE_DIR"] = cache
    if hasattr(os, "nice"):
        os.nice(19)
    try:
        connection.send(load())
        while True:
            name, *grid = connection.recv()
            if name != compiled.generated()[0]:
                connection.send((False, "the worker's registries are not the caller's"))
                continue
            try:
                connection.send((True, run_here(*grid)))
            except Exception as exc:  # noqa: BLE001 - the caller computes it in NumPy instead
                connection.send((False, str(exc)))
    except (EOFError, OSError):  # the window has gone
        return


def load() -> bool:
    """Load (or compile) the kernel in this process; whether it could be."""
    try:
        return kernel() is not None
    except Exception:  # noqa: BLE001 - a broken cache or toolchain: NumPy's grids
        return False


def kernel():
    """The generated module with the grid kernel compiled or loaded, or None without Numba."""
    name, _ = compiled.generated()
    if name not in _ready:
        if compiled.numba_module() is None:
            return None
        _warm(compiled.kernels())
        _ready.add(name)
    return compiled.kernels()


_ready: set[str] = set()  # generated modules whose grid kernel this process has loaded


def warm_up() -> None:
    """Compile the grid kernel (or load it) and mark it compiled for the window."""
    if kernel() is not None:
        compiled.mark()


def _warm(module) -> None:
    """Call the kernel once with the argument types every grid uses: compiles or loads it."""
    net = Network()
    net.connect(net.add_neuron("input").id, net.add_neuron("output", "identity").id, 0.5)
    plan = compile_plan(net)
    x = np.zeros((2, 1))
    theta = np.array([0.5, 0.0])
    run(module, prepare(plan, theta, np.eye(2)[0], np.eye(2)[1], x), x, "mse", np.zeros(1),
        np.zeros(1))


@dataclass(frozen=True)
class Prepared:
    """What is the same at every point of the plane, as the kernel takes it (the names are
    grid_points' in grid_source.py)."""

    moving: np.ndarray
    kind: np.ndarray
    affine: np.ndarray
    k: np.ndarray  # (3, blocks, moving rows, block size) float32: k0, k1, k2
    e_ptr: np.ndarray
    e_src: np.ndarray
    w: np.ndarray  # (3, moving edges) float64: the edges' weights at the centre, d1, d2
    nets: np.ndarray  # (blocks, rows, block size) float32, the fixed rows filled in
    acts: np.ndarray
    out_rows: np.ndarray
    n_valid: np.ndarray
    n_samples: int


def prepare(plan: Plan, center: np.ndarray, d1: np.ndarray, d2: np.ndarray,
            x: np.ndarray) -> Prepared:
    """Split the plane's rows into fixed and moving, compute the fixed ones (once, in float64
    at the centre) and each moving row's net input from fixed rows as k0 + a k1 + b k2."""
    edges = compiled.edge_lists(plan)
    n, n_in = plan.n_neurons, plan.n_inputs
    parts = np.stack([np.asarray(v, float) for v in (center, d1, d2)])
    moves_param = np.any(parts[1:] != 0, axis=0)
    values = forward(plan, plan.unflatten(parts[0]), x)
    moves = np.zeros(n, bool)
    for r in range(n_in, n):
        e = slice(edges.in_ptr[r], edges.in_ptr[r + 1])
        moves[r] = (moves_param[edges.bias_pos[r]] or moves_param[edges.in_pos[e]].any()
                    or moves[edges.in_src[e]].any())
    moving = np.flatnonzero(moves)
    k = np.empty((3, moving.size, x.shape[0]))
    e_ptr, e_src, e_pos = [0], [], []
    for m, r in enumerate(moving):
        e = slice(edges.in_ptr[r], edges.in_ptr[r + 1])
        src, pos = edges.in_src[e], edges.in_pos[e]
        still = ~moves[src]
        k[:, m] = parts[:, pos[still]] @ values.a[src[still]] + parts[:, edges.bias_pos[r], None]
        e_src += src[~still].tolist()
        e_pos += pos[~still].tolist()
        e_ptr.append(len(e_src))
    s = x.shape[0]
    blocks, size = _blocks(s)
    return Prepared(moving.astype(np.int64), edges.act_kind[moving],
                    np.any(k[1:] != 0, axis=(0, 2)), _blocked(k, blocks, size),
                    np.array(e_ptr, np.int64), np.array(e_src, np.int64),
                    parts[:, np.array(e_pos, np.int64)], _blocked(values.z, blocks, size),
                    _blocked(values.a, blocks, size), plan.output_rows.astype(np.int64),
                    np.minimum(size, s - size * np.arange(blocks)).astype(np.int64), s)


def _blocks(samples: int) -> tuple[int, int]:
    """(blocks, samples per block): as few blocks as MAX_BLOCK allows, each a multiple of 8
    samples (whole vectors), so that 1000 samples pad to 1008 and 256 not at all."""
    blocks = max(-(-samples // MAX_BLOCK), 1)
    return blocks, max(-(-samples // (8 * blocks)) * 8, 8)


def _blocked(a: np.ndarray, blocks: int, size: int) -> np.ndarray:
    """(..., rows, samples) as (..., blocks, rows, size) float32, zero-padded at the end."""
    padded = np.zeros(a.shape[:-1] + (blocks * size,), np.float32)
    padded[..., : a.shape[-1]] = a
    split = padded.reshape(a.shape[:-1] + (blocks, size))
    return np.ascontiguousarray(np.moveaxis(split, -2, -3))


def run(module, prep: Prepared, y: np.ndarray, loss: str, alphas: np.ndarray,
        betas: np.ndarray) -> np.ndarray:
    """The mean loss at theta(alphas[p], betas[p]) for every p: one call of the kernel."""
    entry = LOSSES[loss].per_sample
    y_t = np.asarray(y, float).reshape(len(y), -1).T
    outputs = y_t.shape[0]
    out = np.zeros(np.size(alphas))
    nets, acts = prep.nets.copy(), prep.acts.copy()  # the kernel writes the moving rows
    scratch = [np.zeros(outputs) for _ in range(4)]
    blocks, size = nets.shape[::2]
    module.grid_points(np.asarray(alphas, float).ravel(), np.asarray(betas, float).ravel(),
                       out, prep.moving, prep.kind, prep.affine, *prep.k, prep.e_ptr,
                       prep.e_src, *prep.w, nets, acts, prep.out_rows,
                       _blocked(y_t, blocks, size), prep.n_valid, compiled.loss_kind(loss),
                       entry.term32 is not None, prep.n_samples, np.zeros(size, np.float32),
                       *scratch)
    return out
