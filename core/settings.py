"""Data and training settings: plain dataclasses with validation that names the bad field."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.data.generators import GENERATORS
from core.data.sequences import SEQUENCE_GENERATORS
from core.errors import SettingsError, UserError, shorten
from core.initializers import INITIALIZERS
from core.losses import LOSSES, SEQUENCE_LOSSES
from core.optimizers import MAX_LEARNING_RATE, OPTIMIZER_CLASSES


# NumPy's generators take any seed >= 0; above 2**63 a seed no longer fits the int64 a GUI
# spin box or a saved file of another tool may hold.
MAX_SEED = 2**63 - 1


@dataclass
class DataSettings:
    source: str = "generator"  # "generator" or "csv"
    generator: str = "xor"  # see core.data.GENERATORS
    samples: int = 200
    noise: float = 0.1
    classes: int = 3  # blobs only
    test_fraction: float = 0.2
    standardize: bool = False
    seed: int = 0
    csv_path: str = ""
    input_columns: list[str] = field(default_factory=list)
    target_columns: list[str] = field(default_factory=list)
    task: str = "classification"  # csv only: "classification" or "regression"
    # csv only: the column naming the sequence each row (a time step) belongs to; None: each
    # row is a sample, as before sequences.
    sequence_column: str | None = None
    sequence_length: int = 20  # steps per sequence of the sequence generators (not reber)

    _choices = {"source": ("generator", "csv"), "task": ("classification", "regression"),
                "generator": tuple(GENERATORS) + tuple(SEQUENCE_GENERATORS)}
    _ranges = {"samples": (1, 1_000_000), "noise": (0.0, 100.0), "classes": (2, 100),
               "test_fraction": (0.0, 0.9), "seed": (0, MAX_SEED),
               "sequence_length": (2, 100_000)}
    # Written only when set: a feed-forward project's file stays what versions before
    # sequences wrote, and those versions, which refuse unknown settings, still open it.
    _written_when_set = ("sequence_column", "sequence_length")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        defaults = {f.name: f.default for f in fields(self)}
        for name in self._written_when_set:
            if out[name] == defaults[name]:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DataSettings":
        return _from_dict(cls, data, "data")


# The registries themselves (names are their keys), so an entry added to one is a choice here.
OPTIMIZERS = OPTIMIZER_CLASSES
# Training precision: name -> what it means (the settings panel shows it as the tip).
PRECISIONS = {"float64": "64-bit floats (the default): exact to the digits shown",
              "float32": "32-bit floats: faster on big nets, about 7 digits"}
DECAYS = ("none", "step", "exponential", "inverse_time")


# The defaults must teach a net built by hand from the palette (issue 11). Each edge's weight
# is drawn when it is wired (core.initializers.wiring_weight), so the first edges into a neuron
# have fan-in 1 and Xavier gives them U(-1.7, 1.7); from there XOR 2-2-1 on the default data
# with the old defaults (SGD 0.1, Xavier) reached 100% in 54% (tanh hidden) and 70% (sigmoid)
# of 100 wirings; the rest sit at 74-78%, one corner wrong. Momentum, Adam, BCE and other
# rates from those weights did no better (57-88% of 40). Small weights U(-0.1, 0.1) with
# momentum 0.9 at rate 0.1, full batch: 100/100 for both (worst 4,050 steps), and a hand-wired
# 2-8-8-1 on circles (tanh or ReLU) 100/100 at >= 95% (worst 1,450 steps). Trainer.step runs
# these at 3,200-5,200 steps/s on one BLAS thread, the window at ~80% of that: all within
# about a second. Adam from small weights solved only 40-63%. python bench/defaults.py
@dataclass
class TrainingSettings:
    loss: str = "mse"  # see core.losses.LOSSES
    optimizer: str = "momentum"
    learning_rate: float = 0.1
    momentum: float = 0.9  # momentum and nesterov
    beta1: float = 0.9  # adam
    beta2: float = 0.999  # adam
    rho: float = 0.9  # rmsprop
    epsilon: float = 1e-8  # adagrad, rmsprop, adam
    damping: float = 1e-3  # newton: lambda in (H + lambda I) d = -g, at the start
    adapt_damping: bool = True  # newton: lambda x10 on a rejected step, x0.1 on a taken one
    batch_size: int = 0  # 0 = full batch, 1 = online
    shuffle: bool = True
    epochs: int = 1000
    decay: str = "none"
    decay_rate: float = 0.5
    decay_steps: int = 1000
    clip_norm: float = 0.0  # 0 = off
    clip_value: float = 0.0  # 0 = off
    l1: float = 0.0
    l2: float = 0.0
    max_norm: float = 0.0  # 0 = off
    dropout: float = 0.0  # on hidden neurons, training only
    initializer: str = "uniform"
    init_constant: float = 0.1  # "constant": every weight; "uniform": U(-c, c)
    seed: int = 0
    # float64 keeps every number the gradient check and the step-through show exact; float32
    # halves the memory traffic of big nets (python bench/train_speed.py).
    precision: str = "float64"
    # Sequence data (recurrent nets): which steps the loss reads, and how many steps back the
    # gradient flows (0: the whole sequence; core.engine.recurrent).
    sequence_loss: str = "every"
    bptt_steps: int = 0

    _choices = {"optimizer": OPTIMIZERS, "decay": DECAYS, "initializer": INITIALIZERS,
                "loss": LOSSES, "precision": PRECISIONS, "sequence_loss": SEQUENCE_LOSSES}
    _ranges = {"learning_rate": (0.0, MAX_LEARNING_RATE), "momentum": (0.0, 0.9999), "beta1": (0.0, 0.9999),
               "beta2": (0.0, 0.999999), "rho": (0.0, 0.9999), "epsilon": (1e-300, 1.0), "damping": (0.0, 1e12),
               "batch_size": (0, 10_000_000), "epochs": (0, 100_000_000),
               "decay_rate": (0.0, 1e6), "decay_steps": (1, 100_000_000),
               "clip_norm": (0.0, 1e12), "clip_value": (0.0, 1e12), "l1": (0.0, 1e6),
               "l2": (0.0, 1e6), "max_norm": (0.0, 1e12), "dropout": (0.0, 0.95),
               "init_constant": (-1e6, 1e6), "seed": (0, MAX_SEED),
               "bptt_steps": (0, 1_000_000)}
    # Written only when not at their defaults, so a project that does not use them saves
    # exactly the file older versions wrote (and read: they refuse a setting they do not know).
    _written_when_set = ("sequence_loss", "bptt_steps")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for name in self._written_when_set:
            if d[name] == getattr(TrainingSettings, name):
                del d[name]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainingSettings":
        return _from_dict(cls, data, "training")


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build settings from plain data; missing fields take defaults, unknown or bad ones are refused."""
    if not isinstance(data, dict):
        raise SettingsError(f"{where} must be an object")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise SettingsError(f"{where}.{unknown[0]} is not a known setting")
    defaults = cls()
    values: dict[str, Any] = {}
    for name, value in data.items():
        values[name] = _check(f"{where}.{name}", value, getattr(defaults, name),
                              cls._choices.get(name), cls._ranges.get(name))
    return cls(**values)


def _check(path: str, value: Any, default: Any, choices: tuple | None, bounds: tuple | None) -> Any:
    if default is None:  # an optional name: data.sequence_column
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise SettingsError(f"{path} must be a column name or null")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SettingsError(f"{path} must be true or false")
        return value
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{path} must be a list of column names")
        return list(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise SettingsError(f"{path} must be a string")
        if choices and value not in choices:
            raise SettingsError(f"{path} must be one of {', '.join(choices)}, "
                                f"not {shorten(repr(value), 40)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{path} must be a {'whole ' if isinstance(default, int) else ''}number")
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingsError(f"{path} must be a finite number")
    if isinstance(default, int):
        if value != int(value):
            raise SettingsError(f"{path} must be a whole number")
        value = int(value)
    if bounds and not bounds[0] <= value <= bounds[1]:  # exact for ints of any size
        raise SettingsError(f"{path} must be between {_show(bounds[0])} and {_show(bounds[1])}, "
                            f"not {_show(value)}")
    return value if isinstance(default, int) else float(value)


def _show(value: float) -> str:
    if isinstance(value, int) and abs(value) >= 1e15:
        return f"{value:.3g}" if abs(value) < 1e300 else "a number that large"
    return f"{value:g}"
