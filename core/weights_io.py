"""Trained weights out as NumPy .npz, JSON or CSV, and back in from .npz or JSON.

npz keys: "weight:<edge id>" and "bias:<neuron id>" for every edge and non-input neuron; where
the graph is layered (every edge goes from depth d to d + 1) also "layer<k>.W" (shape: units of
layer k-1 x units of layer k, zero where no edge, for x @ W + b), "layer<k>.b", and the neuron
ids of its rows and columns as "layer<k>.inputs" / "layer<k>.units".
JSON: {"format": "backprop-studio-weights", "version": 1, "weights": {id: w}, "biases":
{id: b}, "edges": [[id, source, target], ...], "layers": [...] when layered}.
CSV: a folder with one table per layer (layer1.csv, ...: a header of unit ids, one row per
input id) when layered; otherwise edges.csv (id, source, target, weight) and biases.csv.
"""
from __future__ import annotations

import csv
import io
import json
import lzma
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from core.errors import UserError, shorten
from core.files import FileRefused, open_user_file, read_user_file
from core.network import Network
from core.strict_json import JSONRefused, loads_strict

JSON_FORMAT = "backprop-studio-weights"


class ExportError(UserError, ValueError):
    """Weights that cannot be written or read back; the message is for the user."""


def layers(net: Network) -> list[tuple[list[str], list[str], np.ndarray, np.ndarray]] | None:
    """(input ids, unit ids, W, b) per layer when every edge joins consecutive depths."""
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


def _biased(net: Network) -> list[str]:
    return [n.id for n in net.neurons.values() if n.role != "input"]


def export_npz(net: Network, path: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    for e in net.edges.values():
        arrays[f"weight:{e.id}"] = np.array(e.weight)
    for nid in _biased(net):
        arrays[f"bias:{nid}"] = np.array(net.neurons[nid].bias)
    for k, (rows, cols, w, b) in enumerate(layers(net) or [], 1):
        arrays.update({f"layer{k}.W": w, f"layer{k}.b": b, f"layer{k}.inputs": np.array(rows),
                       f"layer{k}.units": np.array(cols)})
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def export_json(net: Network, path: Path) -> None:
    doc = {"format": JSON_FORMAT, "version": 1,
           "weights": {e.id: e.weight for e in net.edges.values()},
           "biases": {nid: net.neurons[nid].bias for nid in _biased(net)},
           "edges": [[e.id, e.source, e.target] for e in net.edges.values()]}
    lay = layers(net)
    if lay is not None:
        doc["layers"] = [{"inputs": r, "units": c, "W": w.tolist(), "b": b.tolist()}
                         for r, c, w, b in lay]
    Path(path).write_text(json.dumps(doc, indent=1))


def export_csv(net: Network, path: Path) -> None:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    lay = layers(net)
    if lay is not None:
        for k, (rows, cols, w, b) in enumerate(lay, 1):
            with open(folder / f"layer{k}.csv", "w", newline="") as f:
                out = csv.writer(f)
                out.writerow(["from \\ to", *cols])
                for nid, row in zip(rows, w):
                    out.writerow([nid, *(repr(float(v)) for v in row)])
                out.writerow(["bias", *(repr(float(v)) for v in b)])
        return
    with open(folder / "edges.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "source", "target", "weight"])
        for e in net.edges.values():
            out.writerow([e.id, e.source, e.target, repr(e.weight)])
    with open(folder / "biases.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["neuron", "bias"])
        for nid in _biased(net):
            out.writerow([nid, repr(net.neurons[nid].bias)])


def import_weights(net: Network, path: str | Path) -> tuple[dict[str, float], dict[str, float]]:
    """Weights and biases from an .npz or JSON export, checked against `net` (not modified)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npz":
            weights, biases, endpoints = _read_npz(path)
        else:
            weights, biases, endpoints = _read_json(path)
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
    return weights, biases


# A scalar .npy member is a 128-byte header and 8 bytes of value; anything much larger under
# a weight:/bias: name is not one, and is refused before it is decompressed (zip bombs).
SCALAR_NPY_BYTES = 4096
MAX_IMPORT_BYTES = 200 * 2**20
MAX_MEMBERS = 2_100_000  # edges + neurons at their limits, plus layer tables


def _read_npz(path: Path):
    """Only the weight:/bias: members are read, each bounded; layer tables are skipped."""
    weights, biases = {}, {}
    with open_user_file(path, MAX_IMPORT_BYTES) as f, zipfile.ZipFile(f) as zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise ExportError(f"{path.name} holds {len(members):,} arrays; the limit is "
                              f"{MAX_MEMBERS:,}")
        for info in members:
            key = info.filename.removesuffix(".npy")
            kind, _, ident = key.partition(":")
            if kind not in ("weight", "bias"):
                continue
            if info.file_size > SCALAR_NPY_BYTES:
                raise ExportError(f"{path.name}: {shorten(key, 60)} is not a single number")
            with zf.open(info) as member:
                value = _scalar_npy(member.read(SCALAR_NPY_BYTES + 1))
            if value is None:
                raise ExportError(f"{path.name}: {shorten(key, 60)} is not a single number")
            (weights if kind == "weight" else biases)[ident] = value
    return weights, biases, None


def _scalar_npy(data: bytes) -> float | None:
    """The number in a 0-d numeric .npy, or None; its header is checked before any value is
    read (a header may claim terabytes)."""
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
    return {k: float(v) for k, v in weights.items()}, {k: float(v) for k, v in biases.items()}, endpoints


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
