"""Undoable edits of the kept runs, as plain objects (core.edits.Edit: apply / revert), so the
window wraps each in one QUndoCommand like every other edit: rename, delete, and a run's
final weights put back onto the canvas."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.edits import Edit, SetValues, values_of
from core.errors import RunError, shorten
from core.experiments.run import Run
from core.experiments.run_log import RunLog
from core.network import Network


@dataclass
class RenameRun(Edit):
    log: RunLog
    run_id: str
    old: str
    new: str
    title: str = "Rename run"

    def apply(self, net: Network) -> None:
        self.log.rename(self.run_id, self.new)

    def revert(self, net: Network) -> None:
        self.log.rename(self.run_id, self.old)


@dataclass
class DeleteRuns(Edit):
    """Delete runs; undo puts them back in their places with their ids."""

    log: RunLog
    run_ids: list[str]
    _removed: list = field(default_factory=list)

    @property
    def title(self) -> str:
        return "Delete run" if len(self.run_ids) == 1 else f"Delete {len(self.run_ids)} runs"

    def apply(self, net: Network) -> None:
        self._removed = self.log.remove(self.run_ids)

    def revert(self, net: Network) -> None:
        self.log.insert(self._removed)


def restore_weights(network: Network, run: Run) -> SetValues:
    """The edit that puts `run`'s final weights onto `network` (not yet applied). Refused
    when the run kept no weights or they belong to other edges or neurons."""
    label = run.name or run.id
    if run.weights is None:
        raise RunError(f"{shorten(label, 60)} kept no weights (runs of nets over 100,000 "
                       "parameters, or recorded without them)")
    edges = set(network.edges)
    biases = {n.id for n in network.neurons.values() if n.role != "input"}
    for what, have, kept in (("edge", edges, run.weights.edges),
                             ("neuron", biases, run.weights.biases)):
        missing, extra = sorted(have - kept.keys()), sorted(kept.keys() - have)
        if missing or extra:
            where = (f"{what} {shorten(missing[0], 40)} is not in the run" if missing else
                     f"the run's {what} {shorten(extra[0], 40)} is not in this network")
            raise RunError(f"{shorten(label, 60)}'s weights are for another network ({where})")
    return SetValues(values_of(network), (dict(run.weights.edges), dict(run.weights.biases)),
                     f"Restore weights of {shorten(label, 40)}")
