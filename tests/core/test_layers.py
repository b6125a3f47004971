"""core/ is built in layers (pyproject.toml's [tool.importlinter], docs/architecture.md): a
module imports only from the layers below it, core never imports gui, and no circles."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_the_layers_contract_is_kept():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "2 kept, 0 broken" in out.stdout


def test_an_import_from_a_higher_layer_breaks_the_contract(tmp_path):
    """The contract is live: the errors leaf importing the engine is reported by name."""
    for part in ("core", "gui"):
        shutil.copytree(ROOT / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    errors = tmp_path / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\n\ndef _late():\n    import core.engine  # noqa\n")
    out = _lint(tmp_path)
    assert out.returncode == 1
    assert "core.errors -> core.engine" in out.stdout
