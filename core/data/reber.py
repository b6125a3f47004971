"""The embedded Reber grammar, as SNNS ships it for recurrent nets: strings drawn from a small
automaton, one-hot symbols in, the set of symbols that may come next out.

The Reber grammar (Reber 1967; the diagram of Hochreiter & Schmidhuber 1997, fig. 5):

    B -> 1;  1 -T-> 2, 1 -P-> 3;  2 -S-> 2, 2 -X-> 4;  3 -T-> 3, 3 -V-> 5;
    4 -X-> 3, 4 -S-> 6;  5 -P-> 4, 5 -V-> 6;  6 -E-> end

The embedded grammar wraps a Reber string as B T <reber> T E or B P <reber> P E: the
second-to-last symbol repeats the second, across the whole inner string. Predicting the inner
string's next symbols needs only the last few; predicting that one needs memory.
"""
from __future__ import annotations

import numpy as np

from core.data.padding import MAX_STEPS
from core.errors import DataError

SYMBOLS = "BTPSXVE"
_INNER = 8  # states of one copy of the inner automaton, 7 (it has read its E) included

# The inner automaton's transitions from each state: (symbol, next state). State 0 expects
# the inner B; state 7, which has read the inner E, gets its move from the wrapper below.
_REBER = {0: (("B", 1),), 1: (("T", 2), ("P", 3)), 2: (("S", 2), ("X", 4)),
          3: (("T", 3), ("V", 5)), 4: (("X", 3), ("S", 6)), 5: (("P", 4), ("V", 6)),
          6: (("E", 7),)}


def _automaton() -> dict[int, tuple[tuple[str, int], ...]]:
    """The embedded grammar as one automaton: state 0 reads the outer B, state 1 the branch;
    each branch has its own copy of the inner automaton (so the state remembers the branch),
    whose read-E state expects the branch's symbol again, then the outer E ends the string."""
    end = 2 + 2 * _INNER + 1
    table: dict[int, tuple[tuple[str, int], ...]] = {0: (("B", 1),)}
    table[1] = tuple((branch, 2 + i * _INNER) for i, branch in enumerate("TP"))
    for i, branch in enumerate("TP"):
        offset = 2 + i * _INNER
        for state, moves in _REBER.items():
            table[offset + state] = tuple((s, offset + n) for s, n in moves)
        table[offset + 7] = ((branch, end - 1),)
    table[end - 1] = (("E", end),)
    table[end] = ()
    return table


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(symbol index, next state) per (state, choice of two), and the allowed symbols per
    state as 0/1 rows; a state with one move has it as both choices."""
    table = _automaton()
    n = len(table)
    symbol = np.full((n, 2), -1, dtype=np.int64)
    following = np.zeros((n, 2), dtype=np.int64)
    allowed = np.zeros((n, len(SYMBOLS)))
    for state, moves in table.items():
        for choice in range(2):
            if moves:
                s, nxt = moves[choice % len(moves)]
                symbol[state, choice], following[state, choice] = SYMBOLS.index(s), nxt
        for s, _ in moves:
            allowed[state, SYMBOLS.index(s)] = 1.0
    return symbol, following, allowed


_SYMBOL, _NEXT, _ALLOWED = _tables()
_END = len(_SYMBOL) - 1


def embedded_reber(n: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n strings as (x, y, mask): step t's input is the string's t-th symbol one-hot (the last
    symbol, E, is never an input: nothing follows it), its target the symbols the grammar
    allows next as 0/1 (several 1s where there is a choice). Strings differ in length:
    padded at the end and masked. All strings advance together, one symbol per loop turn."""
    state = np.zeros(n, dtype=np.int64)
    symbols, after, steps = [], [], []
    while (state != _END).any():
        if n * len(symbols) > MAX_STEPS:  # long strings are rare, but many strings have some
            raise DataError(f"reber: {n:,} strings padded to {len(symbols):,} steps or more "
                            f"exceed {MAX_STEPS:,} time steps; ask for fewer samples")
        live = state != _END
        choice = rng.integers(0, 2, n)
        symbols.append(_SYMBOL[state, choice])
        state = np.where(live, _NEXT[state, choice], state)
        after.append(state)
        steps.append(live & (state != _END))  # a symbol with a successor: a step
    mask = np.array(steps).T
    longest = int(mask.sum(axis=1).max())
    mask = mask[:, :longest]  # each string's steps are a prefix: its last symbol, E, is not
    x = np.eye(len(SYMBOLS))[np.array(symbols).T[:, :longest]] * mask[..., None]
    y = _ALLOWED[np.array(after).T[:, :longest]] * mask[..., None]
    return x, y, mask
