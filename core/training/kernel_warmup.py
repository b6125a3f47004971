"""The compiled kernels made ready before anyone needs them: compiled (once per machine,
seconds) or loaded from the disk cache, on a thread while training runs in NumPy. First the
training kernel, then the loss grid's, which the window loads once this has compiled it
(core.engine.compiled_grid: the window itself never compiles).

Apart from core.training.compiled_steps because it drives a whole Trainer, which uses
compiled_steps itself.
"""
from __future__ import annotations

import threading

import numpy as np

from core.data.dataset import Dataset
from core.engine import compiled_grid
from core.network import Network
from core.settings import TrainingSettings
from core.training.trainer import Trainer

_warm = threading.Event()  # warm_up() has run: the kernel is compiled or loaded


def warm_up() -> None:
    """Compile the kernel, or load it from the disk cache, by training a 1-1 net two steps.
    Every net calls it with the same argument types, so this is the only compile. The
    training process runs it on a thread and trains in NumPy meanwhile (a cold compile takes
    seconds); ready() tells when it is done. Headless callers need not: the first compiled
    block compiles."""
    try:
        net = Network()
        net.connect(net.add_neuron("input").id, net.add_neuron("output", "identity").id, 0.5)
        x = np.array([[0.0], [1.0]])
        data = Dataset(x_train=x, y_train=x, x_test=x[:0], y_test=x[:0], task="regression",
                       input_names=["x"], target_names=["y"], class_names=None, mean=None,
                       std=None)
        trainer = Trainer(net, data, TrainingSettings(batch_size=1))
        if trainer.compiled_path() is None:
            trainer.advance(2)
    finally:
        _warm.set()
    try:
        compiled_grid.warm_up()
    except Exception:  # noqa: BLE001 - without the mark the window's grids stay NumPy's
        pass


def ready() -> bool:
    return _warm.is_set()
