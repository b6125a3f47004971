"""Runs made outside the live training (a repeat with several seeds, a sweep) joining the
document's run log as an undoable edit, so they mark the document unsaved and Undo takes them
out again. Results that arrive one by one from the same batch merge into one undo step."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.edits import Edit
from core.experiments.run import Run
from core.experiments.run_log import RunLog
from core.network import Network


@dataclass
class AddRuns(Edit):
    log: RunLog
    runs: list[Run]
    batch: str = ""  # results of one batch (e.g. "sweep 3") in a row merge
    label: str = "Add runs"
    _added: list[Run] = field(default_factory=list)

    @property
    def title(self) -> str:
        n = len(self._added) or len(self.runs)
        return f"{self.label} ({n} run{'s' if n != 1 else ''})"

    @property
    def added(self) -> list[Run]:
        """The runs as the log holds them (with their ids), once applied."""
        return list(self._added)

    @property
    def merge_key(self) -> tuple | None:
        return ("add runs", self.batch) if self.batch else None

    def apply(self, net: Network) -> None:
        """Add the runs; a redo adds them back with the ids they had."""
        if self._added:
            self.runs = self._added
        self._added = [self.log.add(run) for run in self.runs]

    def revert(self, net: Network) -> None:
        present = [r.id for r in self._added if r.id in self.log]
        if present:
            self.log.remove(present)

    def merge(self, later: Edit) -> bool:
        if not isinstance(later, AddRuns) or later.log is not self.log or \
                later.merge_key != self.merge_key:
            return False
        self._added += later._added
        self.runs = self._added
        return True
