"""Trained weights out as NumPy .npz, JSON or CSV, and back in from .npz or JSON.

npz keys: "weight:<edge id>" and "bias:<neuron id>" for every edge and non-input neuron (ids
percent-escaped where a zip member name could not hold them, e.g. NUL, "/" or "%"; the key
"key_encoding" = "percent" says so); where the graph is layered (every edge goes from depth d
to d + 1) also "layer<k>.W" (shape: units of layer k-1 x units of layer k, zero where no edge,
for x @ W + b), "layer<k>.b", and the neuron ids of its rows and columns as
"layer<k>.inputs" / "layer<k>.units". A recurrent net's delayed edges: "delay:<edge id>" = 1
for each (an edge without one has no delay; a recurrent net has no layer tables). With
standardised inputs "input.mean" and "input.std" (raw x -> (x - mean) / std before the first
layer); for classification "class_names".
JSON: {"format": "backprop-studio-weights", "version": 1, "weights": {id: w}, "biases":
{id: b}, "edges": [[id, source, target], ...], "inputs": [ids], "outputs": [ids],
"preprocessing": {"mean", "std", "class_names"} (each null when absent), "layers": [...] when
layered, "delays": {id: 1} for a recurrent net's delayed edges}.
CSV: a folder with one table per layer (layer1.csv, ...: a header of unit ids, one row per
input id) when layered; otherwise edges.csv (id, source, target, weight, and for a recurrent
net delay) and biases.csv; plus standardization.csv (input, mean, std) and classes.csv
(index, class) when they apply. Text cells starting with = + - @ are prefixed with ' so a
spreadsheet never runs them.
Import reads files with or without the preprocessing fields (it needs only the weights), and
refuses a file whose delays are not the network's (the same weights on other delays are
another net).
"""
from __future__ import annotations

import csv
import functools
import io
import json
import itertools
import lzma
import math
import zipfile
import zlib
from pathlib import Path
from typing import Iterable

import numpy as np

from core.errors import ExportError, UserError, shorten
from core.files import FileRefused, open_user_file, read_user_file, write_atomically
from core.network import Edge, Network
from core.export.preprocessing import NONE, Preprocessing
from core.features import column_name
from core.safe_text import csv_cell, npz_ident, npz_key_part
from core.strict_json import JSONRefused, loads_strict

JSON_FORMAT = "backprop-studio-weights"
NPZ_KEYS, NPZ_KEYS_PERCENT = "key_encoding", "percent"


def layers(net: Network) -> list[tuple[list[str], list[str], np.ndarray, np.ndarray]] | None:
    """(input ids, unit ids, W, b) per layer when every edge joins consecutive depths (never
    for a recurrent net: a layer table cannot say which of its weights read the step before)."""
    if net.is_recurrent:
        return None
    depth = net.depths()
    if any(depth[e.target] != depth[e.source] + 1 for e in net.edges.values()):
        return None
    top = max(depth.values(), default=0)
    by_depth = [[n for n in net.neurons if depth[n] == d] for d in range(top + 1)]
    out = []
    for d in range(1, top + 1):
        rows, cols = by_depth[d - 1], by_depth[d]
        r, c = {n: i for i, n in enumerate(rows)}, {n: i for i, n in enumerate(cols)}
        w = np.zeros((len(rows), len(cols)))
        for e in net.edges.values():
            if e.target in c:
                w[r[e.source], c[e.target]] = e.weight
        out.append((rows, cols, w, np.array([net.neurons[n].bias for n in cols])))
    return out


def _standardized(net: Network) -> Iterable[str]:
    """What each entry of the standardisation belongs to: the input neurons, or with input
    features the data's columns (x1, x2, ...) they are computed from."""
    if any(n.feature for n in net.inputs):
        return (column_name(c) for c in itertools.count())
    return [n.id for n in net.inputs]


def _biased(net: Network) -> list[str]:
    return [n.id for n in net.neurons.values() if n.role != "input"]


def _delayed(net: Network) -> list[Edge]:
    return [e for e in net.edges.values() if e.delay]


