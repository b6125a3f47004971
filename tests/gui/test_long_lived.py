"""The collector's full passes skip what a document keeps alive, and an old document is still
freed: gui/long_lived.py."""
import gc
import weakref

from core.project import Project, save_project
from core.templates import layered


class Cycle:
    """Garbage only the collector can free (its reference count never drops to 0)."""

    def __init__(self) -> None:
        self.me = self


def test_a_loaded_document_is_frozen_and_what_it_left_is_freed_after_the_next(window, tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    save_project(Project(layered([5, 7, 2])), first)
    save_project(Project(layered([3, 4, 1])), second)
    cycle = Cycle()  # alive while the first document opens, like its own objects
    assert window.files.load(first)
    frozen = gc.get_freeze_count()
    assert frozen > 0
    gc.collect()
    assert gc.get_freeze_count() == frozen  # a full pass leaves the frozen objects alone
    old = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert old() is not None  # frozen: waits for the next document
    assert window.files.load(second)
    gc.collect()  # given back to the collector, then freed
    assert old() is None


def test_new_from_a_template_freezes_too(window):
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    assert window.files.new_from(Project(layered([2, 3, 1])), "small")
    assert gc.get_freeze_count() > 0
