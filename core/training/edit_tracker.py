"""Which items of a network the user edited, for a copy of it trained elsewhere: the Trainer
(whose trained values give way to the edited ones) and the window's TrainingController (which
sends the edited items to the training process) keep this one account of them."""
from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

from core.events import Signal
from core.network import Change, Network


class EditTracker:
    """Observes `network.changed`: the ids edited since the last take() and whether the
    structure changed. A `values` or `reset` event edits every item; writes made inside
    `ours()` (trained values going into the document) are not edits."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.edited: set[str] = set()
        self.structural = False
        self.noticed = Signal()  # the Change, after it has been recorded
        self._ours = 0
        network.changed.connect(self._on_network_changed)

    def _on_network_changed(self, change: Change) -> None:
        if self._ours:
            return
        self.edited.update(change.ids)
        if change.kind in ("values", "reset"):
            self.edited.update(self.network.edges)
            self.edited.update(self.network.neurons)
        self.structural = self.structural or change.structural
        self.noticed.emit(change)

    @contextlib.contextmanager
    def ours(self) -> Iterator[None]:
        """Changes made inside the block are the trainer's own, not the user's."""
        self._ours += 1
        try:
            yield
        finally:
            self._ours -= 1

    def mark(self, ids: Iterable[str], structural: bool) -> None:
        """Edits made elsewhere (the window's, reaching a copy of its document)."""
        self.edited.update(ids)
        self.structural = self.structural or structural

    def pending(self) -> bool:
        return bool(self.edited) or self.structural

    def take(self) -> tuple[frozenset[str], bool]:
        """The edits so far, forgetting them."""
        edited, structural = frozenset(self.edited), self.structural
        self.clear()
        return edited, structural

    def clear(self) -> None:
        self.edited.clear()
        self.structural = False

    def close(self) -> None:
        self.network.changed.disconnect(self._on_network_changed)
