"""QUndoCommand around a core edit. The edit is applied before pushing (so a refused edit
never reaches the stack), which makes the first redo() that push() calls a no-op."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand, QUndoStack

from core.edits import Edit
from core.errors import UserError
from core.network import Network

_MERGE_ID = 1


class EditCommand(QUndoCommand):
    def __init__(self, edit: Edit, network: Network) -> None:
        super().__init__(edit.title)
        self.edit = edit
        self.network = network
        self._applied = True

    def redo(self) -> None:
        if self._applied:  # push() calls redo() once right away: the edit is already done
            self._applied = False
            return
        self.edit.apply(self.network)

    def undo(self) -> None:
        self.edit.revert(self.network)

    def id(self) -> int:
        return _MERGE_ID if self.edit.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditCommand) or other.edit.merge_key != self.edit.merge_key:
            return False
        if not self.edit.merge(other.edit):
            return False
        self.setText(self.edit.title)  # a merged step may name its new extent ("5 runs")
        return True


class TrainCommand(EditCommand):
    """A stretch of training. Undone or redone, the weights are those of another moment of
    the run, whose optimiser state (momentum, Adam's moments) and step count the training
    process no longer holds: a new run starts from them, as after Reset weights, so the next
    step is the one a fresh run takes from there. Kept, the velocity made the step after an
    Undo 1.9x as long with momentum 0.9, and the Loss panel went on showing the undone run."""

    def __init__(self, edit: Edit, network: Network, new_run: Callable[[], None]) -> None:
        super().__init__(edit, network)
        self._new_run = new_run

    def redo(self) -> None:
        first = self._applied  # push()'s call: the weights are the run's own, nothing to do
        super().redo()
        if not first:
            self._new_run()

    def undo(self) -> None:
        super().undo()
        self._new_run()


def apply_and_push(stack: QUndoStack, network: Network, edit: Edit) -> str | None:
    """Apply `edit` and record it for undo; return the reason if the document refused it (a
    network edit, or one of the kept runs: core.experiments.run_edits)."""
    try:
        edit.apply(network)
    except UserError as exc:
        return str(exc)
    stack.push(EditCommand(edit, network))
    return None
