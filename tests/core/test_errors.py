"""core/errors.py: one base class for the user's errors, and messages of one short line."""
import pytest

from core.cli import UsageError
from core.data.dataset import DataError
from core.errors import UserError, cut_list, shorten
from core.files import FileRefused
from core.gradcheck import GradCheckError
from core.network import NetworkError
from core.project import ProjectError
from core.training.race import RaceError
from core.settings import SettingsError
from core.stepthrough import StepThroughError
from core.training.trainer import Diverged, TrainingError
from core.export.weights_io import ExportError


@pytest.mark.parametrize("cls, old_base", [
    (ProjectError, ValueError), (DataError, ValueError), (SettingsError, ValueError),
    (NetworkError, ValueError), (TrainingError, RuntimeError), (Diverged, RuntimeError),
    (ExportError, ValueError), (GradCheckError, ValueError), (StepThroughError, ValueError),
    (RaceError, ValueError), (UsageError, Exception), (FileRefused, OSError)])
def test_every_user_error_has_the_one_base_and_keeps_its_old_one(cls, old_base):
    assert issubclass(cls, UserError) and issubclass(cls, old_base)


def test_export_error_is_one_class_wherever_it_is_imported_from():
    from core.export import formats as export
    assert export.ExportError is ExportError


def test_a_user_error_is_one_line_of_bounded_length():
    message = str(ProjectError("p.json: the id " + "x" * 100_000 + "\nis\tbad"))
    assert "\n" not in message and "\t" not in message and len(message) <= 400
    assert message.startswith("p.json: the id xxx") and message.endswith("…")


def test_long_lists_are_cut_with_a_count():
    assert cut_list(range(20_000)) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 ... and 19,990 more"
    assert cut_list(["a", "b"]) == "a, b"
    assert shorten("y" * 100, 10) == "y" * 9 + "…"


def _core_imports(module: str) -> set[str]:
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parents[2] / "core" / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("core")}
    return found


def test_the_error_module_is_a_leaf_and_the_file_helpers_sit_just_above_it():
    assert _core_imports("errors") == set()
    assert _core_imports("files") == {"core.errors"}
    assert _core_imports("strict_json") == {"core.errors"}
