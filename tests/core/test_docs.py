"""The documentation's example project is a valid file, and its lists of names are the
registries'."""
import re
from pathlib import Path

from core.project import loads_project

DOC = Path(__file__).resolve().parents[2] / "docs" / "file-format.md"


def test_the_documented_example_loads():
    block = re.search(r"```json\n(.*?)```", DOC.read_text(), re.S).group(1)
    project = loads_project(block, "file-format.md")
    assert project.title == "XOR 2-2-1" and len(project.network.edges) == 6


def test_the_file_format_lists_exactly_the_registries_names():
    """docs/file-format.md names each registry's entries; this holds that list to the registries
    (an entry added or removed without the documentation fails here)."""
    from core.activations import ACTIVATIONS
    from core.initializers import INITIALIZERS
    from core.losses import LOSSES
    from core.optimizers import OPTIMIZER_CLASSES

    text = DOC.read_text()
    for field, registry in (("activation", ACTIVATIONS), ("loss", LOSSES),
                            ("optimizer", OPTIMIZER_CLASSES), ("initializer", INITIALIZERS)):
        row = re.search(rf"^\| `{field}` \| ([^|]+) \|", text, re.M)
        assert row, field
        assert re.findall(r'`"([a-z_0-9]+)"`', row.group(1)) == list(registry), field
