"""The compiled path for small nets (issue 14): many minibatch steps per call with no Python
per step, edge by edge over any DAG, compiled by Numba and cached on disk.

Why generated code: the kernel calls each activation's, loss's and optimiser's compiled form,
and those live in their registry entries (core.activations.Scalar, core.losses.PerSample,
Optimizer.kernel), not in a list here. Numba's disk cache keys a function by its source file,
and a kernel that took the registry functions as arguments would never hit the cache (a
function's type differs in every process). So `kernels()` writes one module into the cache
folder: a dispatcher per registry (an if-chain over the entries that have a compiled form)
followed by core/engine/kernel_source.py and the loss grid's kernel, core/engine/grid_source.py
(with the entries' float32 forms: core.engine.compiled_grid), named by a hash of all of that
text and the entries' code, and compiles it there: changing an entry makes a new module, never
a stale cache.

Numba compiles the training kernel once per dtype of its arrays: float64, and float32 for a
run in float32 precision (the disk cache holds both). The float32 one keeps float64 where
Numba's typing puts it (sums over a batch, losses, products with the rate), so it agrees with
NumPy's float32 steps to float32 precision, not bit for bit (tests/core/test_compiled_float32.py).

NumPy stays the reference: `unavailable()` says why a run cannot use this path (Numba missing,
BACKPROP_ENGINE=numpy, dropout, an entry without a compiled form), and the trainer
then steps as before. tests/core/test_compiled.py holds the two paths to each other.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import tempfile
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.activations import ACTIVATIONS
from core.engine.plan import Plan
from core.losses import LOSSES
from core.optimizers import KERNEL_SETTINGS, OPTIMIZER_CLASSES

ENGINE_VARIABLE = "BACKPROP_ENGINE"  # "numpy" forces the NumPy path (comparison, escape hatch)
_SOURCE = Path(__file__).with_name("kernel_source.py")
_GRID_SOURCE = Path(__file__).with_name("grid_source.py")
# The grid kernel's: release the GIL (the window runs it on a thread), no Python checks
# in the loops (division by zero gives inf, as in NumPy), and fused multiply-adds.
GRID_OPTIONS = {"nogil": True, "error_model": "numpy", "fastmath": {"contract"}}


def numba_module() -> types.ModuleType | None:
    """numba, imported with its disk cache in the user's cache folder (the package folder may
    be read-only); None when it is not installed or not usable."""
    if "numba" not in sys.modules and not os.environ.get("NUMBA_CACHE_DIR"):
        os.environ["NUMBA_CACHE_DIR"] = str(cache_folder())
    try:
        import numba
    except Exception:  # not installed, or an llvmlite that does not load: NumPy it is
        return None
    return numba


def jit_form(fn, **options):
    """A registry entry's compiled form, for the generated module: a builtin (math.tanh) as
    it is; a plain function compiled with `options`, the plain functions of its own module
    that it calls compiled with it (Numba cannot call a plain function; core.float32_math's
    helpers are shared this way)."""
    if isinstance(fn, types.BuiltinFunctionType):
        return fn
    key = (fn, repr(sorted(options.items())))
    if key not in _jitted:
        helpers = {name: jit_form(value, **options) for name in fn.__code__.co_names
                   if isinstance(value := fn.__globals__.get(name), types.FunctionType)}
        if helpers:
            fn = types.FunctionType(fn.__code__, {**fn.__globals__, **helpers}, fn.__name__,
                                    fn.__defaults__, fn.__closure__)
        _jitted[key] = numba_module().njit(**options)(fn)
    return _jitted[key]


_jitted: dict = {}  # (function, options) -> its compiled form: one per process


def cache_folder() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("backprop-studio", appauthor=False)) / "numba"


def unavailable(plan: Plan, settings, network=None) -> str | None:
    """Why training `plan` with `settings` cannot take the compiled path, or None."""
    if os.environ.get(ENGINE_VARIABLE, "").lower() == "numpy":
        return f"{ENGINE_VARIABLE}=numpy"
    if plan.delayed is not None:
        return "a recurrent net steps through time in NumPy"
    if settings.dropout > 0:
        # The NumPy path draws dropout masks from numpy's Generator; a kernel cannot repeat
        # that stream, and the two paths must give the same numbers.
        return "dropout trains in NumPy"
    for lv in plan.levels:
        for name, _, _ in lv.groups:
            if ACTIVATIONS[name].scalar is None:
                return f"the {name} activation has no compiled form"
    if LOSSES[settings.loss].per_sample is None:
        return f"the {settings.loss} loss has no compiled form"
    if OPTIMIZER_CLASSES[settings.optimizer].kernel is None:
        return f"the {settings.optimizer} optimiser has no compiled form"
    if numba_module() is None:
        return "Numba is not installed"
    return None


# ----- the generated module ------------------------------------------------------------------
def _entries() -> tuple[list[str], list[str], list[str]]:
    """Names of the registry entries that have a compiled form, in registry order."""
    return ([n for n, a in ACTIVATIONS.items() if a.scalar is not None],
            [n for n, l in LOSSES.items() if l.per_sample is not None],
            [n for n, o in OPTIMIZER_CLASSES.items() if o.kernel is not None])


def _code_key(fn, seen: frozenset = frozenset()) -> str:
    """What decides fn's compiled code: its bytecode and constants, and the global numbers
    and plain functions it reads (those are compiled into it, see jit_form)."""
    code = getattr(fn, "__code__", None)
    if code is None:  # a builtin such as math.tanh
        return repr(fn)
    parts = [code.co_code.hex(), repr(code.co_names)]
    parts += [_code_key(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    for name in code.co_names:
        value = getattr(fn, "__globals__", {}).get(name)
        if isinstance(value, types.FunctionType) and value not in seen:
            parts.append(_code_key(value, seen | {fn}))
        elif isinstance(value, (int, float, np.generic)):
            parts.append(f"{name}={value!r}")
    return "|".join(parts)


def _source() -> str:
    acts, losses, opts = _entries()
    lines = ["# Generated by core/engine/compiled.py; do not edit.",
             "import math", "import numpy as np", "from numba import njit",
             "from core.activations import ACTIVATIONS as _A",
             "from core.engine.compiled import jit_form as _jit",
             "from core.losses import LOSSES as _L",
             "from core.optimizers import OPTIMIZER_CLASSES as _O", "",
             f"_GRID = {GRID_OPTIONS!r}", ""]
    for i, name in enumerate(acts):
        lines += [f"_f{i} = _jit(_A[{name!r}].scalar.f)", f"_d{i} = _jit(_A[{name!r}].scalar.df)",
                  f"_g{i} = _jit(_A[{name!r}].scalar.f32 or _A[{name!r}].scalar.f, **_GRID)"]
    for i, name in enumerate(losses):
        lines.append(f"_l{i} = _jit(_L[{name!r}].per_sample.fn)")
        if LOSSES[name].per_sample.term32 is not None:
            lines.append(f"_t{i} = _jit(_L[{name!r}].per_sample.term32, **_GRID)")
    for i, name in enumerate(opts):
        lines.append(f"_o{i} = _jit(_O[{name!r}].kernel)")
    lines += _dispatchers(acts, losses, opts)
    training = _SOURCE.read_text(encoding="utf-8")
    grid = _GRID_SOURCE.read_text(encoding="utf-8")
    tail = ["", "", *(f"{n} = njit(cache=True)({n})" for n in
                      ["act_forward", "act_backward", "loss_sample", "opt_update",
                       *(name for name, _ in _functions(training))]),
            *(f"{n} = njit(cache=True, **_GRID)({n})" for n in
              ["act_rows32", "loss_terms32", *(name for name, _ in _functions(grid))])]
    return "\n".join(lines) + "\n\n" + training + "\n\n" + grid + "\n".join(tail) + "\n"


def _dispatchers(acts: list[str], losses: list[str], opts: list[str]) -> list[str]:
    """One function per registry that calls entry number `kind`'s compiled form."""
    lines = ["", "", "def act_forward(kind, z, a, b):"]
    for i in range(len(acts)):
        lines += [f"    {'if' if i == 0 else 'elif'} kind == {i}:", "        for j in range(b):",
                  f"            a[j] = _f{i}(z[j])"]
    lines += ["", "", "def act_backward(kind, z, a, ga, dl, b):"]
    for i in range(len(acts)):
        lines += [f"    {'if' if i == 0 else 'elif'} kind == {i}:", "        for j in range(b):",
                  f"            dl[j] += ga[j] * _d{i}(z[j], a[j])"]
    lines += ["", "", "def loss_sample(kind, z, a, y, g, b):"]
    for i in range(len(losses)):
        lines += [f"    if kind == {i}:", f"        return _l{i}(z, a, y, g, b)"]
    lines += ["    return math.nan", "", "", "def opt_update(kind, p, g, lr, st, t, h):"]
    for i in range(len(opts)):
        lines += [f"    {'if' if i == 0 else 'elif'} kind == {i}:", f"        _o{i}(p, g, lr, st, t, h)"]
    # The grid's: a whole float32 row at a time, so that LLVM vectorises each loop.
    lines += ["", "", "def act_rows32(kind, z, a):"]
    for i in range(len(acts)):
        lines += [f"    {'if' if i == 0 else 'elif'} kind == {i}:",
                  "        for j in range(z.size):", f"            a[j] = _g{i}(z[j])"]
    lines += ["", "", "def loss_terms32(kind, z, a, y, t):"]
    for i, name in enumerate(losses):
        if LOSSES[name].per_sample.term32 is not None:
            lines += [f"    if kind == {i}:", "        for j in range(t.size):",
                      f"            t[j] += _t{i}(z[j], a[j], y[j])"]
    return lines


