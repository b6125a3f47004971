"""Writing a network's weights in the formats people use: one entry point for CLI and GUI.

Which format a name asks for (choose_format), whether a path may be written (check_output),
and the writing itself (export_weights), every file written atomically."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.engine import compile_plan
from core.features import columns_needed
from core.files import FileRefused, check_regular_file, read_user_prefix
from core.network import Network, NetworkError
from core.export.preprocessing import NONE, Preprocessing
from core.export.weights_io import (JSON_FORMAT, ExportError, export_csv, export_json, export_npz,
                             import_weights)

FORMATS = ("npz", "json", "csv", "onnx", "py")
SUFFIXES = {".npz": "npz", ".json": "json", ".onnx": "onnx", ".py": "py"}  # csv: a folder
__all__ = ["FORMATS", "SUFFIXES", "ExportError", "FormatChoice", "Preprocessing",
           "check_output", "choose_format", "export_weights", "import_weights"]


@dataclass(frozen=True)
class FormatChoice:
    fmt: str  # what will be written: the extension's format when it names one
    conflict: str | None = None  # set when a chosen format contradicts the extension
    # Set when the extension names no format and the chosen one is used: fine when typed
    # with --format, asked about in the window (where the type was likely left as it was).
    unusual: str | None = None


def choose_format(path: str | Path, chosen: str | None = None) -> FormatChoice:
    """The format for `path`: its extension decides when it names one (.npz, .json, .onnx,
    .py); else the chosen format; else, with no extension at all, a folder of CSV tables."""
    if chosen is not None and chosen not in FORMATS:
        raise ExportError(f"unknown format {chosen!r}; use one of {', '.join(FORMATS)}")
    if not str(path):
        raise ExportError("the output name is empty")
    suffix = Path(path).suffix.lower()
    named = SUFFIXES.get(suffix)
    if named is None:
        if chosen is not None:
            # A typed ".csv" with the NumPy type chosen wrote a zip named echo.csv unasked.
            return FormatChoice(chosen, unusual=None if not suffix else
                                f"{Path(path).name}: {suffix} names no export format")
        if not suffix:
            return FormatChoice("csv")
        raise ExportError(f"{Path(path).name}: {suffix} names no export format; use .npz, "
                          ".json, .onnx or .py, or no extension for a folder of CSV tables")
    if chosen is not None and chosen != named:
        return FormatChoice(named, f"{Path(path).name} names the {named} format but the chosen "
                                   f"format is {chosen}")
    return FormatChoice(named)


def check_output(path: str | Path, fmt: str, source: str | Path | None = None,
                 other_kinds: bool = False) -> None:
    """Refuse an output that would destroy something: the project being exported
    (`source`, however it is spelt), and unless `other_kinds`, an existing folder where a
    file is wanted, a file where a folder is wanted, or a file that is not this format."""
    if not str(path):
        raise ExportError("the output name is empty")
    path = Path(path)
    if source is not None and _same_file(path, Path(source)):
        raise ExportError(f"{path} is the project being exported; choose another name")
    if other_kinds or not os.path.lexists(path):
        return
    if fmt == "csv":
        if not path.is_dir():
            raise ExportError(f"{path} exists and is not a folder; CSV tables go into a folder")
        return
    if path.is_dir():
        raise ExportError(f"{path} is a folder; choose a file name")
    try:
        if path.exists():  # a pipe or a device is never opened: open() on a FIFO waits
            check_regular_file(path)
    except FileRefused as exc:
        raise ExportError(str(exc)) from None
    kind = existing_kind(path)
    if kind not in (fmt, "empty"):
        what = _KIND_WORDS.get(kind, f"not a {fmt} export")
        raise ExportError(f"{path} exists and is {what}; it is not replaced: remove it or "
                          "choose another name")


_KIND_WORDS = {"project": "a Backprop Studio project", "other": "not a file this program exported"}


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one does not exist, or cannot (NUL): not the same file
        return False


def existing_kind(path: Path) -> str:
    """What an existing file looks like: npz, json, onnx, py, project, empty or other."""
    try:
        head = read_user_prefix(path, 4096)  # only a regular file is opened
    except OSError:
        return "other"
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head.startswith(b'"""Predictions of a network exported from Backprop Studio'):
        return "py"
    if head[:1] == b"\x08" and b"Backprop Studio" in head[:200]:  # ir_version, producer_name
        return "onnx"
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("{"):
        if f'"format": "{JSON_FORMAT}"' in text:
            return "json"
        if '"app": "Backprop Studio"' in text or '"neurons"' in text:
            return "project"
    return "other"


def export_weights(net: Network, loss: str, fmt: str, path: str | Path,
                   prep: Preprocessing = NONE, title: str = "") -> Path:
    """Write `net`'s weights and `prep` as `fmt` to `path` (a folder for csv); the path
    written. onnx and py models take raw inputs and apply `prep` themselves."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not str(path):
        raise ExportError("the output name is empty")
    path = Path(path)
    if fmt in ("onnx", "py"):  # first what is wrong with the graph itself (no output neuron)
        try:
            compile_plan(net)
        except NetworkError as exc:
            raise ExportError(f"the network cannot be exported as {fmt}: {exc}") from None
    features = [n.feature for n in net.inputs]
    problem = prep.check(len(net.inputs), len(net.outputs), any(features),
                         columns_needed(features))
    if problem:
        raise ExportError(f"cannot export: {problem}")
    try:
        if fmt == "npz":
            export_npz(net, path, prep)
        elif fmt == "json":
            export_json(net, path, prep)
        elif fmt == "csv":
            export_csv(net, path, prep)
        elif fmt == "onnx":
            from core.export.onnx_model import export_onnx

            export_onnx(net, loss, path, prep, title)
        else:
            from core.export.python_module import export_python

            export_python(net, loss, path, prep, title)
    except OSError as exc:
        raise ExportError(f"{path}: {exc.strerror or 'cannot be written'}") from None
    except ValueError as exc:  # e.g. an ONNX model over protobuf's 2 GB
        raise ExportError(f"{path.name}: {exc}") from None
    return path
