"""One training run, kept: what was trained how, from which weights, and what came of it.

A Run is immutable plain data: the training and data settings as the plain dicts the project
file holds, fingerprints of the network's structure and of the weights it started from, the
counts, decimated curves (core.experiments.curve), the final figures and, optionally, the final
weights. Runs are written into the project file (docs/file-format.md, "runs") and read back
leniently: a run a file holds wrongly is dropped with a one-line note, and fields a newer
version added are ignored, so the network itself always opens.
"""
from __future__ import annotations

import hashlib
import json
import math
import weakref
from operator import attrgetter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import numpy as np

from core.errors import RunError, shorten
from core.experiments.curve import Curve
from core.network import Network

if TYPE_CHECKING:  # the trainer's import costs ~0.1 s, which opening a project need not pay
    from core.training.trainer import Evaluation

CURVE_NAMES = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")
MAX_NAME = 200
MAX_NOTE = 1000
# A run keeps its final weights only up to this many parameters (a 784-64-10 net has 51k):
# the weights of hundreds of runs of a big net would make a file of hundreds of megabytes.
MAX_RUN_PARAMETERS = 100_000
MAX_SETTINGS = 200  # fields in a run's settings dicts, and characters in a text value there
FIGURES = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")


# Runs are frozen; their dicts are not (a MappingProxyType does not pickle, and runs travel
# from sweep workers): nothing changes them after a run is made.
@dataclass(frozen=True)
class RunWeights:
    """Final weights by edge id and biases by neuron id (what Network.set_values takes)."""

    edges: Mapping[str, float]
    biases: Mapping[str, float]

    @classmethod
    def of(cls, network: Network) -> "RunWeights | None":
        """The network's values, or None when it has more than MAX_RUN_PARAMETERS."""
        if len(network.edges) + len(network.neurons) > MAX_RUN_PARAMETERS:
            return None
        return cls({e.id: e.weight for e in network.edges.values()},
                   {n.id: n.bias for n in network.neurons.values() if n.role != "input"})

    def __len__(self) -> int:
        return len(self.edges) + len(self.biases)


@dataclass(frozen=True)
class Run:
    id: str  # stable within a RunLog ("r1"); the log gives one to a run without (or taken)
    name: str
    when: str  # ISO 8601 local time with its offset, to the second
    training: Mapping[str, Any]  # TrainingSettings.to_dict() as it was
    data: Mapping[str, Any]  # DataSettings.to_dict() as it was
    structure: str  # fingerprint of the network's shape (neurons, edges, activations, frozen)
    start: str  # fingerprint of the weights and biases the run started from
    initialised: bool  # the start weights were drawn from the initialiser and the seed
    steps: int = 0
    epochs: int = 0
    seconds: float = 0.0  # wall time spent training
    curves: Mapping[str, Curve] = field(default_factory=dict)  # CURVE_NAMES, where known
    final: Evaluation | None = None
    weights: RunWeights | None = None
    note: str = ""  # why it stopped early (divergence), or why it failed

    @classmethod
    def starting(cls, network: Network, data: Any, training: Any, initialised: bool = False,
                 name: str = "", when: str | None = None, structure: str | None = None
                 ) -> "Run":
        """A run about to train `network` with these DataSettings and TrainingSettings.
        `structure`: its fingerprint if known ("" for one filled in later: RunRecorder)."""
        if structure is None:
            structure = structure_fingerprint(network)
        return cls("", name, when or now_text(), training.to_dict(), data.to_dict(),
                   structure, weights_fingerprint(network), initialised)

    @property
    def seed(self) -> int | None:
        seed = self.training.get("seed")
        return seed if type(seed) is int else None

    def renamed(self, name: str) -> "Run":
        return replace(self, name=check_name(name))

    def differences(self, before: "Run | None") -> list[tuple[str, Any, Any]]:
        """(setting, value before, value here) for each setting that differs from `before`
        ("data.noise" for data settings, "network" when the structure differs); [] without
        one."""
        if before is None:
            return []
        out = [(name, before.training.get(name), value) for name, value in self.training.items()
               if before.training.get(name) != value]
        out += [(f"data.{name}", before.data.get(name), value) for name, value in
                self.data.items() if before.data.get(name) != value]
        if before.structure != self.structure:
            out.append(("network", before.structure, self.structure))
        return out

    # ----- plain data ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "when": self.when,
            "training": dict(self.training), "data": dict(self.data),
            "structure": self.structure, "start": self.start, "initialised": self.initialised,
            "steps": self.steps, "epochs": self.epochs, "seconds": self.seconds,
            "curves": {k: c.to_dict() for k, c in self.curves.items()},
            "final": None if self.final is None else
            {k: getattr(self.final, k) for k in FIGURES},
            "weights": None if self.weights is None else
            {"edges": dict(self.weights.edges), "biases": dict(self.weights.biases)}}
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "run", notes: list[str] | None = None) -> "Run":
        """A run from a file; raises RunError naming the first bad field. Unknown fields (a
        newer version's) are ignored, each with a line in `notes`."""
        if not isinstance(data, dict):
            raise RunError(f"{where} must be an object")
        for unknown in sorted(set(data) - _FIELDS, key=str)[:3]:
            if notes is not None:
                notes.append(f"{where}.{shorten(unknown, 40)} is not a known field; ignored")
        r = _Reader(data, where)
        curves = r.get("curves", dict, {})
        unknown_curves = sorted(set(curves) - set(CURVE_NAMES), key=str)
        if unknown_curves and notes is not None:
            notes.append(f"{where}.curves.{shorten(unknown_curves[0], 40)} is not a known "
                         "curve; ignored")
        return cls(
            id=r.text("id", 200), name=r.text("name", MAX_NAME),
            when=r.text("when", 64), training=r.settings("training"),
            data=r.settings("data"), structure=r.text("structure", 64),
            start=r.text("start", 64), initialised=r.get("initialised", bool, False),
            steps=r.count("steps"), epochs=r.count("epochs"), seconds=r.number("seconds"),
            curves={k: Curve.from_dict(curves[k], f"{where}.curves.{k}")
                    for k in CURVE_NAMES if k in curves},
            final=r.final(), weights=r.weights(), note=r.text("note", MAX_NOTE))


