"""Derived input features: what an input neuron computes from the data's raw columns.

TF Playground's inputs (x1, x2, x1², x2², x1·x2, sin x1, sin x2) let a net without hidden
layers separate circles. Each kind here is one registry entry carrying everything about it:
its NumPy function of the columns, its label, its ONNX form, its NumPy source for the Python
export and its step-through text. Nothing else keeps a list of them.

An input neuron's `feature` is a Feature (a kind and the columns it reads), or None: then
the neuron takes the column at its own position among the inputs, as before features
existed. `input_matrix` is the one place that turns data columns (samples x columns) into
the network's input matrix (samples x input neurons); training, the surfaces, step-through,
the data panel and the exports all go through it (or, in the exports, its registry forms).
Columns are those the app trains on: after the standardisation, when the data has one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from core.errors import NetworkError
from core.number_text import factor, fmt

# op(kind, inputs, **attributes) -> the name of the node's output: appends one ONNX node.
OnnxOp = Callable[..., str]
MAX_COLUMN = 99_999  # a file naming column 10**12 is refused, not allocated


@dataclass(frozen=True)
class FeatureKind:
    name: str
    arity: int  # how many columns it reads
    f: Callable[..., np.ndarray]  # the columns (each of shape (samples,)) -> values
    label: Callable[..., str]  # the columns' names -> the neuron's text, e.g. "x1²"
    # ONNX form: (op, column tensors of shape [batch, 1]) -> output tensor; core never imports onnx
    onnx: Callable[..., str]
    numpy_source: str  # a NumPy expression in c0 (and c1) for the standalone Python export
    words: str  # what it is, in plain words (inspector tip, step-through rule)

    def explain(self, names: Sequence[str], values: Sequence[float], result: float) -> str:
        """The step-through line: 'x1² = 0.5² = 0.25'."""
        numbers = self.label(*(factor(v) for v in values))
        return f"{self.label(*names)} = {numbers} = {fmt(result)}"


def _product_label(a: str, b: str) -> str:
    return f"{a}²" if a == b else f"{a}·{b}"


FEATURE_KINDS: dict[str, FeatureKind] = {
    k.name: k
    for k in (
        FeatureKind("column", 1, lambda c: c, lambda a: a, lambda op, c: op("Identity", [c]),
                    "c0", "the data column itself"),
        FeatureKind("square", 1, lambda c: c * c, lambda a: f"{a}²",
                    lambda op, c: op("Mul", [c, c]), "c0 * c0", "the column squared"),
        FeatureKind("product", 2, lambda c, d: c * d, _product_label,
                    lambda op, c, d: op("Mul", [c, d]), "c0 * c1", "the product of two columns"),
        FeatureKind("sin", 1, np.sin, lambda a: f"sin {a}", lambda op, c: op("Sin", [c]),
                    "np.sin(c0)", "the sine of the column (radians)"),
        FeatureKind("cos", 1, np.cos, lambda a: f"cos {a}", lambda op, c: op("Cos", [c]),
                    "np.cos(c0)", "the cosine of the column (radians)"),
    )
}


def column_name(index: int) -> str:
    """How labels call data column `index`: x1, x2, ... (TF Playground's names)."""
    return f"x{index + 1}"


@dataclass(frozen=True)
class Feature:
    kind: str
    columns: tuple[int, ...]

    def __post_init__(self) -> None:
        spec = FEATURE_KINDS.get(self.kind)
        if spec is None:
            raise NetworkError(f"unknown feature {self.kind!r}; use one of "
                               f"{', '.join(FEATURE_KINDS)}")
        cols = self.columns
        if not isinstance(cols, tuple) or len(cols) != spec.arity:
            raise NetworkError(f"the {self.kind} feature reads {spec.arity} column(s), "
                               f"not {len(cols) if isinstance(cols, (tuple, list)) else cols!r}")
        if any(isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= MAX_COLUMN
               for c in cols):
            raise NetworkError(f"a feature's columns are whole numbers from 0 to {MAX_COLUMN} "
                               f"(0 is x1), not {list(cols)!r}"[:200])

    @property
    def spec(self) -> FeatureKind:
        return FEATURE_KINDS[self.kind]

    @property
    def label(self) -> str:
        return self.spec.label(*(column_name(c) for c in self.columns))

    def compute(self, x: np.ndarray) -> np.ndarray:
        """This feature of every sample of x (samples x columns)."""
        return self.spec.f(*(x[:, c] for c in self.columns))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "columns": list(self.columns)}

    @classmethod
    def from_dict(cls, d: Any) -> "Feature":
        if not isinstance(d, dict) or set(d) != {"kind", "columns"}:
            raise NetworkError('a feature is {"kind": ..., "columns": [...]}')
        cols = d["columns"]
        return cls(d["kind"], tuple(cols) if isinstance(cols, list) else cols)


