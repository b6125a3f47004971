"""Writing a network's weights in the formats people use: one entry point for CLI and GUI."""
from __future__ import annotations

from pathlib import Path

from core.engine import compile_plan
from core.network import Network, NetworkError
from core.weights_io import ExportError, export_csv, export_json, export_npz, import_weights

FORMATS = ("npz", "json", "csv", "onnx", "py")
__all__ = ["FORMATS", "ExportError", "export_weights", "import_weights"]


def export_weights(net: Network, loss: str, fmt: str, path: str | Path) -> None:
    """Write `net`'s weights as `fmt` to `path` (a folder for csv)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = Path(path)
    if fmt in ("onnx", "py"):
        try:
            compile_plan(net)
        except NetworkError as exc:
            raise ExportError(f"the network cannot be exported as {fmt}: {exc}") from None
    try:
        if fmt == "npz":
            export_npz(net, path)
        elif fmt == "json":
            export_json(net, path)
        elif fmt == "csv":
            export_csv(net, path)
        elif fmt == "onnx":
            from core.export_onnx import export_onnx

            export_onnx(net, loss, path)
        else:
            from core.export_python import export_python

            export_python(net, loss, path)
    except OSError as exc:
        raise ExportError(f"{path}: {exc.strerror or 'cannot be written'}") from None