def export_npz(net: Network, path: Path, prep: Preprocessing = NONE) -> None:
    arrays: dict[str, np.ndarray] = {NPZ_KEYS: np.array(NPZ_KEYS_PERCENT)}
    for e in net.edges.values():
        arrays[f"weight:{npz_key_part(e.id)}"] = np.array(e.weight)
    for nid in _biased(net):
        arrays[f"bias:{npz_key_part(nid)}"] = np.array(net.neurons[nid].bias)
    for e in _delayed(net):
        arrays[f"delay:{npz_key_part(e.id)}"] = np.array(e.delay)
    for k, (rows, cols, w, b) in enumerate(layers(net) or [], 1):
        arrays.update({f"layer{k}.W": w, f"layer{k}.b": b, f"layer{k}.inputs": np.array(rows),
                       f"layer{k}.units": np.array(cols)})
    if prep.mean is not None:
        arrays.update({"input.mean": np.array(prep.mean), "input.std": np.array(prep.std)})
    if prep.class_names is not None:
        arrays["class_names"] = np.array(prep.class_names, dtype=str)
    write_atomically(path, lambda f: _write_npz(f, arrays))


def _npy_bytes(value: np.ndarray) -> bytes:
    """An array as np.save writes it. A 0-d array's header depends on its dtype only: it is
    made once per dtype and the value's bytes appended (np.savez made each of a 51k-edge
    net's members itself and took 3-6 s, the window frozen meanwhile)."""
    if value.ndim == 0 and not value.dtype.hasobject:
        return _scalar_header(value.dtype.str) + value.tobytes()
    out = io.BytesIO()
    np.lib.format.write_array(out, value, allow_pickle=False)
    return out.getvalue()


@functools.lru_cache(maxsize=None)
def _scalar_header(dtype: str) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, np.zeros((), dtype), allow_pickle=False)
    return out.getvalue()[: -np.dtype(dtype).itemsize]


def _write_npz(f, arrays: dict[str, np.ndarray]) -> None:
    """What np.savez writes (stored members NAME.npy), member by member."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in arrays.items():
            zf.writestr(f"{name}.npy", _npy_bytes(np.asanyarray(value)))


def export_json(net: Network, path: Path, prep: Preprocessing = NONE) -> None:
    doc = {"format": JSON_FORMAT, "version": 1,
           "weights": {e.id: e.weight for e in net.edges.values()},
           "biases": {nid: net.neurons[nid].bias for nid in _biased(net)},
           "edges": [[e.id, e.source, e.target] for e in net.edges.values()],
           "inputs": [n.id for n in net.inputs], "outputs": [n.id for n in net.outputs],
           "preprocessing": prep.to_dict()}
    if net.is_recurrent:  # (only then: a feed-forward export is what it was)
        doc["delays"] = {e.id: e.delay for e in _delayed(net)}
    features = {n.id: n.feature.to_dict() for n in net.inputs if n.feature is not None}
    if features:  # the inputs' features of the data's columns (core.features)
        doc["features"] = features
    lay = layers(net)
    if lay is not None:
        doc["layers"] = [{"inputs": r, "units": c, "W": w.tolist(), "b": b.tolist()}
                         for r, c, w, b in lay]
    write_atomically(path, json.dumps(doc, indent=1, allow_nan=False).encode("ascii"))


def csv_tables(net: Network, prep: Preprocessing = NONE) -> dict[str, list[list[str]]]:
    """File name -> rows of the CSV export. Text cells are neutralised (csv_cell); numbers
    are written with repr, so they read back exactly."""
    def num(v: float) -> str:
        return repr(float(v))

    tables: dict[str, list[list[str]]] = {}
    lay = layers(net)
    if lay is not None:
        for k, (rows, cols, w, b) in enumerate(lay, 1):
            tables[f"layer{k}.csv"] = (
                [["from \\ to", *map(csv_cell, cols)]]
                + [[csv_cell(nid), *map(num, row)] for nid, row in zip(rows, w)]
                + [["bias", *map(num, b)]])
    else:
        delay = net.is_recurrent  # the column only then: a feed-forward table is what it was
        tables["edges.csv"] = [["id", "source", "target", "weight", *(["delay"] if delay else [])]
                               ] + [[csv_cell(e.id), csv_cell(e.source), csv_cell(e.target),
                                     num(e.weight), *([str(e.delay)] if delay else [])]
                                    for e in net.edges.values()]
        tables["biases.csv"] = [["neuron", "bias"]] + [
            [csv_cell(nid), num(net.neurons[nid].bias)] for nid in _biased(net)]
    if prep.mean is not None:
        tables["standardization.csv"] = [["input", "mean", "std"]] + [
            [csv_cell(n), num(m), num(s)] for n, m, s in zip(_standardized(net), prep.mean,
                                                             prep.std)]
    if prep.class_names is not None:
        tables["classes.csv"] = [["index", "class"]] + [
            [str(i), csv_cell(c)] for i, c in enumerate(prep.class_names)]
    return tables


def export_csv(net: Network, path: Path, prep: Preprocessing = NONE) -> None:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in csv_tables(net, prep).items():
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        write_atomically(folder / name, text.getvalue().encode("utf-8", "surrogatepass"))


def import_weights(net: Network, path: str | Path) -> tuple[dict[str, float], dict[str, float]]:
    """Weights and biases from an .npz or JSON export, checked against `net` (not modified)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npz":
            weights, biases, endpoints, delays = _read_npz(path)
        else:
            weights, biases, endpoints, delays = _read_json(path)
    except ExportError:
        raise
    except FileRefused as exc:
        raise ExportError(str(exc)) from None
    except OSError as exc:
        raise ExportError(f"{path}: {exc.strerror or 'cannot be read'}") from None
    except (ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError, zipfile.LargeZipFile,
            NotImplementedError, RuntimeError, zlib.error, lzma.LZMAError) as exc:
        # RuntimeError: an encrypted member; zlib/lzma errors (and OSError for bzip2,
        # above): damaged compressed data.
        raise ExportError(f"{path.name} is not a weights file this program wrote "
                          f"({shorten(str(exc), 80)})") from None
    _match(net, weights, biases, endpoints, path.name)
    _match_delays(net, delays, path.name)
    return weights, biases


