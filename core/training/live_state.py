"""What the window's live views draw from: the document's network, its dataset, the training
settings, the run's latest Progress and, from those, the compiled plan and the current
parameters. Qt-free. The window's TrainingController keeps it current; the panels and the
step-through mode only read it (they are handed this, never the window)."""
from __future__ import annotations

import numpy as np

from core.data.dataset import Dataset
from core.engine import Params, Plan, plan_for
from core.network import Network, NetworkError
from core.settings import TrainingSettings
from core.training.minibatch_probe import MinibatchReport
from core.training.progress import Progress


class LiveState:
    def __init__(self, network: Network, data: Dataset | None,
                 settings: TrainingSettings) -> None:
        self.network = network
        self.data = data  # None when the project's data could not be made
        self.settings = settings
        self._progress: Progress | None = None
        self._progress_version = -1  # the network's structure version when it was taken
        self._belongs: tuple[object, object, bool] = (None, None, False)  # progress, plan, verdict

    @property
    def progress(self) -> Progress | None:
        """The run's latest Progress, as the document holds it (None before the first)."""
        return self._progress

    @progress.setter
    def progress(self, progress: Progress | None) -> None:
        self._progress = progress
        self._progress_version = self.network.structure_version

    def document_edited(self) -> None:
        """The user changed the document since the latest progress (an edit, an undo): its
        parameters no longer describe it, so the document's own values count until the next."""
        self._progress_version = -1

    @property
    def loss(self) -> str:
        return self.settings.loss

    @property
    def plan(self) -> Plan:
        """The network compiled (once per structure version); raises NetworkError."""
        return plan_for(self.network)

    def theta(self) -> np.ndarray:
        """The current parameters, flat (plan.flatten order)."""
        plan = self.plan
        trained = self._trained_theta(plan)
        return trained if trained is not None else plan.flatten(plan.pack(self.network))

    def params(self) -> Params:
        """The current parameters as the plan's arrays."""
        plan = self.plan
        trained = self._trained_theta(plan)
        return plan.unflatten(trained) if trained is not None else plan.pack(self.network)

    def _trained_theta(self, plan: Plan) -> np.ndarray | None:
        """The latest progress's parameters if it belongs to this structure version (taken
        since the last structure edit, and about the same parameters in the same order: one
        still in the pipe may be about the structure before), else None: the document's own
        values count until the training process reports on the new structure."""
        p = self._progress
        if p is None or p.theta is None or len(p.theta) != plan.n_parameters or \
                self._progress_version != self.network.structure_version:
            return None
        seen_progress, seen_plan, verdict = self._belongs
        if seen_progress is not p or seen_plan is not plan:  # ids compared once per pair
            verdict = p.edge_ids == plan.edge_ids and p.bias_ids == plan.bias_ids
            self._belongs = (p, plan, verdict)
        return p.theta if verdict else None

    def minibatch(self) -> MinibatchReport | None:
        """The latest progress's minibatch report (asked for by the surface panel), if it is
        about the network and data shown: its rows index this data's training set."""
        p = self._progress
        report = p.minibatch if p is not None else None
        if report is None or self.data is None:
            return None
        rows = report.rows
        if rows is not None and (len(rows) == 0 or int(rows.max()) >= len(self.data.x_train)
                                 or int(rows.min()) < 0):
            return None
        try:
            return report if self._trained_theta(self.plan) is not None else None
        except NetworkError:
            return None

    # ----- changes (made by the TrainingController) --------------------------------------------
    def load_document(self, network: Network, data: Dataset | None,
                      settings: TrainingSettings) -> None:
        """Another document: its network, data and settings, and no run yet."""
        self.network, self.data, self.settings = network, data, settings
        self.progress = None

    def set_data(self, data: Dataset) -> None:
        """Other data: a new run, with no progress yet."""
        self.data = data
        self.progress = None

    def set_settings(self, settings: TrainingSettings) -> None:
        self.settings = settings