def _functions(text: str) -> list[tuple[str, int]]:
    return [(line[4:line.index("(")], i) for i, line in enumerate(text.splitlines())
            if line.startswith("def ")]


def _fingerprint(source: str) -> str:
    acts, losses, opts = _entries()
    keys = [source, numba_version(), np.__version__]
    for n in acts:
        scalar = ACTIVATIONS[n].scalar
        keys += [_code_key(scalar.f) + _code_key(scalar.df) + _code_key(scalar.f32)]
    keys += [_code_key(LOSSES[n].per_sample.fn) + _code_key(LOSSES[n].per_sample.term32)
             for n in losses]
    keys += [_code_key(OPTIMIZER_CLASSES[n].kernel) for n in opts]
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def numba_version() -> str:
    """Read from its metadata: importing numba takes half a second (the window asks too)."""
    try:
        return importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:
        return ""


def generated() -> tuple[str, str]:
    """(module name, source) of the generated module for the registries as they are now;
    no Numba import."""
    # Entries are frozen: one replaced or added is a new object, so their ids say when the
    # source must be generated again (generating and hashing it costs ~1 ms, a block's worth).
    key = tuple(map(id, (*ACTIVATIONS.values(), *LOSSES.values(), *OPTIMIZER_CLASSES.values())))
    if _named[0] != key:
        source = _source()
        _named[:] = [key, (f"backprop_kernels_{_fingerprint(source)}", source)]
    return _named[1]


