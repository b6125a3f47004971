"""A minimal observer: the document emits, views listen. No Qt here on purpose."""
from __future__ import annotations

import contextlib
import inspect
import weakref
from typing import Any, Callable, Iterator


class Signal:
    """Calls its listeners in connection order.

    Bound methods are held weakly, so a closed view that forgot to disconnect
    is simply dropped instead of being kept alive (and called) forever.
    """

    def __init__(self) -> None:
        self._slots: list[Callable[[], Callable[..., Any] | None]] = []
        self._blocked = 0

    def connect(self, callback: Callable[..., Any]) -> None:
        if inspect.ismethod(callback):
            ref: Callable[[], Callable[..., Any] | None] = weakref.WeakMethod(callback)
        else:
            ref = _strong(callback)
        if not any(r() == callback for r in self._slots):
            self._slots.append(ref)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._slots = [r for r in self._slots if r() is not None and r() != callback]

    def emit(self, *args: Any) -> None:
        if self._blocked or not self._slots:  # nobody listens: a training step, every step
            return
        alive = []
        for ref in list(self._slots):
            fn = ref()
            if fn is None:
                continue
            alive.append(ref)
            fn(*args)
        if len(alive) != len(self._slots):
            self._slots = [r for r in self._slots if r() is not None]

    @contextlib.contextmanager
    def blocked(self) -> Iterator[None]:
        """Suppress emission inside the block (for bulk edits that emit once at the end)."""
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1

    def __len__(self) -> int:
        return sum(1 for r in self._slots if r() is not None)


def _strong(fn: Callable[..., Any]) -> Callable[[], Callable[..., Any]]:
    return lambda: fn
