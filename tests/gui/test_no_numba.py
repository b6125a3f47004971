"""The window never imports Numba: the training process compiles (its first compile takes
seconds, and its import a second), so the GUI stays as quick to start as before, and the loss
grid's kernel runs in a worker process of its own (tests/gui/test_grid_process.py holds the
window free of Numba while it draws compiled grids)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gui_imports_no_numba():
    modules = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                     for p in (ROOT / "gui").rglob("*.py"))
    code = ("import importlib, os, sys\n"
            "os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "import main\n"
            "print([m for m in sys.modules if m.split('.')[0] in ('numba', 'llvmlite')])\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert len(modules) > 10