_named: list = [None, None]  # (registry key, (name, source)) of the last generated() call


def kernels() -> types.ModuleType:
    """The generated, compiled module for the registries as they are now (imported once per
    fingerprint; its functions compile at the first call, or load from the disk cache)."""
    return _load(*generated())


def mark() -> None:
    """Say that the generated module's grid kernel is compiled into the disk cache (a file
    next to the module; the window loads the kernel only then, core.engine.compiled_grid)."""
    path = kernels().__file__
    Path(path).with_suffix(".grid-ready").touch()


def marked(name: str) -> bool:
    """Whether mark(name) was done, in this process or another; no Numba import."""
    return any((folder / "kernels" / f"{name}.grid-ready").exists() for folder in folders())


def folders() -> tuple[Path, Path]:
    """Where the generated module goes: Numba's cache folder (NUMBA_CACHE_DIR, else the
    user's cache folder), else a temporary one."""
    first = os.environ.get("NUMBA_CACHE_DIR") or str(cache_folder())
    return Path(first), Path(tempfile.gettempdir()) / "backprop-numba"


@functools.lru_cache(maxsize=8)
def _load(name: str, source: str) -> types.ModuleType:
    numba_module()  # NUMBA_CACHE_DIR before numba is imported
    for folder in folders():
        path = folder / "kernels" / f"{name}.py"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text(encoding="utf-8") != source:
                temp = path.with_suffix(f".{os.getpid()}.tmp")
                temp.write_text(source, encoding="utf-8")
                os.replace(temp, path)  # atomic: two processes may write it at once
            break
        except OSError:
            continue
    else:
        raise OSError("no writable folder for the compiled kernels")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ----- the graph as edge lists ---------------------------------------------------------------
