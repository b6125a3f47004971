"""The documentation's example project is a valid file."""
import re
from pathlib import Path

from core.project import loads_project

DOC = Path(__file__).resolve().parents[2] / "docs" / "file-format.md"


def test_the_documented_example_loads():
    block = re.search(r"```json\n(.*?)```", DOC.read_text(), re.S).group(1)
    project = loads_project(block, "file-format.md")
    assert project.title == "XOR 2-2-1" and len(project.network.edges) == 6