_FIELDS = {"id", "name", "when", "training", "data", "structure", "start", "initialised",
           "steps", "epochs", "seconds", "curves", "final", "weights", "note"}


def check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise RunError("a run's name must be text")
    name = " ".join(name.split())
    if not name:
        raise RunError("a run's name cannot be empty")
    if len(name) > MAX_NAME:
        raise RunError(f"a run's name must have at most {MAX_NAME} characters")
    return name


def now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


# ----- fingerprints -------------------------------------------------------------------------
def weights_fingerprint(network: Network) -> str:
    """A short hash of every weight and bias with its id, bit for bit: two runs with the same
    fingerprint started from the same weights."""
    h = hashlib.sha256()
    edges = network.edges.values()
    hidden = [n for n in network.neurons.values() if n.role != "input"]
    # (the edges' ids and weights read by map at C speed: generators took 10 ms on 51k edges,
    # at every structure edit while training)
    h.update("\0".join(network.edges).encode() + b"\1")
    h.update(np.fromiter(map(_weight, edges), float, len(network.edges)).tobytes())
    h.update("\0".join(n.id for n in hidden).encode() + b"\1")
    h.update(np.fromiter((n.bias for n in hidden), float, len(hidden)).tobytes())
    return h.hexdigest()[:16]


_weight = attrgetter("weight")


def structure_fingerprint(network: Network) -> str:
    """A short hash of what a compiled plan depends on: neurons (role, activation, frozen,
    feature) and edges (ends, frozen, delay), in document order; not values or positions.
    Remembered per structure version: a 51k-edge net takes 45 ms to hash, and the window
    asks at every run's start. The edges' part of the text is remembered too, per edges'
    shape (Network.edges_shape_version): adding or changing a neuron hashes in 5 ms."""
    ref, version, known = _last_structure
    if ref() is network and version == network.structure_version:
        return known
    neurons = json.dumps([(n.id, n.role, n.activation, n.frozen, n.feature)
                          for n in network.neurons.values()], default=str)
    # json.dumps([a, b]) is "[" + dumps(a) + ", " + dumps(b) + "]": the same text as hashing
    # the pair at once, so fingerprints stay what they were (runs kept in files compare).
    text = f"[{neurons}, {_edges_text(network)}]"  # (the edges' text remembered: see above)
    fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
    _last_structure[:] = [weakref.ref(network), network.structure_version, fingerprint]
    return fingerprint


def _edges_text(network: Network) -> str:
    """json.dumps of the edges' part of the shape, remembered per edges' shape."""
    ref, version, known = _last_edges
    if ref() is network and version == network.edges_shape_version:
        return known
    text = "[" + _edges_piece(list(network.edges.values())) + "]"
    _last_edges[:] = [weakref.ref(network), network.edges_shape_version, text]
    return text


def _edges_piece(edges: list) -> str:
    """The edges' text without its brackets: json.dumps of a list is "[" + its items' texts
    joined by ", " + "]", so pieces of a long list joined by ", " make the whole one's."""
    # (a delay only where there is one: fingerprints of older nets stay as they were)
    return json.dumps([(e.id, e.source, e.target, e.frozen, *((e.delay,) if e.delay else ()))
                       for e in edges], default=str)[1:-1]


