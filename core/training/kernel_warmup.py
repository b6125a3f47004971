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

# warm_up() has made the kernel ready (compiled or loaded) for each training dtype. Numba
# compiles one specialisation per dtype; float32's comes last, so a float64 run (the default)
# never waits for it, and a float32 run trains in NumPy until it is there.
_warm = {np.dtype(np.float64): threading.Event(), np.dtype(np.float32): threading.Event()}


def warm_up() -> None:
    """Compile the kernel, or load it from the disk cache, by training a 1-1 net two steps in
    float64, then the loss grid's kernel, then the training kernel in float32. Every net calls
    it with the same argument types as this net in its dtype, so these are the only compiles.
    The training process runs it on a thread and trains in NumPy meanwhile (a cold compile
    takes seconds); ready(dtype) tells when that dtype's is done. Headless callers need not:
    the first compiled block compiles."""
    _train_tiny("float64")
    try:
        compiled_grid.warm_up()
    except Exception:  # noqa: BLE001 - without the mark the window's grids stay NumPy's
        pass
    _train_tiny("float32")


def _train_tiny(precision: str) -> None:
    try:
        net = Network()
        net.connect(net.add_neuron("input").id, net.add_neuron("output", "identity").id, 0.5)
        x = np.array([[0.0], [1.0]])
        data = Dataset(x_train=x, y_train=x, x_test=x[:0], y_test=x[:0], task="regression",
                       input_names=["x"], target_names=["y"], class_names=None, mean=None,
                       std=None)
        trainer = Trainer(net, data, TrainingSettings(batch_size=1, precision=precision))
        if trainer.compiled_path() is None:
            trainer.advance(2)
    finally:
        _warm[np.dtype(np.float32 if precision == "float32" else np.float64)].set()


def ready(dtype: type = np.float64) -> bool:
    """Whether warm_up() has made the kernel ready for training in `dtype`."""
    return _warm[np.dtype(dtype)].is_set()
