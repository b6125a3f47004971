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


def _imports_of_every_module() -> dict[str, set[str]]:
    """module -> the project modules it imports, at any depth (inside functions too)."""
    import ast

    paths = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for part in ("core", "gui") for p in (ROOT / part).rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in paths:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    found.add(target)
        graph[name] = found
    return graph


def _a_circle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_no_import_circles_anywhere_not_even_inside_a_package_or_a_function():
    """The layers contract checks between layers; this also catches two modules of one
    sub-package importing each other (a lazy import inside a function counts)."""
    assert _a_circle(_imports_of_every_module()) is None


def test_the_circle_check_names_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _a_circle(graph) == ["a", "b", "c", "a"]