# A scalar .npy member is a 128-byte header and 8 bytes of value; anything much larger under
# a weight:/bias: name is not one, and is refused before it is decompressed (zip bombs).
SCALAR_NPY_BYTES = 4096
MAX_IMPORT_BYTES = 200 * 2**20
MAX_MEMBERS = 2_100_000  # edges + neurons at their limits, plus layer tables


def _read_npz(path: Path):
    """Only the weight:/bias:/delay: members are read, each bounded; layer tables are skipped."""
    weights, biases, delays = {}, {}, {}
    with open_user_file(path, MAX_IMPORT_BYTES) as f, zipfile.ZipFile(f) as zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise ExportError(f"{path.name} holds {len(members):,} arrays; the limit is "
                              f"{MAX_MEMBERS:,}")
        # Files from before the escaping hold ids as they are.
        percent = any(i.filename.removesuffix(".npy") == NPZ_KEYS for i in members)
        for info in members:
            key = info.filename.removesuffix(".npy")
            kind, _, ident = key.partition(":")
            if kind not in ("weight", "bias", "delay"):
                continue
            if info.file_size > SCALAR_NPY_BYTES:
                raise ExportError(f"{path.name}: {shorten(key, 60)} is not a single number")
            with zf.open(info) as member:
                value = _scalar_npy(member.read(SCALAR_NPY_BYTES + 1))
            if value is None:
                raise ExportError(f"{path.name}: {shorten(key, 60)} is not a single number")
            table = {"weight": weights, "bias": biases, "delay": delays}[kind]
            table[npz_ident(ident) if percent else ident] = value
    return weights, biases, None, delays