def choices(n_columns: int, products: bool = True) -> list[Feature]:
    """Every feature of data with n_columns columns worth offering, TF Playground's order:
    the columns, their squares, their products (unless `products` is false: 784 columns
    have 306,936 of them), then sines and cosines."""
    cols = range(n_columns)
    pairs = ((a, b) for a in cols for b in cols if a < b) if products else ()
    return [*(Feature("column", (c,)) for c in cols), *(Feature("square", (c,)) for c in cols),
            *(Feature("product", pair) for pair in pairs),
            *(Feature("sin", (c,)) for c in cols), *(Feature("cos", (c,)) for c in cols)]


# TF Playground's seven inputs, for two-column data (the palette offers them).
PLAYGROUND = (Feature("column", (0,)), Feature("column", (1,)), Feature("square", (0,)),
              Feature("square", (1,)), Feature("product", (0, 1)), Feature("sin", (0,)),
              Feature("sin", (1,)))


# ----- a network's inputs as a whole ---------------------------------------------------------
def resolved(features: Sequence[Feature | None]) -> tuple[Feature, ...] | None:
    """Each input's feature, a plain column where it has none; None when no input has one
    (the input matrix is then the data itself, today's behaviour at no cost)."""
    if all(f is None for f in features):
        return None
    return tuple(f if f is not None else Feature("column", (i,)) for i, f in enumerate(features))


def columns_needed(features: Sequence[Feature | None]) -> int:
    """How many data columns these inputs read: without features, one per input."""
    full = resolved(features)
    if full is None:
        return len(features)
    return 1 + max((c for f in full for c in f.columns), default=-1)


def columns_unread(features: Sequence[Feature | None], n_columns: int) -> list[int]:
    """The data columns no input reads (an import of more columns than the inputs' features
    use): worth saying, since training runs without them."""
    full = resolved(features)
    read = set(range(len(features))) if full is None else {c for f in full for c in f.columns}
    return [c for c in range(n_columns) if c not in read]


def column_mismatch(features: Sequence[Feature | None], n_columns: int) -> str | None:
    """Why data with n_columns columns cannot feed these inputs, or None. Without features
    the counts must be equal (as always); with them every column read must exist."""
    full = resolved(features)
    if full is None:
        if len(features) != n_columns:
            return (f"the data has {n_columns} input column(s), but the network has "
                    f"{len(features)} input neuron(s)")
        return None
    for f in full:
        missing = [c for c in f.columns if c >= n_columns]
        if missing:
            return (f"the input feature {f.label} reads column {column_name(missing[0])}, but "
                    f"the data has {n_columns} input column(s)")
    return None


def input_matrix(features: Sequence[Feature | None], x: np.ndarray) -> np.ndarray:
    """The network's input matrix (samples x input neurons) from data columns x."""
    full = resolved(features)
    if full is None:
        return x
    x = np.asarray(x)
    out = np.empty((x.shape[0], len(full)), dtype=np.result_type(x.dtype, np.float32))
    for i, f in enumerate(full):
        out[:, i] = f.compute(x)
    return out


def numpy_function_source(name: str = "_feature") -> str:
    """def _feature(kind, c0, c1): one branch per kind, each its registry expression."""
    lines = [f"def {name}(kind, c0, c1=None):"]
    for kind in FEATURE_KINDS.values():
        lines += [f"    if kind == {ascii(kind.name)}:", f"        return {kind.numpy_source}"]
    return "\n".join(lines + ["    raise ValueError(kind)"]) + "\n"