@dataclass(frozen=True)
class EdgeLists:
    """A plan's graph for the kernel: incoming edges per row (CSR), theta positions."""

    in_ptr: np.ndarray  # row r's incoming edges are in_src/in_pos[in_ptr[r]: in_ptr[r + 1]]
    in_src: np.ndarray  # source row of each
    in_pos: np.ndarray  # its weight's position in theta
    bias_pos: np.ndarray  # each row's bias position in theta (0 for inputs: never read)
    act_kind: np.ndarray  # each row's activation, numbered as the generated dispatcher does
    out_rows: np.ndarray
    trainable: np.ndarray  # 1.0 where theta may change
    n_inputs: int
    n_edges: int


def edge_lists(plan: Plan) -> EdgeLists:
    n = plan.n_neurons
    dst, src, pos = [], [], []
    for lv in plan.levels:
        dst.append(lv.start + lv.rows)
        src.append(lv.src_lo + lv.cols)
        pos.append(lv.edge_pos)
    dst, src, pos = (np.concatenate(a).astype(np.int64) if a else np.zeros(0, np.int64)
                     for a in (dst, src, pos))
    order = np.lexsort((pos, dst))  # by target row, then document order
    in_ptr = np.zeros(n + 1, np.int64)
    np.add.at(in_ptr, dst + 1, 1)
    bias_pos = np.zeros(n, np.int64)
    bias_pos[plan.bias_rows] = len(plan.edge_ids) + np.arange(len(plan.bias_ids))
    kinds = {name: i for i, name in enumerate(_entries()[0])}
    act_kind = np.full(n, -1, np.int64)
    for lv in plan.levels:
        for name, g0, g1 in lv.groups:
            act_kind[g0:g1] = kinds[name]
    return EdgeLists(np.cumsum(in_ptr), src[order], pos[order], bias_pos, act_kind,
                     plan.output_rows.astype(np.int64), plan.trainable_vector().astype(float),
                     plan.n_inputs, len(plan.edge_ids))


def loss_kind(loss: str) -> int:
    """The loss's number in the generated dispatchers."""
    return _entries()[1].index(loss)


def kinds(loss: str, optimizer: str) -> tuple[int, bool, int]:
    """(loss number, whether its gradient is dL/dz, optimiser number) for the dispatchers."""
    _, losses, opts = _entries()
    return losses.index(loss), LOSSES[loss].per_sample.wrt_net, opts.index(optimizer)


def hyper(settings) -> np.ndarray:
    return np.array([float(getattr(settings, name)) for name in KERNEL_SETTINGS])


__all__ = ["ENGINE_VARIABLE", "EdgeLists", "GRID_OPTIONS", "cache_folder", "edge_lists",
           "folders", "generated", "hyper", "jit_form", "kernels", "kinds", "loss_kind", "mark",
           "marked", "numba_module", "numba_version", "unavailable"]