def structure_fingerprint_job(network: Network, chunk: int = 4000) -> Iterator[None]:
    """structure_fingerprint made a few thousand edges at a time: a generator that yields
    between pieces (gui/slices.py runs it between the window's events) and at its end
    remembers the fingerprint as structure_fingerprint does, so that the next call returns
    it at once. A structure edit while it runs ends it with nothing remembered. A new run
    on a 51k-edge net needs its fingerprint: at once it stopped the window 45 ms."""
    ref, version, _ = _last_structure
    if ref() is network and version == network.structure_version:
        return
    version, shape = network.structure_version, network.edges_shape_version
    known = _last_edges
    if not (known[0]() is network and known[1] == shape):
        edges, pieces = list(network.edges.values()), []
        for start in range(0, len(edges), chunk):
            yield
            if network.structure_version != version:
                return
            pieces.append(_edges_piece(edges[start:start + chunk]))
        yield
        if network.structure_version != version:
            return
        _last_edges[:] = [weakref.ref(network), shape,
                          "[" + ", ".join(p for p in pieces if p) + "]"]
    structure_fingerprint(network)


# The last network hashed (a weak reference: a closed document is not kept), its version and
# fingerprint, and its edges' text. One is enough: the window asks about its own document,
# over and over.
_last_structure: list = [lambda: None, -1, ""]
_last_edges: list = [lambda: None, (-1, -1), ""]


# ----- reading ------------------------------------------------------------------------------
class _Reader:
    """Typed reads of one run's fields, each refusal naming the field."""

    def __init__(self, data: dict, where: str) -> None:
        self.data, self.where = data, where

    def get(self, key: str, kind: type, default: Any) -> Any:
        value = self.data.get(key, default)
        if value is None and default is None:
            return None
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise RunError(f"{self.where}.{key} must be {_KINDS[kind]}")
        return value

    def text(self, key: str, limit: int) -> str:
        value = self.get(key, str, "")
        if len(value) > limit:
            raise RunError(f"{self.where}.{key} must have at most {limit} characters")
        return value

    def count(self, key: str) -> int:
        value = self.get(key, int, 0)
        if not 0 <= value < 2**63:
            raise RunError(f"{self.where}.{key} must be a whole number from 0")
        return value

    def number(self, key: str) -> float:
        value = self.data.get(key, 0.0)
        if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
            raise RunError(f"{self.where}.{key} must be a number from 0")
        return float(value)

    def settings(self, key: str) -> dict[str, Any]:
        """A settings dict as kept: plain values only (its own checks are for when a run's
        settings are used again: TrainingSettings.from_dict names the bad one then)."""
        value = self.get(key, dict, {})
        if len(value) > MAX_SETTINGS:
            raise RunError(f"{self.where}.{key} has more than {MAX_SETTINGS} fields")
        for name, v in value.items():
            if len(name) > MAX_SETTINGS or not _plain(v):
                raise RunError(f"{self.where}.{key}.{shorten(name, 40)} must be a number, "
                               "text, true or false, or a list of names")
        return dict(value)

    def final(self) -> "Evaluation | None":
        from core.training.trainer import Evaluation

        value = self.get("final", dict, None)
        if value is None:
            return None
        figures = {}
        for k in FIGURES:
            v = value.get(k)
            if v is not None and (type(v) not in (int, float) or not math.isfinite(v)):
                raise RunError(f"{self.where}.final.{k} must be a number or null")
            figures[k] = None if v is None else float(v)
        if figures["train_loss"] is None:
            raise RunError(f"{self.where}.final.train_loss must be a number")
        return Evaluation(**figures)

    def weights(self) -> RunWeights | None:
        value = self.get("weights", dict, None)
        if value is None:
            return None
        if set(value) != {"edges", "biases"}:
            raise RunError(f"{self.where}.weights must have \"edges\" and \"biases\"")
        parts = []
        for key in ("edges", "biases"):
            part = value[key]
            if not isinstance(part, dict) or not all(
                    type(v) in (int, float) and math.isfinite(v) for v in part.values()):
                raise RunError(f"{self.where}.weights.{key} must map ids to finite numbers")
            parts.append({k: float(v) for k, v in part.items()})
        if sum(map(len, parts)) > MAX_RUN_PARAMETERS:
            raise RunError(f"{self.where}.weights holds more than {MAX_RUN_PARAMETERS:,} values")
        return RunWeights(*parts)


_KINDS = {dict: "an object", str: "text", int: "a whole number", bool: "true or false",
          list: "a list"}


def _plain(v: Any) -> bool:
    if v is None or isinstance(v, bool):
        return True
    if type(v) in (int, float):
        return math.isfinite(v)
    if isinstance(v, str):
        return len(v) <= 10 * MAX_SETTINGS
    return isinstance(v, list) and len(v) <= MAX_SETTINGS and \
        all(isinstance(s, str) and len(s) <= MAX_SETTINGS for s in v)