def _scalar_npy(data: bytes) -> float | None:
    """The number in a 0-d numeric .npy, or None; its header is checked before any value is
    read (a header may claim terabytes). Every member of one file has the same header: it is
    parsed once (parsing each of a 51k-edge file's took 6 s)."""
    for dtype in ("<f8", "<f4"):
        head = _scalar_header(dtype)
        if data.startswith(head) and len(data) == len(head) + np.dtype(dtype).itemsize:
            return float(np.frombuffer(data, dtype=dtype, offset=len(head))[0])
    fp = io.BytesIO(data)
    version = np.lib.format.read_magic(fp)
    read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read_header is None:
        raise ValueError(f"unknown .npy version {version}")
    try:
        shape, _, dtype = read_header(fp)
    except Exception:  # noqa: BLE001 - numpy's header parser raises many kinds (TokenError...)
        raise ValueError("an array header cannot be read") from None
    if shape != () or dtype.hasobject or dtype.kind not in "fiu":
        return None
    raw = fp.read(dtype.itemsize)
    if len(raw) != dtype.itemsize:
        raise ValueError("a value is cut short")
    return float(np.frombuffer(raw, dtype=dtype)[0])


def _read_json(path: Path):
    try:
        doc = loads_strict(read_user_file(path, MAX_IMPORT_BYTES).decode("utf-8"))
    except JSONRefused as exc:
        raise ExportError(f"{path.name}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise ExportError(f"{path.name} is not a Backprop Studio weights file")
    weights, biases = doc.get("weights"), doc.get("biases")
    for table in (weights, biases):
        if not isinstance(table, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in table.values()):
            raise ExportError(f"{path.name}: weights and biases must be numbers by id")
    edges = doc.get("edges", [])
    if not isinstance(edges, list) or not all(
            isinstance(e, list) and len(e) == 3 and all(isinstance(s, str) for s in e)
            for e in edges):
        raise ExportError(f"{path.name}: edges must be a list of [id, source, target] lists")
    endpoints = {e[0]: (e[1], e[2]) for e in edges}
    delays = doc.get("delays", {})
    if not isinstance(delays, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in delays.values()):
        raise ExportError(f"{path.name}: delays must be numbers by edge id")
    return ({k: float(v) for k, v in weights.items()}, {k: float(v) for k, v in biases.items()},
            endpoints, {k: float(v) for k, v in delays.items()})


def _match(net: Network, weights: dict, biases: dict, endpoints: dict | None, name: str) -> None:
    for e in net.edges.values():
        if e.id not in weights:
            raise ExportError(f"{name} has no weight for edge {e.id} "
                              f"({net.neurons[e.source].name} -> {net.neurons[e.target].name})")
        if endpoints is not None and e.id in endpoints and tuple(endpoints[e.id]) != (e.source, e.target):
            s, t = (shorten(v, 40) for v in endpoints[e.id])
            raise ExportError(f"{name}: edge {e.id} goes {s} -> {t} in the file but "
                              f"{e.source} -> {e.target} in the network")
    extra = sorted(set(weights) - set(net.edges))
    if extra:
        raise ExportError(f"{name} has a weight for edge {shorten(extra[0], 40)}, which the "
                          "network does not have")
    expected = set(_biased(net))
    missing = sorted(expected - set(biases))
    if missing:
        raise ExportError(f"{name} has no bias for neuron {missing[0]}")
    extra = sorted(set(biases) - expected)
    if extra:
        raise ExportError(f"{name} has a bias for {shorten(extra[0], 40)}, which is not a biased "
                          "neuron here")
    for table in (weights, biases):
        for k, v in table.items():
            if not math.isfinite(v):
                raise ExportError(f"{name}: the value for {shorten(k, 40)} is not a finite number")


def _match_delays(net: Network, delays: dict[str, float], name: str) -> None:
    """The file's delays are the network's: each edge it lists is delayed by that many steps,
    every other edge by none (a file without any is a feed-forward net's)."""
    extra = sorted(set(delays) - set(net.edges))
    if extra:
        raise ExportError(f"{name} has a delay for edge {shorten(extra[0], 40)}, which the "
                          "network does not have")
    for e in net.edges.values():
        found = delays.get(e.id, 0.0)
        if found != e.delay:
            there = "a delay of 1 step" if found == 1 else (
                "no delay" if found == 0 else f"a delay of {shorten(repr(found), 20)}")
            here = "is delayed by 1 step" if e.delay else "has no delay"
            ends = " -> ".join(shorten(net.neurons[n].name, 30) for n in (e.source, e.target))
            raise ExportError(f"{name}: edge {shorten(e.id, 40)} ({ends}) {here} in the network "
                              f"but has {there} in the file; these weights belong to another net")
