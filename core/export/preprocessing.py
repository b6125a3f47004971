"""What an exported model needs besides its weights to predict as the app does: the input
standardisation fitted on the training part, and the names of the classes in output order."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Preprocessing:
    mean: tuple[float, ...] | None = None  # per input, in the network's input order
    std: tuple[float, ...] | None = None
    class_names: tuple[str, ...] | None = None  # binary: (class of 0, class of 1)
    # The data's raw input columns, when known: an exported model takes them all, whether
    # or not the inputs' features read every one (the ONNX x was [batch, 1] on 2-column
    # data whose inputs read x1² and sin x1, [batch, 2] once standardised). Not written.
    columns: int | None = field(default=None, compare=False)

    @classmethod
    def from_dataset(cls, data: Any) -> "Preprocessing":
        """From a core.data.Dataset (duck-typed so this module stays a leaf)."""
        mean = None if data.mean is None else tuple(float(v) for v in data.mean)
        std = None if data.std is None else tuple(float(v) for v in data.std)
        names = None if data.class_names is None else tuple(str(c) for c in data.class_names)
        return cls(mean, std, names, columns=int(data.n_inputs))

    @property
    def standardizes(self) -> bool:
        return self.mean is not None

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Raw inputs as the network sees them."""
        x = np.asarray(x, dtype=float)
        return x if self.mean is None else (x - np.array(self.mean)) / np.array(self.std)

    def check(self, n_inputs: int, n_outputs: int, features: bool = False,
              columns_read: int = 0) -> str | None:
        """Why this cannot go with a network of that shape, or None. With input features
        (core.features) the standardisation is of the data's columns, of which the features
        read the first `columns_read`."""
        if (self.mean is None) != (self.std is None):
            return "the standardisation needs both a mean and a deviation"
        if self.mean is not None and len(self.mean) != len(self.std):
            return "the standardisation needs one mean and one deviation per input"
        if self.mean is not None and features and len(self.mean) < columns_read:
            return (f"the data has {len(self.mean)} column(s) but the network's input features "
                    f"read {columns_read}; the standardisation cannot be exported with it")
        if self.mean is not None and not features and len(self.mean) != n_inputs:
            return (f"the data has {len(self.mean)} input(s) but the network has {n_inputs}; "
                    "the standardisation cannot be exported with it")
        if self.mean is not None and not all(s > 0 and np.isfinite(s) for s in self.std):
            return "every input's deviation must be a positive number"
        expected = 2 if n_outputs == 1 else n_outputs
        if self.class_names is not None and len(self.class_names) != expected:
            return (f"the data has {len(self.class_names)} classes but the network has "
                    f"{n_outputs} output(s)")
        return None

    def raw_width(self, columns_read: int) -> int:
        """How many raw columns an exported model takes: the data's, when it knows them."""
        known = self.columns if self.mean is None else len(self.mean)
        return max(known or 0, columns_read)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": None if self.mean is None else list(self.mean),
                "std": None if self.std is None else list(self.std),
                "class_names": None if self.class_names is None else list(self.class_names)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preprocessing":
        def floats(v):
            return None if v is None else tuple(float(x) for x in v)
        names = d.get("class_names")
        return cls(floats(d.get("mean")), floats(d.get("std")),
                   None if names is None else tuple(str(c) for c in names))


NONE = Preprocessing()
